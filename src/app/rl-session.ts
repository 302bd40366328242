/**
 * The lab's RL session: `rlStep` (src/recipes/rl-step.ts, the loop examples/rl-loop.ts runs) step
 * after step, with pause, resume and stop between steps, as train-loop.ts does for SFT. When the
 * reward fails (a code reward that throws, runs past its time limit or returns a non-number; a
 * menu term that cannot be used) nothing is trained: the session pauses with the message, and
 * Resume retries the same step with the reward as it is then (the student may have fixed it).
 * Drawing and buttons are rl-panel.ts's job.
 */
import type { Tokenizer, TrainingClient } from '../index';
import {
  rlStep,
  type GroupReward,
  type RlStepResult,
  type RlStepSettings,
} from '../recipes/rl-step';
import { PauseGate } from './pause-gate';

export type RlState = 'running' | 'paused' | 'done' | 'stopped' | 'failed';

export interface RlListener {
  onStep?(result: RlStepResult, seconds: number): void;
  onState?(state: RlState): void;
  /** The reward failed on a step; the session is paused until Resume or Stop. */
  onRewardError?(message: string): void;
}

export interface RlSessionOptions {
  readonly prompts: readonly string[];
  readonly settings: RlStepSettings;
  /** Steps in this session. */
  readonly steps: number;
  /** The 0-based index of the first step (a continued run goes on with the next prompts). */
  readonly firstStep: number;
  /** The reward as it is now; asked again when a paused step is retried. */
  readonly reward: () => Promise<GroupReward>;
}

export class RlSession {
  private readonly gate = new PauseGate((state) => this.setState(state));
  private current: RlState = 'running';

  constructor(
    private readonly tc: TrainingClient,
    private readonly tokenizer: Tokenizer,
    private readonly options: RlSessionOptions,
    private readonly listener: RlListener = {},
  ) {
    if (options.prompts.length === 0) throw new RangeError('there is no prompt to sample from.');
  }

  get state(): RlState {
    return this.current;
  }

  /** Runs the session; resolves with how it ended ('done' or 'stopped'). */
  async run(): Promise<RlState> {
    const { steps, firstStep, prompts, settings } = this.options;
    try {
      for (let index = 0; index < steps;) {
        if (await this.gate.shouldStop()) return this.finish('stopped');
        const started = performance.now();
        let result: RlStepResult;
        try {
          const reward = await this.options.reward();
          result = await rlStep(
            this.tc,
            this.tokenizer,
            prompts,
            firstStep + index,
            settings,
            reward,
          );
        } catch (error) {
          if (!isRewardFailure(error)) throw error;
          this.listener.onRewardError?.((error as Error).message);
          this.gate.pause();
          continue; // the same step again after Resume (or the end after Stop)
        }
        this.listener.onStep?.(result, (performance.now() - started) / 1000);
        index++;
      }
      return this.finish('done');
    } catch (error) {
      this.setState('failed');
      throw error;
    }
  }

  pause(): void {
    if (this.current === 'running') this.gate.pause();
  }

  resume(): void {
    this.gate.resume();
  }

  stop(): void {
    this.gate.stop();
  }

  private finish(state: RlState): RlState {
    this.setState(state);
    return state;
  }

  private setState(state: RlState): void {
    this.current = state;
    this.listener.onState?.(state);
  }
}

/** A reward that failed (RewardError from the step, CodeRewardError from the sandbox). */
function isRewardFailure(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'RewardError' || name === 'CodeRewardError';
}
