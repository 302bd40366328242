/**
 * Panel 3, training: the settings (rank, learning rate, steps, batch size, max length), the
 * Start / Pause / Resume / Stop / New run buttons, progress with step, tokens/s and time left, and
 * the live loss chart. The loop itself is train-loop.ts; when a session ends the run is saved as
 * `step-<n>` so that a reload can resume it. The rank box shows the current adapter's rank; while
 * that adapter is fresh and untrained, changing the box replaces it with one of the new rank
 * (run-state.ts), and no other path ever swaps the adapter under the person's feet.
 */
import { byId, messageOf, numberValue, setStatus } from './dom';
import type { Lab } from './lab';
import { initLossChart } from './loss-chart';
import { TrainLoop, type LoopState, type StepEvent, type TrainSettings } from './train-loop';
import { formatDuration } from './train-stats';

const input = (id: string) => byId<HTMLInputElement>(id);
const button = (id: string) => byId<HTMLButtonElement>(id);

export class TrainPanel {
  private readonly rankIn = input('set-rank');
  private readonly lrIn = input('set-lr');
  private readonly stepsIn = input('set-steps');
  private readonly batchIn = input('set-batch');
  private readonly maxIn = input('set-maxlen');
  private readonly start = button('train-start');
  private readonly pause = button('train-pause');
  private readonly resume = button('train-resume');
  private readonly stop = button('train-stop');
  private readonly fresh = button('train-new');
  private readonly progress = byId<HTMLProgressElement>('train-progress');
  private readonly status = byId('train-status');
  private loop: TrainLoop | null = null;
  private state: LoopState | 'idle' = 'idle';
  /** How the last session ended, shown until the run changes; null: the run's own words. */
  private outcome: { text: string; tone: 'ok' | 'error' } | null = null;
  /** A rank change being applied (a fresh adapter of the new rank). */
  private rankChange: Promise<void> | null = null;

  constructor(private readonly lab: Lab) {
    lab.setMaxLength(numberValue(this.maxIn, 128));
    this.maxIn.addEventListener('change', () => lab.setMaxLength(numberValue(this.maxIn, 128)));
    this.start.addEventListener('click', () => void this.runSession());
    this.pause.addEventListener('click', () => this.loop?.pause());
    this.resume.addEventListener('click', () => this.loop?.resume());
    this.stop.addEventListener('click', () => {
      this.loop?.stop();
      setStatus(this.status, 'Stopping after this step…');
    });
    this.fresh.addEventListener('click', () => void this.newRun());
    this.rankIn.addEventListener('change', () => void this.applyRank());
    for (const event of ['run', 'data', 'busy', 'history'] as const)
      lab.on(event, () => this.sync());
    lab.on('run', () => this.onRunChanged());
    initLossChart(lab);
    this.sync();
  }

  /** The rank a fresh adapter gets. */
  rank(): number {
    return numberValue(this.rankIn, 8);
  }

  /**
   * Makes the fresh, untrained adapter match the rank box (a new adapter of that rank). Anything
   * else (a trained, restored or imported adapter) keeps its rank: the box is locked then.
   */
  private applyRank(): Promise<void> {
    this.rankChange ??= (async () => {
      const lab = this.lab;
      const wanted = this.rank();
      const run = lab.run;
      if (!run || lab.busy || !lab.view().rankEditable || run.get_info().lora_rank === wanted)
        return;
      lab.setBusy(true);
      try {
        setStatus(this.status, `Making a fresh rank-${wanted} adapter…`);
        await lab.newRun(wanted);
      } catch (error) {
        this.outcome = { text: `Could not change the rank: ${messageOf(error)}`, tone: 'error' };
      } finally {
        lab.setBusy(false);
      }
    })().finally(() => (this.rankChange = null));
    return this.rankChange;
  }

  private settings(): TrainSettings {
    const steps = numberValue(this.stepsIn, 40);
    return {
      steps,
      batchSize: numberValue(this.batchIn, 8),
      learningRate: numberValue(this.lrIn, 5e-3),
      evalEvery: Math.max(1, Math.ceil(steps / 10)),
      seed: 0,
    };
  }

  /** One training session: the loop, then a `step-<n>` checkpoint. */
  private async runSession(): Promise<void> {
    const lab = this.lab;
    // A rank typed into the box of a fresh adapter is applied first (the click blurred the box).
    await this.applyRank();
    const data = lab.data;
    if (!lab.run || !data || lab.busy) return;
    try {
      lab.setBusy(true);
      this.outcome = null;
      const run = lab.requireRun();
      this.loop = new TrainLoop(run, data.train, data.heldout, this.settings(), {
        onStep: (e) => this.onStep(e),
        onEval: (e) => lab.addPoint({ step: e.step, train: null, heldout: e.heldoutLoss }),
        onState: (s) => this.onState(s),
      });
      this.state = 'running';
      this.progress.value = 0;
      setStatus(this.status, 'Measuring the held-out loss, then training…');
      this.sync();
      const ended = await this.loop.run();
      const name = `step-${run.policy_version}`;
      await lab.saveCheckpoint(name);
      const verb = ended === 'done' ? 'Finished' : 'Stopped';
      const text = `${verb} at step ${run.policy_version}; saved as “${name}”.`;
      this.outcome = { text, tone: 'ok' };
    } catch (error) {
      this.state = 'failed';
      this.outcome = { text: `Training failed: ${messageOf(error)}`, tone: 'error' };
    } finally {
      this.loop = null;
      if (this.state === 'running' || this.state === 'paused') this.state = 'stopped';
      lab.setBusy(false);
      this.sync();
    }
  }

  private async newRun(): Promise<void> {
    this.lab.setBusy(true);
    try {
      await this.lab.newRun(this.rank());
    } catch (error) {
      this.outcome = { text: `Could not start a new run: ${messageOf(error)}`, tone: 'error' };
    } finally {
      this.lab.setBusy(false);
    }
  }

  private onStep(e: StepEvent): void {
    this.lab.addPoint({ step: e.step, train: e.trainLoss, heldout: null });
    this.progress.max = e.total;
    this.progress.value = e.index;
    byId('stat-speed').textContent = Math.round(e.tokensPerSecond).toLocaleString('en');
    byId('stat-eta').textContent = formatDuration(e.etaSeconds);
    setStatus(
      this.status,
      `Step ${e.index} of ${e.total}: loss ${e.trainLoss.toFixed(3)}, ${Math.round(e.stepMs)} ms.`,
    );
    this.sync();
  }

  private onState(state: LoopState): void {
    this.state = state;
    if (state === 'paused') setStatus(this.status, 'Paused. Resume to go on, or Stop.');
    this.sync();
  }

  /** A new run (fresh, restored, imported): its own words, its rank in the box, no old outcome. */
  private onRunChanged(): void {
    if (this.loop) return;
    this.state = 'idle';
    this.outcome = null;
    this.progress.value = 0;
    const run = this.lab.run;
    if (run) this.rankIn.value = String(run.get_info().lora_rank);
    this.sync();
  }

  /** Buttons, inputs, figures and the status line from the current state. */
  private sync(): void {
    const { run, data, busy, history } = this.lab;
    const view = this.lab.view();
    const active = this.state === 'running' || this.state === 'paused';
    this.start.disabled = active || busy || !run || !data || data.train.length === 0;
    this.start.textContent = view.startLabel;
    this.pause.disabled = this.state !== 'running';
    this.resume.disabled = this.state !== 'paused';
    this.stop.disabled = !active;
    this.fresh.disabled = active || busy || !run || view.rankEditable;
    this.rankIn.disabled = active || busy || !view.rankEditable;
    byId('rank-note').hidden = view.rankEditable;
    if (!active && !busy) {
      if (this.outcome) setStatus(this.status, this.outcome.text, this.outcome.tone);
      else setStatus(this.status, view.status);
    }
    byId('stat-step').textContent = String(run?.policy_version ?? 0);
    const latest = (key: 'train' | 'heldout') =>
      [...history]
        .reverse()
        .find((p) => p[key] !== null)
        ?.[key]?.toFixed(3) ?? '–';
    byId('stat-loss').textContent = latest('train');
    byId('stat-heldout').textContent = latest('heldout');
    document.body.dataset['trainState'] = this.state;
  }
}
