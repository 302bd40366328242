/**
 * Full-parameter pretraining of one of our models with the engine's own pieces: `CausalLM` over
 * `tf.Variable` weights (trainBase), `tf.variableGrads` for the gradients, global-norm clipping
 * (optim/grad-clip.ts) and AdamW (optim/adamw.ts). It holds the weights and optimizer state and
 * runs one step or one evaluation at a time; data order, schedule, logging and files are the
 * caller's (pretrain.ts).
 *
 * Loss of a batch of B windows of T tokens, lp = log p(target | prefix) from `targetLogprobs`:
 *
 *   L = −(1 / (B·T)) Σ_{b,t} lp[b, t]          (nats per token)
 *
 * the MEAN over tokens, not the Loops `cross_entropy` sum: the gradient scale then does not change
 * with B·T, so one learning rate and clip norm fit every batch shape (the usual pretraining loss,
 * e.g. GPT-2 / nanoGPT's F.cross_entropy with reduction 'mean').
 *
 * Init (GPT-2 style, Radford et al. 2019): matrices and embeddings N(0, 0.02²), the projections
 * that write into the residual stream (o_proj, down_proj, attn.c_proj, mlp.c_proj) N(0, (0.02/√(2L))²)
 * so the residual variance does not grow with depth; norm weights 1, biases 0.
 *
 * Weight decay applies to matrices and embeddings (rank ≥ 2) only, not to norms or biases
 * (nanoGPT's two parameter groups): two AdamW instances, one per group, after ONE global clip
 * over all gradients (so the clip matches a single torch optimizer with clip_grad_norm_).
 */
import * as tf from '@tensorflow/tfjs';
import { CausalLM } from '../../src/model/causal-lm';
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import { randomTensor } from '../../src/model/random-weights';
import { expectedTensors } from '../../src/model/weight-names';
import { AdamW, type AdamWState } from '../../src/optim/adamw';
import { clipByGlobalNorm } from '../../src/optim/grad-clip';
import type { TensorToWrite } from '../../src/io/safetensors-writer';
import { ValidationError } from '../../src/errors/loops-errors';

export interface OptimizerHyperparams {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled weight decay λ of matrices and embeddings. */
  readonly weightDecay: number;
  /** Global L2 norm the gradients are clipped to. */
  readonly gradClip: number;
}

export const OPTIMIZER_DEFAULTS: OptimizerHyperparams = Object.freeze({
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
});

/** Projections whose output is added to the residual stream (scaled init). */
const RESIDUAL_OUT = /(o_proj|down_proj|attn\.c_proj|mlp\.c_proj)\.weight$/;
const INIT_STD = 0.02;

export interface StepResult {
  /** Mean nats per target token of this batch (before the update). */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
}

export interface TrainerState {
  readonly weights: TensorToWrite[];
  readonly decay: AdamWState;
  readonly plain: AdamWState;
}

let instances = 0;

export class Pretrainer {
  readonly config: ModelConfig;
  readonly model: CausalLM;
  /** Trainable weights by Hugging Face name, in `expectedTensors` order. */
  readonly weights = new Map<string, tf.Variable>();
  private readonly decayOpt = new AdamW();
  private readonly plainOpt = new AdamW();
  private readonly decayNames: string[] = [];
  private readonly plainNames: string[] = [];

  /**
   * A model of `configJson` (a config.json object) with the init of the module comment from
   * `seed`, or with `initial` weights (by name) when given, e.g. from a checkpoint.
   */
  constructor(
    configJson: unknown,
    seed: number,
    readonly optim: OptimizerHyperparams = OPTIMIZER_DEFAULTS,
    initial?: ReadonlyMap<string, Float32Array>,
  ) {
    this.config = parseModelConfig(configJson);
    const id = instances++;
    const L = this.config.numLayers;
    for (const spec of expectedTensors(this.config)) {
      let data = initial?.get(spec.name);
      if (initial && !data) {
        throw new ValidationError(`Pretrainer: the initial weights lack ${spec.name}.`);
      }
      data ??= randomTensor(spec, seed, {
        std: RESIDUAL_OUT.test(spec.name) ? INIT_STD / Math.sqrt(2 * L) : INIT_STD,
        normNoise: 0,
        biasStd: 0,
      }).data;
      const initialValue = tf.tensor(data, [...spec.shape], 'float32');
      // Variable names are global in TF.js: the instance id keeps two trainers apart.
      this.weights.set(spec.name, tf.variable(initialValue, true, `pretrain${id}/${spec.name}`));
      initialValue.dispose();
      (spec.shape.length >= 2 ? this.decayNames : this.plainNames).push(spec.name);
    }
    this.model = new CausalLM(this.config, this.weights, null, { trainBase: true });
  }

  /** Total trainable values. */
  get parameterCount(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    return n;
  }

  /** Optimizer steps taken. */
  get stepCount(): number {
    return this.decayOpt.stepCount;
  }

  /** One AdamW step at learning rate `lr` on inputs/targets [B·T] (row-major [B, T]). */
  async step(
    inputs: Int32Array,
    targets: Int32Array,
    batch: number,
    lr: number,
  ): Promise<StepResult> {
    const T = inputs.length / batch;
    const vars = [...this.weights.values()];
    const { value, grads } = tf.variableGrads(() => {
      const tokens = tf.tensor2d(inputs, [batch, T], 'int32'); // [B, T]
      const tgt = tf.tensor2d(targets, [batch, T], 'int32'); // [B, T]
      return tf.neg(tf.mean(this.model.targetLogprobs(tokens, tgt))) as tf.Scalar; // []
    }, vars);
    const ordered = [...this.weights.values()].map((v) => grads[v.name] as tf.Tensor);
    const { grads: clipped, norm } = clipByGlobalNorm(ordered, this.optim.gradClip);
    tf.dispose(grads);
    try {
      const names = [...this.weights.keys()];
      const pick = (group: string[]) => {
        const idx = group.map((n) => names.indexOf(n));
        return {
          vars: idx.map((i) => vars[i] as tf.Variable),
          grads: idx.map((i) => clipped[i] as tf.Tensor),
        };
      };
      const hp = (weightDecay: number) => ({
        learning_rate: lr,
        beta1: this.optim.beta1,
        beta2: this.optim.beta2,
        eps: this.optim.eps,
        weight_decay: weightDecay,
        grad_clip_norm: 0, // clipped above, once over both groups
      });
      const d = pick(this.decayNames);
      const p = pick(this.plainNames);
      await this.decayOpt.step(d.vars, d.grads, hp(this.optim.weightDecay));
      await this.plainOpt.step(p.vars, p.grads, hp(0));
      const [loss, gradNorm] = [(await value.data())[0], (await norm.data())[0]];
      return { loss: loss ?? NaN, gradNorm: gradNorm ?? NaN };
    } finally {
      tf.dispose([value, norm, ...clipped]);
    }
  }

  /** Per-token log-probs (nats) of targets given inputs [B·T]; no gradients. */
  async logprobs(inputs: Int32Array, targets: Int32Array, batch: number): Promise<Float32Array> {
    const T = inputs.length / batch;
    const lp = tf.tidy(() =>
      this.model.targetLogprobs(
        tf.tensor2d(inputs, [batch, T], 'int32'),
        tf.tensor2d(targets, [batch, T], 'int32'),
      ),
    ); // [B, T]
    try {
      return (await lp.data()) as Float32Array;
    } finally {
      lp.dispose();
    }
  }

  /** The weights as float32 arrays by name (in `expectedTensors` order), for safetensors. */
  async exportWeights(): Promise<TensorToWrite[]> {
    const out: TensorToWrite[] = [];
    for (const [name, v] of this.weights) {
      out.push({ name, shape: v.shape, data: Float32Array.from(await v.data()) });
    }
    return out;
  }

  /** Weights and both optimizers' moments, for a checkpoint. */
  async exportState(): Promise<TrainerState> {
    return {
      weights: await this.exportWeights(),
      decay: await this.decayOpt.exportState(),
      plain: await this.plainOpt.exportState(),
    };
  }

  /** Restores the optimizers' moments and step count (weights go through the constructor). */
  importOptimizer(decay: AdamWState, plain: AdamWState): void {
    this.decayOpt.importState(decay);
    this.plainOpt.importState(plain);
  }

  dispose(): void {
    this.decayOpt.dispose();
    this.plainOpt.dispose();
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}
