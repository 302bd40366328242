/**
 * The lab's training loop, a flat supervised recipe over the public client (the Tinker cookbook's
 * `sl_loop`): each step submits `forward_backward` (cross_entropy) and `optim_step` (Adam, constant
 * learning rate) back to back, then awaits both. Held-out loss (mean NLL per supervised token,
 * with `forward`, no gradient) is measured when the session starts, every `evalEvery` steps and at
 * the end. Between steps the loop can pause (it waits), resume, or stop (it ends after the step in
 * flight). All the work runs in the engine worker; this loop only awaits, so the page stays
 * responsive. Drawing and buttons are train-panel.ts's job.
 */
import { AdamParams } from '../index';
import type { Datum } from '../index';
import { BatchSchedule, batchTokens, meanNll, weightedNll } from './batching';
import { SpeedMeter, type SpeedReport } from './train-stats';
import { PauseGate } from './pause-gate';

interface LogprobsOutput {
  readonly loss_fn_outputs: readonly { readonly logprobs: { readonly data: ArrayLike<number> } }[];
}

/** What the loop needs of a `TrainingClient`. */
export interface TrainerPort {
  forward_backward(data: Datum[], loss_fn: string): PromiseLike<LogprobsOutput>;
  forward(data: Datum[], loss_fn: string): PromiseLike<LogprobsOutput>;
  optim_step(adam: AdamParams): PromiseLike<{ metrics: Readonly<Record<string, number>> }>;
  readonly policy_version: number;
}

export interface TrainSettings {
  /** Optimiser steps in this session. */
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Held-out loss every this many steps (and at the start and end). */
  readonly evalEvery: number;
  /** Shuffle seed of the batch order. */
  readonly seed: number;
}

export interface StepEvent extends SpeedReport {
  /** The run's optimiser step after this one (its policy version). */
  readonly step: number;
  /** 1-based index of the step in this session. */
  readonly index: number;
  readonly total: number;
  /** Mean NLL per supervised token of this step's batch, before the update (nats). */
  readonly trainLoss: number;
  readonly tokens: number;
  readonly gradNorm: number | null;
}

export interface EvalEvent {
  readonly step: number;
  readonly heldoutLoss: number;
}

export interface LoopListener {
  onStep?(event: StepEvent): void;
  onEval?(event: EvalEvent): void;
  onState?(state: LoopState): void;
}

export type LoopState = 'running' | 'paused' | 'done' | 'stopped' | 'failed';

export class TrainLoop {
  private readonly gate = new PauseGate((state) => this.setState(state));
  private current: LoopState = 'running';

  constructor(
    private readonly port: TrainerPort,
    private readonly train: readonly Datum[],
    private readonly heldout: readonly Datum[],
    private readonly settings: TrainSettings,
    private readonly listener: LoopListener = {},
  ) {
    if (train.length === 0) throw new RangeError('there is no training example to train on.');
  }

  get state(): LoopState {
    return this.current;
  }

  /** Runs the session; resolves with how it ended ('done' or 'stopped'). */
  async run(): Promise<LoopState> {
    const { steps, batchSize, learningRate, evalEvery, seed } = this.settings;
    const schedule = new BatchSchedule(this.train.length, batchSize, seed);
    const speed = new SpeedMeter();
    const adam = new AdamParams({ learning_rate: learningRate });
    try {
      await this.evaluate();
      for (let index = 1; index <= steps; index++) {
        if (await this.gate.shouldStop()) return this.finish('stopped');
        const started = performance.now();
        const batch = schedule.batchAt(this.port.policy_version).map((i) => this.train[i] as Datum);
        const fb = this.port.forward_backward(batch, 'cross_entropy');
        const opt = this.port.optim_step(adam);
        const [out, optimised] = [await fb, await opt];
        const tokens = batchTokens(batch);
        const report = speed.record(performance.now() - started, tokens, steps - index);
        this.listener.onStep?.({
          ...report,
          step: this.port.policy_version,
          index,
          total: steps,
          trainLoss: meanNll(
            out.loss_fn_outputs.map((o) => o.logprobs.data),
            batch,
          ),
          tokens,
          gradNorm: optimised.metrics['grad_norm'] ?? null,
        });
        if (index % evalEvery === 0 && index < steps) await this.evaluate();
      }
      await this.evaluate();
      return this.finish('done');
    } catch (error) {
      this.setState('failed');
      throw error;
    }
  }

  /** Asks the loop to wait after the step in flight. */
  pause(): void {
    if (this.current === 'running') this.gate.pause();
  }

  resume(): void {
    this.gate.resume();
  }

  /** Asks the loop to end after the step in flight (or at once when paused). */
  stop(): void {
    this.gate.stop();
  }

  /** Mean held-out NLL over every held-out datum, in batches of the training batch size. */
  private async evaluate(): Promise<void> {
    if (this.heldout.length === 0) return;
    let nll = 0;
    let weight = 0;
    const size = Math.max(1, this.settings.batchSize);
    for (let start = 0; start < this.heldout.length; start += size) {
      const batch = this.heldout.slice(start, start + size);
      const out = await this.port.forward(batch, 'cross_entropy');
      const part = weightedNll(
        out.loss_fn_outputs.map((o) => o.logprobs.data),
        batch,
      );
      nll += part.nll;
      weight += part.weight;
    }
    if (weight > 0)
      this.listener.onEval?.({ step: this.port.policy_version, heldoutLoss: nll / weight });
  }

  private finish(state: LoopState): LoopState {
    this.setState(state);
    return state;
  }

  private setState(state: LoopState): void {
    this.current = state;
    this.listener.onState?.(state);
  }
}
