/**
 * Panel 3, training: the settings (rank, learning rate, steps, batch size, max length), the
 * Start / Pause / Resume / Stop / New run buttons, progress with step, tokens/s and time left, and
 * the live loss chart. The loop itself is train-loop.ts; when a session ends the run is saved as
 * `step-<n>` so that a reload can resume it.
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
    const data = lab.data;
    if (!lab.run || !data) return;
    try {
      lab.setBusy(true);
      if (lab.run.policy_version === 0 && lab.run.get_info().lora_rank !== this.rank()) {
        setStatus(this.status, `Making a rank-${this.rank()} adapter…`);
        await lab.newRun(this.rank());
      }
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
      setStatus(this.status, `${verb} at step ${run.policy_version}; saved as “${name}”.`, 'ok');
    } catch (error) {
      this.state = 'failed';
      setStatus(this.status, `Training failed: ${messageOf(error)}`, 'error');
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
      this.state = 'idle';
      this.progress.value = 0;
      setStatus(this.status, 'New run: a fresh adapter (the model is unchanged until you train).');
    } catch (error) {
      setStatus(this.status, `Could not start a new run: ${messageOf(error)}`, 'error');
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

  private onRunChanged(): void {
    if (this.loop) return;
    this.state = 'idle';
    this.progress.value = 0;
    const run = this.lab.run;
    if (run && run.policy_version > 0)
      setStatus(this.status, `Run at step ${run.policy_version}. Continue training, or try it.`);
  }

  /** Buttons, inputs and figures from the current state. */
  private sync(): void {
    const { run, data, busy, history } = this.lab;
    const trained = (run?.policy_version ?? 0) > 0;
    const active = this.state === 'running' || this.state === 'paused';
    this.start.disabled = active || busy || !run || !data || data.train.length === 0;
    this.start.textContent = trained ? 'Continue training' : 'Start';
    this.pause.disabled = this.state !== 'running';
    this.resume.disabled = this.state !== 'paused';
    this.stop.disabled = !active;
    this.fresh.disabled = active || busy || !trained;
    this.rankIn.disabled = trained || active;
    byId('rank-note').hidden = !trained;
    if (run && trained && !active) this.rankIn.value = String(run.get_info().lora_rank);
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
