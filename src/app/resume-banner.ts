/**
 * After a reload: when localStorage remembers a run whose checkpoint is still in the engine's
 * IndexedDB, offer to resume it (model, optimizer state, data and loss chart). Declining forgets
 * the record. The record is last-run.ts; restoring is `Lab.restore`.
 */
import type { DataPanel } from './data-panel';
import { byId, messageOf } from './dom';
import type { Lab } from './lab';
import { clearLastRun, loadLastRun, type LastRun } from './last-run';

export async function initResumeBanner(lab: Lab, data: DataPanel): Promise<void> {
  const record = loadLastRun(localStorage);
  if (!record) return;
  const stored = await lab.service.list_checkpoints(record.runId).catch(() => []);
  if (!stored.some((c) => c.path === record.statePath)) {
    clearLastRun(localStorage);
    return;
  }
  const banner = byId('resume-banner');
  const text = byId('resume-text');
  text.textContent = describe(record);
  banner.hidden = false;
  const resume = byId<HTMLButtonElement>('resume-run');
  const dismiss = byId<HTMLButtonElement>('resume-dismiss');
  const sync = () => (resume.disabled = lab.busy);
  lab.on('busy', sync);
  sync();

  dismiss.addEventListener('click', () => {
    clearLastRun(localStorage);
    banner.hidden = true;
  });
  resume.addEventListener('click', async () => {
    resume.disabled = true;
    dismiss.disabled = true;
    text.textContent = `Restoring ${record.baseModel} at step ${record.step}…`;
    lab.setBusy(true);
    try {
      const name = record.statePath.slice(record.statePath.lastIndexOf('/') + 1);
      await lab.restore(record.statePath, record.history, { kind: 'restored', name });
      if (record.rl) {
        lab.setRewardHistory(record.rl.history);
        lab.setMode('rl');
      }
      if (record.dataset) await data.use(record.dataset);
      banner.hidden = true;
      byId('train-panel').focus();
    } catch (error) {
      text.textContent = `Could not resume: ${messageOf(error)}`;
      dismiss.disabled = false;
    } finally {
      lab.setBusy(false);
    }
  });
}

function describe(r: LastRun): string {
  const when = new Date(r.savedAt).toLocaleString(undefined, {
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
  });
  const data = r.dataset?.source === 'demo' ? r.dataset.id : (r.dataset?.name ?? 'your data');
  return `Your last run: ${r.baseModel} with a rank-${r.rank} adapter on ${data}, saved at step ${r.step} (${when}).`;
}
