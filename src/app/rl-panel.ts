/**
 * Panel 3 in RL mode: the prompt set, the sampling and loss settings, the reward (rl-reward-view.ts)
 * and Start / Pause / Resume / Stop. A session is rl-session.ts over the current run (the same
 * adapter SFT trains, so checkpoints, downloads and reload-resume work as in SFT); the curve is
 * rl-chart.ts, the tables rl-results.ts. Before the first step and after the last, the policy
 * answers the first prompts with a fixed seed (rl-compare.ts), so the student sees what the
 * session changed.
 */
import { AdamParams, type TrainingClient } from '../index';
import type { GroupReward, RlLoss, RlStepResult, RlStepSettings } from '../recipes/rl-step';
import { byId, messageOf, numberValue, setStatus } from './dom';
import type { Lab, TrainMode } from './lab';
import { initRewardChart } from './rl-chart';
import { COMPARE_SEED, compareAnswers } from './rl-compare';
import { parsePrompts, shippedPrompts } from './rl-prompts';
import { compareTable, groupTable, type CompareRow } from './rl-results';
import { RewardView } from './rl-reward-view';
import { RlSession, type RlState } from './rl-session';

const input = (id: string) => byId<HTMLInputElement>(id);
const button = (id: string) => byId<HTMLButtonElement>(id);

export { parsePrompts, SHIPPED_PROMPTS } from './rl-prompts';

export class RlPanel {
  private readonly start = button('rl-start');
  private readonly pause = button('rl-pause');
  private readonly resume = button('rl-resume');
  private readonly stop = button('rl-stop');
  private readonly status = byId('rl-status');
  private readonly results = byId('rl-results');
  private readonly rewards = new RewardView();
  private session: RlSession | null = null;
  private state: RlState | 'idle' = 'idle';
  private latest: HTMLElement | null = null;
  private compare: HTMLElement | null = null;
  /** Pause pressed before the session's first step (while the "before" answers are sampled). */
  private pauseEarly = false;

  constructor(private readonly lab: Lab) {
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="train-mode"]'))
      radio.addEventListener('change', () => lab.setMode(radio.value as TrainMode));
    byId('rl-prompts').addEventListener('change', () => {
      byId('rl-prompts-text').hidden = byId<HTMLSelectElement>('rl-prompts').value !== 'pasted';
    });
    byId('rl-loss').addEventListener('change', () => this.showLossSettings(true));
    this.start.addEventListener('click', () => void this.runSession());
    this.pause.addEventListener('click', () => {
      if (this.session) this.session.pause();
      else this.pauseEarly = true;
    });
    this.resume.addEventListener('click', () => {
      setStatus(this.status, 'Resuming…');
      this.session?.resume();
    });
    this.stop.addEventListener('click', () => {
      this.session?.stop();
      setStatus(this.status, 'Stopping after this step…');
    });
    for (const event of ['run', 'busy', 'mode', 'history'] as const)
      lab.on(event, () => this.sync());
    lab.on('run', () => {
      if (this.session) return;
      this.results.replaceChildren();
      this.latest = this.compare = null;
    });
    initRewardChart(lab);
    this.showLossSettings(false);
    this.sync();
  }

  private showLossSettings(defaults: boolean): void {
    const loss = byId<HTMLSelectElement>('rl-loss').value;
    for (const field of byId('rl-form').querySelectorAll<HTMLElement>('[data-loss]'))
      field.hidden = !(field.dataset['loss'] ?? '').split(' ').includes(loss);
    // The Loops defaults of each loss's thresholds (shared/LOOPS_API.md).
    if (defaults && (loss === 'ppo' || loss === 'cispo')) {
      input('rl-clip-low').value = loss === 'ppo' ? '0.8' : '0';
      input('rl-clip-high').value = loss === 'ppo' ? '1.2' : '4';
    }
  }

  private settings(): RlStepSettings {
    const lossFn = byId<HTMLSelectElement>('rl-loss').value as RlLoss;
    const lossConfig: Record<string, number> =
      lossFn === 'ppo' || lossFn === 'cispo'
        ? {
            clip_low_threshold: numberValue(input('rl-clip-low'), 0.8),
            clip_high_threshold: numberValue(input('rl-clip-high'), 1.2),
          }
        : lossFn === 'dro'
          ? { beta: numberValue(input('rl-beta'), 0.05) }
          : {};
    return {
      groupSize: numberValue(input('rl-group'), 8),
      batchSize: numberValue(input('rl-batch'), 4),
      maxTokens: numberValue(input('rl-max'), 24),
      temperature: numberValue(input('rl-temp'), 1),
      seed: 0,
      lossFn,
      lossConfig,
      // The recipe's Adam (examples/rl-loop.ts): β 0.9/0.95, eps 1e-8, constant learning rate.
      adam: new AdamParams({
        learning_rate: numberValue(input('rl-lr'), 2e-3),
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
      }),
    };
  }

  private async prompts(): Promise<string[]> {
    if (byId<HTMLSelectElement>('rl-prompts').value === 'pasted')
      return parsePrompts(byId<HTMLTextAreaElement>('rl-prompts-text').value);
    return shippedPrompts();
  }

  private async runSession(): Promise<void> {
    const lab = this.lab;
    const run = lab.run;
    const tokenizer = lab.tokenizer;
    if (!run || !tokenizer || lab.busy) return;
    let prompts: string[];
    try {
      prompts = await this.prompts();
      await this.rewards.reward(); // a reward that cannot be used is said now, before any sampling
    } catch (error) {
      setStatus(this.status, `Cannot start: ${messageOf(error)}`, 'error');
      return;
    }
    const settings = this.settings();
    lab.setBusy(true);
    this.state = 'running';
    this.sync();
    try {
      setStatus(this.status, 'Sampling “before” answers…');
      const rows = await this.answers(run, prompts, settings, null);
      this.showCompare(rows);
      const steps = numberValue(input('rl-steps'), 20);
      const firstStep = lab.rlHistory[lab.rlHistory.length - 1]?.step ?? 0;
      this.session = new RlSession(
        run,
        tokenizer,
        { prompts, settings, steps, firstStep, reward: () => this.rewards.reward() },
        {
          onStep: (result, seconds) => this.onStep(result, seconds, firstStep + steps),
          onState: (state) => this.onState(state),
          onRewardError: (message) =>
            setStatus(
              this.status,
              `Paused, nothing trained: ${message} Fix it and Resume, or Stop.`,
              'error',
            ),
        },
      );
      if (this.pauseEarly) this.session.pause();
      setStatus(this.status, `RL with ${this.rewards.describe()}: sampling step ${firstStep + 1}…`);
      const ended = await this.session.run();
      setStatus(this.status, 'Sampling “after” answers…');
      this.showCompare(await this.answers(run, prompts, settings, rows));
      const name = `step-${run.policy_version}`;
      await lab.saveCheckpoint(name);
      const last = lab.rlHistory[lab.rlHistory.length - 1];
      setStatus(
        this.status,
        `${ended === 'done' ? 'Finished' : 'Stopped'} at RL step ${last?.step ?? 0} (policy version ${run.policy_version}); saved as “${name}”.`,
        'ok',
      );
    } catch (error) {
      this.state = 'failed';
      setStatus(this.status, `RL failed: ${messageOf(error)}`, 'error');
    } finally {
      this.session = null;
      this.pauseEarly = false;
      // The session's callbacks change the state: TypeScript cannot see that here.
      const state = this.state as RlState | 'idle';
      if (state === 'running' || state === 'paused') this.state = 'stopped';
      lab.setBusy(false);
      this.sync();
    }
  }

  /** The before/after answers (rl-compare.ts), scored by the reward when it can be used. */
  private async answers(
    run: TrainingClient,
    prompts: readonly string[],
    settings: RlStepSettings,
    before: readonly CompareRow[] | null,
  ): Promise<CompareRow[]> {
    const tokenizer = this.lab.tokenizer;
    if (!tokenizer) return [];
    let reward: GroupReward | null = null;
    try {
      reward = await this.rewards.reward();
    } catch {
      // Shown without a reward; the session reports the reward's problem.
    }
    return compareAnswers(run, tokenizer, prompts, settings, reward, before);
  }

  private showCompare(rows: readonly CompareRow[]): void {
    this.compare = compareTable(rows, COMPARE_SEED);
    this.results.replaceChildren(
      ...[this.latest, this.compare].filter((n): n is HTMLElement => !!n),
    );
  }

  private onStep(result: RlStepResult, seconds: number, lastStep: number): void {
    this.lab.addRewardPoint({
      step: result.step,
      mean: result.meanReward,
      std: result.rewardStd,
      loss: result.lossPerToken,
      seconds,
    });
    this.latest = groupTable(result);
    this.results.replaceChildren(
      ...[this.latest, this.compare].filter((n): n is HTMLElement => !!n),
    );
    byId('rl-stat-step').textContent = String(result.step);
    byId('rl-stat-reward').textContent = result.meanReward.toFixed(3);
    byId('rl-stat-std').textContent = result.rewardStd.toFixed(3);
    byId('rl-stat-loss').textContent = result.lossPerToken?.toFixed(4) ?? '–';
    byId('rl-stat-time').textContent = `${seconds.toFixed(1)} s`;
    setStatus(
      this.status,
      `RL step ${result.step} of ${lastStep}: mean reward ${result.meanReward.toFixed(3)} ± ${result.rewardStd.toFixed(3)}, ` +
        `${result.datums} completions trained, ${result.skippedGroups} groups without signal.`,
    );
    this.sync();
  }

  private onState(state: RlState): void {
    this.state = state;
    if (state === 'paused' && !this.status.classList.contains('error'))
      setStatus(this.status, 'Paused. Resume to go on, or Stop.');
    this.sync();
  }

  private sync(): void {
    const { run, busy, mode } = this.lab;
    byId('rl-view').hidden = mode !== 'rl';
    byId('sft-view').hidden = mode === 'rl';
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="train-mode"]')) {
      radio.checked = radio.value === mode;
      radio.disabled = busy;
    }
    const active = this.state === 'running' || this.state === 'paused';
    this.start.disabled = active || busy || !run;
    this.pause.disabled = this.state !== 'running';
    this.resume.disabled = this.state !== 'paused';
    this.stop.disabled = !active;
    this.rewards.setEnabled(!active || this.state === 'paused');
    byId('rl-adapter').textContent = run
      ? `RL trains the current adapter: ${this.lab.view().summary}. Its rank is set in SFT mode (“New run”).`
      : '';
    if (!active && !this.session && this.status.textContent === '')
      setStatus(this.status, run ? 'Press Start RL.' : 'Load a model (panel 1) to begin.');
    byId('rl-stat-step').textContent = String(this.lab.rlHistory.at(-1)?.step ?? 0);
    document.body.dataset['rlState'] = this.state;
  }
}
