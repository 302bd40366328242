/**
 * Panel 5, checkpoints of the current model: save (`save_state`), list with name, step, time and
 * size, restore (continue training from it), delete, download as a PEFT adapter zip, and import a
 * PEFT adapter made elsewhere. Files come from `get_checkpoint_archive_url` (object URLs); zipping
 * and reading zips is peft-zip.ts.
 */
import type { Checkpoint } from '../index';
import { byId, downloadBytes, el, messageOf, setStatus } from './dom';
import type { Lab } from './lab';
import type { RunOrigin } from './run-state';
import { adapterZip, readAdapterUpload } from './peft-zip';
import { formatBytes } from './train-stats';

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export class CheckpointsPanel {
  private readonly status = byId('ckpt-status');
  private readonly rows = byId('ckpt-rows');
  private readonly nameIn = byId<HTMLInputElement>('ckpt-name');
  private readonly save = byId<HTMLButtonElement>('ckpt-save');
  private listing = 0;

  constructor(private readonly lab: Lab) {
    this.save.addEventListener('click', () => void this.saveNow());
    byId('import-go').addEventListener('click', () => void this.importAdapter());
    for (const event of ['model', 'run', 'checkpoints'] as const)
      lab.on(event, () => void this.refresh());
    for (const event of ['run', 'history'] as const) lab.on(event, () => this.sync());
    this.sync();
  }

  private sync(): void {
    this.save.disabled = !this.lab.run;
    this.nameIn.placeholder = `step-${this.lab.run?.policy_version ?? 0}`;
  }

  /** Lists the trainer checkpoints of the current model, newest first. */
  private async refresh(): Promise<void> {
    const ticket = ++this.listing;
    const model = this.lab.modelId;
    if (!model) return;
    let list: Checkpoint[];
    try {
      list = await this.lab.service.list_checkpoints();
    } catch (error) {
      setStatus(this.status, `Could not list checkpoints: ${messageOf(error)}`, 'error');
      return;
    }
    if (ticket !== this.listing) return;
    const mine = list
      .filter((c) => c.base_model === model && c.target === 'trainer')
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    const empty = el('td', {
      colspan: 5,
      class: 'empty',
      text: 'No checkpoints of this model yet.',
    });
    this.rows.replaceChildren(
      ...(mine.length ? mine.map((c) => this.row(c)) : [el('tr', {}, empty)]),
    );
  }

  private row(c: Checkpoint): HTMLTableRowElement {
    const action = (label: string, run: () => Promise<void>) => {
      const b = el('button', {
        type: 'button',
        'aria-label': `${label} ${c.checkpoint_id}`,
        text: label,
      });
      b.addEventListener('click', () => void run());
      return b;
    };
    const del = action('Delete', async () => {
      if (del.dataset['armed'] === 'true') await this.remove(c);
      else armDelete(del, c.checkpoint_id);
    });
    const imported = isImported(c);
    return el(
      'tr',
      { class: c.run_id === this.lab.run?.run_id ? 'current' : undefined, 'data-path': c.path },
      el(
        'td',
        { class: 'name' },
        c.checkpoint_id,
        imported ? el('span', { class: 'tag', text: 'imported' }) : null,
      ),
      // An imported adapter's step is the one its file recorded; "–" when it recorded none.
      el('td', { text: imported && c.step === 0 ? '–' : String(c.step) }),
      el('td', {}, el('time', { datetime: c.created_at, text: short(new Date(c.created_at)) })),
      el('td', { text: formatBytes(c.size_bytes) }),
      el(
        'td',
        { class: 'actions' },
        action('Restore', () => this.restore(c)),
        action('Download', () => this.download(c)),
        del,
      ),
    );
  }

  /** Runs `work`, reports `done` or the error, and lists again. */
  private async guarded(done: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
      setStatus(this.status, done, 'ok');
    } catch (error) {
      setStatus(this.status, messageOf(error), 'error');
    }
    await this.refresh();
  }

  private async saveNow(): Promise<void> {
    const run = this.lab.run;
    if (!run) return;
    const name = this.nameIn.value.trim() || `step-${run.policy_version}`;
    if (!NAME.test(name)) {
      setStatus(this.status, `“${name}”: use 1–128 letters, digits, “_”, “.” or “-”.`, 'error');
      return;
    }
    setStatus(this.status, `Saving “${name}”…`);
    await this.guarded(`Saved “${name}” at step ${run.policy_version}.`, () =>
      this.lab.saveCheckpoint(name),
    );
    this.nameIn.value = '';
  }

  private async restore(c: Checkpoint): Promise<void> {
    if (this.lab.busy) {
      setStatus(this.status, 'Stop training before restoring a checkpoint.', 'error');
      return;
    }
    this.lab.setBusy(true);
    setStatus(this.status, `Restoring “${c.checkpoint_id}”…`);
    const history = c.run_id === this.lab.run?.run_id ? this.lab.history : [];
    const origin: RunOrigin = isImported(c)
      ? { kind: 'imported', name: c.checkpoint_id, stepsBefore: c.step > 0 ? c.step : null }
      : { kind: 'restored', name: c.checkpoint_id };
    try {
      await this.lab.restore(c.path, history, origin);
      // The run's words are run-state.ts's, as in the training panel.
      setStatus(this.status, `Restored ${this.lab.view().summary}.`, 'ok');
    } catch (error) {
      setStatus(
        this.status,
        `Could not restore “${c.checkpoint_id}”: ${messageOf(error)}`,
        'error',
      );
    } finally {
      this.lab.setBusy(false);
    }
    await this.refresh();
  }

  private async remove(c: Checkpoint): Promise<void> {
    await this.guarded(`Deleted “${c.checkpoint_id}”.`, () =>
      this.lab.service.delete_checkpoint(c.path),
    );
  }

  /** The checkpoint's PEFT files, zipped, as a download. */
  private async download(c: Checkpoint): Promise<void> {
    try {
      const archive = await this.lab.service.get_checkpoint_archive_url(c.path);
      const files = await Promise.all(
        archive.presigned_urls.map(async (f) => {
          const bytes = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
          URL.revokeObjectURL(f.url);
          return { name: f.relative_file_name, bytes };
        }),
      );
      const zip = adapterZip(files, c.base_model, c.step);
      const fileName = `${c.base_model.replace(/[^\w.-]+/g, '_')}-${c.checkpoint_id}-lora.zip`;
      downloadBytes(zip, fileName, 'application/zip');
      const size = formatBytes(zip.byteLength);
      setStatus(this.status, `Downloaded ${fileName} (${size}): a PEFT adapter.`, 'ok');
    } catch (error) {
      setStatus(this.status, `Could not download: ${messageOf(error)}`, 'error');
    }
  }

  private async importAdapter(): Promise<void> {
    const picked = [...(byId<HTMLInputElement>('import-files').files ?? [])];
    const name = byId<HTMLInputElement>('import-name').value.trim() || 'imported';
    const model = this.lab.modelId;
    if (!model || picked.length === 0) {
      setStatus(this.status, 'Pick a .zip or the two adapter files first.', 'error');
      return;
    }
    await this.guarded(`Imported “${name}”: restore it to sample from or train it.`, async () => {
      const files = await Promise.all(
        picked.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
      );
      const adapter = readAdapterUpload(files);
      await this.lab.service.import_peft_adapter({
        base_model: model,
        adapter_model: adapter.adapterModel,
        adapter_config: adapter.adapterConfig,
        name,
      });
    });
  }
}

/** Imported adapters live in runs the engine names `imported-…`. */
function isImported(c: Checkpoint): boolean {
  return c.run_id.startsWith('imported-');
}

/** First click arms the button for four seconds; a second click deletes. */
function armDelete(button: HTMLButtonElement, name: string): void {
  button.dataset['armed'] = 'true';
  button.textContent = 'Confirm delete';
  button.setAttribute('aria-label', `Confirm delete ${name}`);
  setTimeout(() => {
    button.dataset['armed'] = 'false';
    button.textContent = 'Delete';
    button.setAttribute('aria-label', `Delete ${name}`);
  }, 4000);
}

/** "21:43" today, "Nov 26 21:43" on other days. */
function short(date: Date): string {
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (date.toDateString() === new Date().toDateString()) return time;
  return `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}
