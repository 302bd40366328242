/**
 * AdamW, step for step as torch.optim.AdamW (single-tensor path, amsgrad off), with Loops' defaults.
 *
 * For step t = 1, 2, …, with gradients g first clipped to global norm `grad_clip_norm` (grad-clip.ts):
 *
 *   p ← p · (1 − γλ)                              decoupled weight decay
 *   m ← lerp(m, g, 1 − β1)                         = β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (γ / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + ε)
 *
 * Note where ε goes: it is added AFTER dividing sqrt(v) by sqrt(1 − β2ᵗ), as torch does
 * (denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps; step_size = lr / bias_correction1).
 * The bias corrections are computed in float64 on the host, as Python floats are in torch.
 * Sources: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization" (Algorithm 2);
 * Kingma & Ba 2015, "Adam"; PyTorch, torch/optim/adamw.py (_single_tensor_adamw).
 *
 * The optimizer owns its moments (tf.Variables, one pair per parameter, created on the first step)
 * and disposes them; parameters and gradients stay the caller's. The hyperparameters (Loops
 * `AdamParams`: names, defaults, ranges) are in core/adam-params.ts, shared with the page.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';
import { validateAdamParams, type AdamHyperparams } from '../core/adam-params';
import { clipByGlobalNorm } from './grad-clip';

export {
  ADAM_DEFAULTS,
  resolveAdamParams,
  validateAdamParams,
  type AdamHyperparams,
} from '../core/adam-params';

/** Optimizer state for checkpoints: the step count and, per parameter, the flat moments. */
export interface AdamWState {
  readonly step: number;
  readonly moments: readonly { readonly m: Float32Array; readonly v: Float32Array }[];
}

export interface AdamWStepResult {
  /** Global L2 norm of the gradients BEFORE clipping. */
  readonly grad_norm: number;
  /** The step count after this step (1 after the first). */
  readonly step: number;
}

interface Moments {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
}

export class AdamW {
  private moments: Moments[] = [];
  /** Imported moments waiting for the first step to learn the parameter shapes. */
  private pending: AdamWState['moments'] | null = null;
  private t = 0;

  /** Steps taken so far (the `t` of the bias corrections). */
  get stepCount(): number {
    return this.t;
  }

  /** A fresh optimizer that resumes from `state` (see `importState`). */
  static fromState(state: AdamWState): AdamW {
    const opt = new AdamW();
    opt.importState(state);
    return opt;
  }

  /**
   * One AdamW update of `params` (assigned in place) with `grads` (aligned by index, same shapes,
   * left to the caller). Reads back only the gradient norm.
   */
  async step(
    params: readonly tf.Variable[],
    grads: readonly tf.Tensor[],
    hp: AdamHyperparams,
  ): Promise<AdamWStepResult> {
    validateAdamParams(hp);
    checkAligned(params, grads);
    this.ensureMoments(params);
    this.t += 1;
    const t = this.t;
    const { grads: clipped, norm } = clipByGlobalNorm(grads, hp.grad_clip_norm);
    try {
      params.forEach((p, i) => {
        const g = clipped[i] as tf.Tensor;
        updateOne(p, g, this.moments[i] as Moments, hp, t);
      });
      const gradNorm = (await norm.data())[0] ?? NaN;
      return { grad_norm: gradNorm, step: t };
    } finally {
      tf.dispose(clipped);
      norm.dispose();
    }
  }

  /** A copy of the state, read from the device. */
  async exportState(): Promise<AdamWState> {
    if (this.pending) {
      const moments = this.pending.map(({ m, v }) => ({ m: m.slice(), v: v.slice() }));
      return { step: this.t, moments };
    }
    const moments = [];
    for (const { m, v } of this.moments) {
      moments.push({ m: Float32Array.from(await m.data()), v: Float32Array.from(await v.data()) });
    }
    return { step: this.t, moments };
  }

  /**
   * Replaces the state with `state` (copied). The moments take their parameters' shapes on the
   * next `step`, which checks that their count and sizes match.
   */
  importState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new ValidationError(
        `Optimizer state has step ${state.step}; it must be a whole number ≥ 0.`,
      );
    }
    state.moments.forEach(({ m, v }, i) => {
      if (m.length !== v.length) {
        throw new ValidationError(
          `Optimizer state: parameter ${i} has ${m.length} first moments but ${v.length} ` +
            'second moments; the checkpoint is damaged, save it again.',
        );
      }
    });
    this.disposeMoments();
    this.t = state.step;
    // A never-stepped optimizer exports no moments: importing it gives zeros, as a fresh one.
    const fresh = state.step === 0 && state.moments.length === 0;
    this.pending = fresh ? null : state.moments.map(({ m, v }) => ({ m: m.slice(), v: v.slice() }));
  }

  dispose(): void {
    this.disposeMoments();
    this.pending = null;
  }

  private disposeMoments(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
    this.moments = [];
  }

  /** Creates the moments on the first step (zeros, or the imported ones) and checks them after. */
  private ensureMoments(params: readonly tf.Variable[]): void {
    if (this.moments.length === 0 && (params.length > 0 || this.pending)) {
      this.moments = createMoments(params, this.pending);
      this.pending = null;
    }
    if (this.moments.length !== params.length) {
      throw new ValidationError(
        `AdamW.step got ${params.length} parameters but the optimizer was built for ` +
          `${this.moments.length}; make a new optimizer when the adapter changes.`,
      );
    }
    params.forEach((p, i) => {
      const { m } = this.moments[i] as Moments;
      if (!tf.util.arraysEqual(m.shape, p.shape)) {
        throw new ValidationError(
          `AdamW.step: parameter ${i} ('${p.name}') has shape [${p.shape}] but its moments ` +
            `have [${m.shape}]; make a new optimizer when the adapter changes.`,
        );
      }
    });
  }
}

/** Moment variables shaped like `params`: zeros, or `saved` (checked in full before allocating). */
function createMoments(
  params: readonly tf.Variable[],
  saved: AdamWState['moments'] | null,
): Moments[] {
  if (saved && saved.length !== params.length) {
    throw new ValidationError(
      `Optimizer state holds moments for ${saved.length} parameters but ${params.length} ` +
        'are being trained; load it into a run with the same adapter (rank and targets).',
    );
  }
  params.forEach((p, i) => {
    const size = saved?.[i]?.m.length ?? p.size;
    if (size !== p.size) {
      throw new ValidationError(
        `Optimizer state: parameter ${i} ('${p.name}') has ${p.size} values but the saved ` +
          `moments have ${size}; load it into a run with the same adapter.`,
      );
    }
  });
  return params.map((p, i) => {
    // tidy disposes the initial values; variables survive it.
    const make = (data: Float32Array | undefined) =>
      tf.tidy(() => tf.variable(data ? tf.tensor(data, p.shape) : tf.zerosLike(p), false));
    return { m: make(saved?.[i]?.m), v: make(saved?.[i]?.v) };
  });
}

/** The torch update for one parameter; assigns p, m, v in place. */
function updateOne(
  p: tf.Variable,
  g: tf.Tensor,
  { m, v }: Moments,
  hp: AdamHyperparams,
  t: number,
): void {
  const { learning_rate: lr, beta1, beta2, eps, weight_decay: wd } = hp;
  const stepSize = lr / (1 - beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
  const w = 1 - beta1;
  tf.tidy(() => {
    const decayed = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p; // [*]
    // torch's lerp kernel: self + w·(end − self) for w < 0.5, else end − (1 − w)·(end − self).
    const diff = tf.sub(g, m); // [*]
    const m1 = w < 0.5 ? tf.add(m, tf.mul(diff, w)) : tf.sub(g, tf.mul(diff, 1 - w)); // [*]
    const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, 1 - beta2), g)); // [*]
    const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), eps); // [*]
    const p1 = tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize)); // [*]
    m.assign(m1);
    v.assign(v1);
    p.assign(p1);
  });
}

function checkAligned(params: readonly tf.Variable[], grads: readonly tf.Tensor[]): void {
  if (params.length !== grads.length) {
    throw new ValidationError(
      `AdamW.step got ${params.length} parameters but ${grads.length} gradients; pass one ` +
        'gradient per parameter, in the same order.',
    );
  }
  params.forEach((p, i) => {
    const g = grads[i] as tf.Tensor;
    if (!tf.util.arraysEqual(p.shape, g.shape)) {
      throw new ValidationError(
        `AdamW.step: gradient ${i} has shape [${g.shape}] but parameter '${p.name}' has ` +
          `[${p.shape}]; they must match.`,
      );
    }
  });
}
