/**
 * A training run: a LoRA adapter on a shared base model, its gradient buffer, its AdamW state and
 * its policy version (= optimiser steps taken). Ops arrive already ordered (op-queue.ts) and
 * validated on the page; the checks here are the engine's own guard against malformed data.
 *
 * forward_backward and optim_step record their work and return at once with a `Later`: what they
 * report (loss, metrics, log-probs, gradient norm) stays on the device in the run's read batch
 * until `flushReads`, which reads everything queued in one transfer (runs.ts flushes when the
 * run's queue goes idle). A pipelined forward_backward + optim_step pair is one readback.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';
import type { LoraAdapter, LoraConfig } from '../lora/adapter';
import { CausalLM } from '../model/causal-lm';
import { takesGradHint } from '../model/target-logprobs';
import { getLoss, resolveLossConfig } from '../losses/registry';
import type { LossConfig, LossSpec, LossTensors } from '../losses/loss-spec';
import { AdamW, resolveAdamParams, type AdamWState } from '../optim/adamw';
import { GradientBuffer } from '../optim/gradient-buffer';
import { ReadBatch } from '../runtime/webgpu/read-together';
import type { AdamWire, WireDatum, WireForwardResult } from '../protocol/wire-types';
import { buildBatch, disposeBatch, splitRows, type Batch } from './batch';
import type { LoadedModel } from './model-registry';
import { Later } from './op-queue';

/** The target id that marks a position to ignore. */
const IGNORE = -100;

export class Run {
  adapter: LoraAdapter;
  model: CausalLM;
  private optimizer = new AdamW();
  private buffer: GradientBuffer;
  private readonly reads = new ReadBatch();

  constructor(
    readonly id: string,
    readonly base: LoadedModel,
    adapter: LoraAdapter,
    readonly maxSeqLen: number,
    readonly seed: number,
  ) {
    this.adapter = adapter;
    this.model = new CausalLM(base.config, base.weights, adapter);
    this.buffer = new GradientBuffer(adapter.variables);
  }

  get policyVersion(): number {
    return this.optimizer.stepCount;
  }

  get loraConfig(): LoraConfig {
    return this.adapter.config;
  }

  /** Forward, and with `backward` the gradient of the summed loss added to the buffer. */
  async forwardBackward(
    data: readonly WireDatum[],
    lossFn: string,
    config: Record<string, number>,
    backward: boolean,
  ): Promise<WireForwardResult> {
    const later = this.forwardBackwardLater(data, lossFn, config, backward);
    await this.flushReads();
    return later.result;
  }

  /** `forwardBackward` whose result arrives with the next `flushReads`. */
  forwardBackwardLater(
    data: readonly WireDatum[],
    lossFn: string,
    config: Record<string, number>,
    backward: boolean,
  ): Later<WireForwardResult> {
    this.checkData(data);
    const spec = getLoss(lossFn);
    const cfg = resolveLossConfig(lossFn, config);
    const batch = buildBatch(data);
    let lp: tf.Tensor1D;
    let metricTensors: Record<string, tf.Scalar>;
    try {
      const inputs = batch.inputs as unknown as LossTensors;
      if (backward) {
        lp = this.accumulateGradients(batch, spec, inputs, cfg);
      } else {
        lp = tf.tidy(() => this.flatLogprobs(batch));
      }
      metricTensors = spec.metrics(lp, inputs, cfg);
    } finally {
      disposeBatch(batch);
    }
    const keys = Object.keys(metricTensors);
    const tensors = [...keys.map((k) => metricTensors[k] as tf.Scalar), lp];
    const numTokens = batch.lengths.reduce((a, b) => a + b, 0);
    const result = this.reads.add(tensors).then((buffers) => {
      const metrics: Record<string, number> = {};
      keys.forEach((key, i) => (metrics[key] = new Float32Array(buffers[i]!)[0] ?? Number.NaN));
      const flat = new Float32Array(buffers[keys.length]!);
      metrics['num_tokens:sum'] = numTokens;
      return { loss: metrics['loss:sum'] ?? Number.NaN, metrics, logprobs: splitRows(flat, batch) };
    });
    return new Later(result.finally(() => tf.dispose(tensors)));
  }

  /** Adds the gradient of −Σ w·lp (weights per datum and position) to the buffer. */
  async backwardWeighted(
    data: readonly WireDatum[],
    weights: readonly Float32Array[],
  ): Promise<void> {
    this.checkData(data);
    const batch = buildBatch(
      data.map((d, i) => ({ ...d, inputs: { ...d.inputs, weights: weights[i] as Float32Array } })),
    );
    try {
      // −Σ w·lp is cross_entropy with these weights (its gradient hint included).
      const inputs = batch.inputs as unknown as LossTensors;
      const spec = getLoss('cross_entropy');
      this.accumulateGradients(
        batch,
        spec,
        inputs,
        resolveLossConfig('cross_entropy', {}),
      ).dispose();
    } finally {
      disposeBatch(batch);
    }
  }

  /** AdamW on the accumulated gradient, then zero it; the policy version advances by one. */
  async optimStep(adam: AdamWire): Promise<Record<string, number>> {
    const later = this.optimStepLater(adam);
    await this.flushReads();
    return later.result;
  }

  /** `optimStep` whose metrics arrive with the next `flushReads`. */
  optimStepLater(adam: AdamWire): Later<Record<string, number>> {
    const hp = resolveAdamParams(adam);
    const arena = this.buffer.deviceSums();
    let update;
    if (arena) {
      update = this.optimizer.update(this.adapter.variables, arena, hp);
      this.buffer.zero(true);
    } else {
      const grads = this.buffer.get();
      try {
        update = this.optimizer.update(this.adapter.variables, grads, hp);
        this.buffer.zero();
      } finally {
        tf.dispose(grads);
      }
    }
    const { gradNorm, step } = update;
    const result = this.reads.add([gradNorm]).then(([buffer]) => {
      const grad_norm = new Float32Array(buffer!)[0] ?? Number.NaN;
      return { step, learning_rate: hp.learning_rate, lr: hp.learning_rate, grad_norm };
    });
    return new Later(result.finally(() => gradNorm.dispose()));
  }

  /** Reads everything queued by earlier ops in one transfer; resolves when all reads are done. */
  flushReads(): Promise<void> {
    return this.reads.flush();
  }

  /**
   * Replaces the adapter (`init_trainer_server`, `load_state`, `load_state_with_optimizer`): the
   * gradient buffer is dropped and the optimizer starts fresh (step 0, zero moments), or from
   * `optimizerState`, which must fit the new adapter (checked before anything changes). The run
   * takes the adapter's shape, whatever the old one's rank or targets.
   */
  replaceAdapter(adapter: LoraAdapter, optimizerState: AdamWState | null): void {
    if (optimizerState) checkOptimizerFits(optimizerState, adapter.variables);
    this.buffer.dispose();
    this.adapter.dispose();
    this.optimizer.dispose();
    this.adapter = adapter;
    this.model = new CausalLM(this.base.config, this.base.weights, adapter);
    this.buffer = new GradientBuffer(adapter.variables);
    this.optimizer = optimizerState ? AdamW.fromState(optimizerState) : new AdamW();
  }

  /** Resumes the optimizer from a checkpoint's state (a run created from `save_state`). */
  importOptimizer(state: AdamWState): void {
    checkOptimizerFits(state, this.adapter.variables);
    this.optimizer.importState(state);
  }

  exportOptimizer(): Promise<AdamWState> {
    return this.optimizer.exportState();
  }

  dispose(): void {
    this.buffer.dispose();
    this.optimizer.dispose();
    this.adapter.dispose();
  }

  /**
   * Adds ∂loss/∂(adapter) to the gradient buffer, loss = spec.compute(lp); returns lp [B·T] (the
   * caller's). A loss whose ∂L/∂lp is known before the forward passes it as the gradient hint.
   */
  private accumulateGradients(
    batch: Batch,
    spec: LossSpec,
    inputs: LossTensors,
    cfg: LossConfig,
  ): tf.Tensor1D {
    const hint = takesGradHint() ? (spec.lpGradient?.(inputs, cfg) ?? null) : null;
    let kept = null as tf.Tensor1D | null;
    let step: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      step = tf.variableGrads(() => {
        const flat = this.flatLogprobs(batch, hint);
        kept = tf.keep(flat);
        return spec.compute(flat, inputs, cfg);
      }, this.adapter.variables);
    } catch (error) {
      kept?.dispose();
      throw error;
    } finally {
      hint?.dispose();
    }
    this.buffer.add(step.grads);
    tf.dispose([step.value, ...Object.values(step.grads)]);
    return kept as unknown as tf.Tensor1D;
  }

  /** lp [B·T]; `hint` [B·T]: the loss's ∂L/∂lp when known before the forward (or null). */
  private flatLogprobs(batch: Batch, hint: tf.Tensor1D | null = null): tf.Tensor1D {
    const gradHint = hint ? (tf.reshape(hint, batch.targets.shape) as tf.Tensor2D) : undefined;
    const lp = this.model.targetLogprobs(batch.tokens, batch.targets, gradHint); // [B, T]
    return tf.reshape(lp, [-1]) as tf.Tensor1D; // [B·T]
  }

  private checkData(data: readonly WireDatum[]): void {
    if (data.length === 0)
      throw new ValidationError('the batch is empty; pass at least one Datum.');
    const V = this.base.config.vocabSize;
    data.forEach((d, i) => {
      if (d.tokens.length === 0) throw new ValidationError(`Datum ${i}: model_input is empty.`);
      if (d.tokens.length > this.maxSeqLen) {
        throw new ValidationError(
          `Datum ${i}: ${d.tokens.length} tokens exceed max_seq_len ${this.maxSeqLen}; truncate it.`,
        );
      }
      for (const [key, values] of Object.entries(d.inputs)) {
        if (values.length !== d.tokens.length) {
          throw new ValidationError(
            `Datum ${i}: ${key} has ${values.length} entries but model_input has ${d.tokens.length}; they must be equal.`,
          );
        }
      }
      const bad = d.tokens.findIndex((t) => t < 0 || t >= V);
      if (bad >= 0)
        throw new ValidationError(
          `Datum ${i}: token ${d.tokens[bad]} at position ${bad} is outside the vocabulary [0, ${V}).`,
        );
      // A gather past the vocabulary would read 0 on webgpu and train on it.
      const targets = d.inputs.target_tokens;
      const badTarget = targets ? targets.findIndex((t) => t !== IGNORE && (t < 0 || t >= V)) : -1;
      if (targets && badTarget >= 0)
        throw new ValidationError(
          `Datum ${i}: target_tokens[${badTarget}] = ${targets[badTarget]} is outside the vocabulary [0, ${V}); use -100 to ignore a position.`,
        );
    });
  }
}

/**
 * Saved moments must pair with the adapter's variables one to one, by size (none at all: a
 * checkpoint saved before any step, whose optimizer starts at zeros).
 */
function checkOptimizerFits(state: AdamWState, variables: readonly tf.Variable[]): void {
  if (state.moments.length === 0) return;
  const bad = variables.findIndex((v, i) => state.moments[i]?.m.length !== v.size);
  if (state.moments.length !== variables.length || bad >= 0) {
    throw new ValidationError(
      `the checkpoint's optimizer state holds moments for ${state.moments.length} tensors, which do not fit ` +
        `its adapter's ${variables.length} (${bad >= 0 ? `tensor ${bad} has ${variables[bad]?.size} values` : 'count differs'}); ` +
        'the checkpoint is damaged: load its weights alone with load_state (a fresh optimizer).',
    );
  }
}
