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
 * The optimizer owns its moments (tf.Variables, one pair per parameter, created on the first step;
 * they and the update on them are in adamw-moments.ts) and disposes them; parameters and gradients stay the caller's. The hyperparameters (Loops
 * `AdamParams`: names, defaults, ranges) are in core/adam-params.ts, shared with the page.
 *
 * On webgpu with our kernels on, the moments live in arenas instead and a step is two dispatches
 * for all parameters (adamw-arena.ts); the stock-op code here is that path's reference. The state
 * moves between the two forms if the kernels are switched on or off between steps.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';
import { validateAdamParams, type AdamHyperparams } from '../core/adam-params';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { clipByGlobalNorm } from './grad-clip';
import { Arena, arenaLayout, fitsLayout } from './arena';
import { AdamWArena } from './adamw-arena';
import { checkSaved, createMoments, updateOne, type Moments } from './adamw-moments';

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

/** A step whose gradient norm is still on the device. */
export interface AdamWUpdate {
  /** Global L2 norm of the gradients before clipping: a new scalar, the caller disposes. */
  readonly gradNorm: tf.Scalar;
  /** The step count after this step. */
  readonly step: number;
}

export class AdamW {
  private moments: Moments[] = [];
  /** The webgpu form of the state (adamw-arena.ts); null on the stock path. */
  private arena: AdamWArena | null = null;
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
    const { gradNorm, step } = this.update(params, grads, hp);
    try {
      return { grad_norm: (await gradNorm.data())[0] ?? NaN, step };
    } finally {
      gradNorm.dispose();
    }
  }

  /**
   * `step` without the readback: the gradient norm comes back as a device scalar. `grads` are
   * tensors aligned with `params`, or an arena of their sums (gradient-buffer.ts, webgpu), which
   * the update zeroes as it reads.
   */
  update(
    params: readonly tf.Variable[],
    grads: readonly tf.Tensor[] | Arena,
    hp: AdamHyperparams,
  ): AdamWUpdate {
    validateAdamParams(hp);
    if (!(grads instanceof Arena)) checkAligned(params, grads);
    if (gpuKernelsActive()) return this.updateOnArena(params, grads, hp);
    if (grads instanceof Arena) {
      const tensors = grads.layout.sizes.map((_, i) => grads.slot(i));
      try {
        return this.update(params, tensors, hp);
      } finally {
        tf.dispose(tensors);
        grads.clear();
      }
    }
    this.ensureMoments(params);
    this.t += 1;
    const t = this.t;
    const { grads: clipped, norm } = clipByGlobalNorm(grads, hp.grad_clip_norm);
    try {
      params.forEach((p, i) => {
        const g = clipped[i] as tf.Tensor;
        updateOne(p, g, this.moments[i] as Moments, hp, t);
      });
      return { gradNorm: norm, step: t };
    } finally {
      tf.dispose(clipped);
    }
  }

  private updateOnArena(
    params: readonly tf.Variable[],
    grads: readonly tf.Tensor[] | Arena,
    hp: AdamHyperparams,
  ): AdamWUpdate {
    const arena = this.ensureArena(params);
    if (grads instanceof Arena && !fitsLayout(grads.layout, params)) {
      throw new ValidationError(
        `AdamW.update: the gradient arena holds ${grads.layout.shapes.length} tensors that do ` +
          `not fit the ${params.length} parameters; build the gradient buffer from them.`,
      );
    }
    let packed: Arena | null = null;
    if (!(grads instanceof Arena)) {
      packed = Arena.zeros(arena.layout);
      packed.copyIn(grads);
    }
    this.t += 1;
    try {
      const gradNorm = arena.update(params, packed ?? (grads as Arena), hp, this.t, !packed);
      return { gradNorm, step: this.t };
    } finally {
      packed?.dispose();
    }
  }

  /** A copy of the state, read from the device. */
  async exportState(): Promise<AdamWState> {
    if (this.pending) {
      const moments = this.pending.map(({ m, v }) => ({ m: m.slice(), v: v.slice() }));
      return { step: this.t, moments };
    }
    if (this.arena) return { step: this.t, moments: await this.arena.exportMoments() };
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
    this.disposeTensorMoments();
    this.arena?.dispose();
    this.arena = null;
  }

  private disposeTensorMoments(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
    this.moments = [];
  }

  /** The arena state for `params`: made from zeros, the imported moments or the stock ones. */
  private ensureArena(params: readonly tf.Variable[]): AdamWArena {
    if (!this.arena) {
      const layout = arenaLayout(params.map((p) => p.shape));
      if (this.moments.length > 0) {
        this.checkMoments(params);
        this.arena = AdamWArena.fromTensors(layout, this.moments);
        this.disposeTensorMoments();
      } else {
        if (this.pending) checkSaved(params, this.pending);
        this.arena = AdamWArena.create(layout, this.pending);
      }
      this.pending = null;
    }
    if (!fitsLayout(this.arena.layout, params)) {
      throw new ValidationError(
        `AdamW.step got ${params.length} parameters that do not fit the ` +
          `${this.arena.layout.shapes.length} the optimizer was built for; make a new optimizer ` +
          'when the adapter changes.',
      );
    }
    return this.arena;
  }

  /**
   * Creates the moments on the first step (zeros, the imported ones, or the arena's when the
   * kernels were switched off) and checks them after.
   */
  private ensureMoments(params: readonly tf.Variable[]): void {
    if (this.arena) {
      const arena = this.arena;
      if (!fitsLayout(arena.layout, params)) this.ensureArena(params); // throws
      const moments = params.map((_, i) => {
        const { m, v } = arena.momentTensors(i);
        const pair = { m: tf.variable(m, false), v: tf.variable(v, false) };
        tf.dispose([m, v]);
        return pair;
      });
      this.disposeMoments();
      this.moments = moments;
    }
    if (this.moments.length === 0 && (params.length > 0 || this.pending)) {
      this.moments = createMoments(params, this.pending);
      this.pending = null;
    }
    this.checkMoments(params);
  }

  private checkMoments(params: readonly tf.Variable[]): void {
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
