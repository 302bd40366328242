// What the AdamW tests share (tests/unit/adamw.test.ts on cpu, tests/unit/webgpu/adamw.test.ts on
// Dawn): an independent float64 AdamW written straight from torch's formulas
// (torch/optim/adamw.py `_single_tensor_adamw` + clip_grad_norm_):
//   clip: n = sqrt(Σ g²), c = max_norm / (n + 1e-6), g ← c·g if c < 1 (max_norm 0: no clip)
//   p ← p(1 − lr·wd);  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps)
// and a run of the engine's `AdamW.step` over the same parameters and gradients.
import * as tf from '@tensorflow/tfjs';
import { AdamW, type AdamHyperparams, type AdamWState } from '../../src/optim/adamw';

type Rows = readonly ArrayLike<number>[];

/** Float64 AdamW over several parameters; returns the parameters, moments and every step's norm. */
export function referenceAdamW(p0: Rows, gradsPerStep: readonly Rows[], hp: AdamHyperparams) {
  const p = p0.map((x) => Array.from(x));
  const m = p.map((x) => x.map(() => 0));
  const v = p.map((x) => x.map(() => 0));
  const norms: number[] = [];
  gradsPerStep.forEach((grads, s) => {
    const t = s + 1;
    const n = Math.sqrt(grads.reduce((a, g) => Array.from(g).reduce((b, x) => b + x * x, a), 0));
    norms.push(n);
    const c = hp.grad_clip_norm > 0 ? hp.grad_clip_norm / (n + 1e-6) : 1;
    const scale = c < 1 ? c : 1;
    p.forEach((pk, k) => {
      const mk = m[k]!;
      const vk = v[k]!;
      pk.forEach((_, j) => {
        const g = grads[k]![j]! * scale;
        pk[j] = pk[j]! * (1 - hp.learning_rate * hp.weight_decay);
        mk[j] = hp.beta1 * mk[j]! + (1 - hp.beta1) * g;
        vk[j] = hp.beta2 * vk[j]! + (1 - hp.beta2) * g * g;
        const denom = Math.sqrt(vk[j]!) / Math.sqrt(1 - hp.beta2 ** t) + hp.eps;
        pk[j] = pk[j]! - (hp.learning_rate / (1 - hp.beta1 ** t)) * (mk[j]! / denom);
      });
    });
  });
  return { p, m, v, norms };
}

/** Trainable variables holding `p0`, shaped by `shapes` (default 1-D), named `<tag>-p<k>`. */
export function adamParams(p0: Rows, shapes?: readonly number[][], tag = ''): tf.Variable[] {
  return p0.map((x, k) =>
    tf.tidy(() =>
      tf.variable(tf.tensor(Array.from(x), shapes?.[k]), true, tag ? `${tag}-p${k}` : `p${k}`),
    ),
  );
}

export interface AdamWRunOptions {
  readonly shapes?: readonly number[][];
  /** Names the variables apart from other runs' live ones. */
  readonly tag?: string;
  /** Runs step t's `step` call (e.g. under a kernels switch); default: as it is. */
  readonly aroundStep?: <T>(t: number, step: () => Promise<T>) => Promise<T>;
}

/** Runs a new `AdamW` from `p0` over the gradients; returns the values, norms and its state. */
export async function runAdamW(
  p0: Rows,
  gradsPerStep: readonly Rows[],
  hp: AdamHyperparams,
  { shapes, tag = '', aroundStep = (_t, step) => step() }: AdamWRunOptions = {},
): Promise<{ p: number[][]; norms: number[]; state: AdamWState }> {
  const params = adamParams(p0, shapes, tag);
  const opt = new AdamW();
  const norms: number[] = [];
  for (const [t, grads] of gradsPerStep.entries()) {
    const g = grads.map((x, k) => tf.tensor(Array.from(x), shapes?.[k]));
    norms.push((await aroundStep(t, () => opt.step(params, g, hp))).grad_norm);
    tf.dispose(g);
  }
  const p = await Promise.all(params.map(async (x) => Array.from(await x.data())));
  const state = await opt.exportState();
  opt.dispose();
  tf.dispose(params);
  return { p, norms, state };
}

/** The largest |got − want| / max(|want|, floor) over all entries. */
export function maxRelError(got: number[][], want: number[][], floor = 1e-30): number {
  let worst = 0;
  want.forEach((row, k) =>
    row.forEach((x, j) => {
      worst = Math.max(worst, Math.abs(got[k]![j]! - x) / Math.max(Math.abs(x), floor));
    }),
  );
  return worst;
}
