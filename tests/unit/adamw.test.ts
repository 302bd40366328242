// AdamW against hand-derived steps and against an independent float64 AdamW written straight
// from torch's formulas (tests/helpers/adamw-runs.ts, which gives them).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import {
  ADAM_DEFAULTS,
  AdamW,
  resolveAdamParams,
  validateAdamParams,
  type AdamHyperparams,
} from '../../src/optim/adamw';
import { maxRelError, referenceAdamW, runAdamW } from '../helpers/adamw-runs';
import { expectNoLeaks, seededArray, useCpuBackend } from '../helpers/tf-node';

const hp = (over: Partial<AdamHyperparams>): AdamHyperparams => ({ ...ADAM_DEFAULTS, ...over });

/** Seeded gradients for `steps` steps over parameters of the given sizes. */
function seededGrads(sizes: number[], steps: number, seed: number, scale = 2): number[][][] {
  return Array.from({ length: steps }, (_, s) =>
    sizes.map((n, k) => Array.from(seededArray(n, seed + 10 * s + k, scale))),
  );
}

beforeAll(async () => {
  await useCpuBackend();
});

describe('AdamW update', () => {
  it('step 1 by hand: m̂ = g, v̂ = g², so p ← p − lr·g/(|g| + eps) = p − lr·sign(g)', async () => {
    // Loops defaults, lr 0.1. m = 0.1 g, 1 − β1 = 0.1 ⇒ m̂ = g; v = 0.05 g², 1 − β2 = 0.05 ⇒ v̂ = g².
    // p0 = [0.5, −1, 2], g = [0.2, −0.4, 0] ⇒ p1 = [0.4, −0.9, 2] (g = 0: m = v = 0, update 0/eps = 0).
    // grad_norm = sqrt(0.04 + 0.16) = sqrt(0.2).
    const out = await expectNoLeaks(() =>
      runAdamW([[0.5, -1, 2]], [[[0.2, -0.4, 0]]], hp({ learning_rate: 0.1 })),
    );
    out.p[0]?.forEach((x, j) => expect(x).toBeCloseTo([0.4, -0.9, 2][j] as number, 6));
    expect(out.norms[0]).toBeCloseTo(Math.sqrt(0.2), 6);
    expect(out.state.step).toBe(1);
    // Moments by hand: m = 0.1·g = [0.02, −0.04, 0], v = 0.05·g² = [0.002, 0.008, 0]
    const { m, v } = out.state.moments[0] ?? { m: [], v: [] };
    Array.from(m).forEach((x, j) => expect(x).toBeCloseTo([0.02, -0.04, 0][j] as number, 8));
    Array.from(v).forEach((x, j) => expect(x).toBeCloseTo([0.002, 0.008, 0][j] as number, 8));
  });

  it('eps is added after the bias correction of sqrt(v), as torch does', async () => {
    // eps 0.1, lr 0.3, p0 = 1, g = 0.2, t = 1: m̂ = 0.2; sqrt(v)/sqrt(1 − β2) = sqrt(0.05·0.04)/sqrt(0.05)
    // = 0.2, denom = 0.2 + 0.1 = 0.3, p1 = 1 − 0.3·0.2/0.3 = 0.8. (Adding eps before the
    // correction, (sqrt(v) + eps)/sqrt(0.05) = 0.647, would give p1 = 0.907.)
    const out = await runAdamW([[1]], [[[0.2]]], hp({ learning_rate: 0.3, eps: 0.1 }));
    expect(out.p[0]?.[0]).toBeCloseTo(0.8, 6);
    // And over several steps with a large eps, against the reference.
    const grads = seededGrads([3], 4, 40);
    const h = hp({ learning_rate: 0.05, eps: 0.05 });
    const got = await runAdamW([[0.3, -0.2, 0.1]], grads, h);
    expect(maxRelError(got.p, referenceAdamW([[0.3, -0.2, 0.1]], grads, h).p)).toBeLessThan(1e-6);
  });

  it('matches the float64 reference over 5 steps, two parameters (1e-6 relative)', async () => {
    const p0 = [Array.from(seededArray(3, 1, 2)), Array.from(seededArray(2, 2, 2))];
    const grads = seededGrads([3, 2], 5, 30);
    const h = hp({ learning_rate: 0.01 });
    const ref = referenceAdamW(p0, grads, h);
    const got = await expectNoLeaks(() => runAdamW(p0, grads, h));
    expect(maxRelError(got.p, ref.p)).toBeLessThan(1e-6);
    expect(maxRelError([got.norms], [ref.norms])).toBeLessThan(1e-6);
    const mGot = got.state.moments.map((x) => Array.from(x.m));
    const vGot = got.state.moments.map((x) => Array.from(x.v));
    expect(maxRelError(mGot, ref.m)).toBeLessThan(1e-5);
    expect(maxRelError(vGot, ref.v)).toBeLessThan(1e-5);
  });

  it('weight decay is decoupled: p ← p(1 − lr·wd) before Adam, and the moments never see it', async () => {
    // Zero gradient: the Adam part is 0/(0 + eps) = 0, so p1 = p0·(1 − 0.1·0.5) = 0.95·p0 exactly.
    const zeroGrad = await runAdamW(
      [[1, -2]],
      [[[0, 0]]],
      hp({ learning_rate: 0.1, weight_decay: 0.5 }),
    );
    expect(zeroGrad.p[0]).toEqual([Math.fround(0.95), Math.fround(-1.9)]);
    // With gradients: the reference agrees, and m, v equal those of the run without decay.
    const p0 = [[1, -2, 0.5]];
    const grads = seededGrads([3], 4, 50);
    const h = hp({ learning_rate: 0.05, weight_decay: 0.3 });
    const withWd = await runAdamW(p0, grads, h);
    const noWd = await runAdamW(p0, grads, hp({ learning_rate: 0.05 }));
    expect(maxRelError(withWd.p, referenceAdamW(p0, grads, h).p)).toBeLessThan(1e-6);
    expect(withWd.state.moments).toEqual(noWd.state.moments);
    expect(withWd.p).not.toEqual(noWd.p);
  });

  it('clipping: grad_norm is reported before clipping; coef = max/(norm + 1e-6) only when < 1', async () => {
    // g = [3, 4]: norm 5. Clip 1 ⇒ g' = g/(5 + 1e-6) ≈ [0.6, 0.8]; m = 0.1 g' = [0.06, 0.08],
    // v = 0.05 g'² = [0.018, 0.032]. Clip off (0) or clip 10 (> 5) ⇒ m = [0.3, 0.4], v = [0.45, 0.8].
    const cases: [number, number[], number[]][] = [
      [1, [0.06, 0.08], [0.018, 0.032]],
      [0, [0.3, 0.4], [0.45, 0.8]],
      [10, [0.3, 0.4], [0.45, 0.8]],
    ];
    for (const [clip, m, v] of cases) {
      const out = await runAdamW([[0, 0]], [[[3, 4]]], hp({ grad_clip_norm: clip }));
      expect(out.norms[0]).toBeCloseTo(5, 5);
      const state = out.state.moments[0];
      Array.from(state?.m ?? []).forEach((x, j) => expect(x).toBeCloseTo(m[j] as number, 6));
      Array.from(state?.v ?? []).forEach((x, j) => expect(x).toBeCloseTo(v[j] as number, 6));
    }
    // Several steps with clipping active on some and not others, against the reference.
    const grads = seededGrads([3, 2], 5, 70, 3);
    const h = hp({ learning_rate: 0.02, grad_clip_norm: 1.2, weight_decay: 0.1 });
    const p0 = [
      [0.1, 0.2, 0.3],
      [-0.4, 0.5],
    ];
    const ref = referenceAdamW(p0, grads, h);
    expect(ref.norms.some((n) => n > 1.2) && ref.norms.some((n) => n < 1.2)).toBe(true);
    const got = await runAdamW(p0, grads, h);
    expect(maxRelError(got.p, ref.p)).toBeLessThan(1e-6);
    expect(maxRelError([got.norms], [ref.norms])).toBeLessThan(1e-6);
  });
});

describe('AdamW state', () => {
  it('3 steps, export, import into a new optimizer, 3 more = 6 straight, bit for bit', async () => {
    const p0 = [Array.from(seededArray(4, 5, 2)), Array.from(seededArray(3, 6, 2))];
    const grads = seededGrads([4, 3], 6, 90);
    const h = hp({ learning_rate: 0.01, weight_decay: 0.1, grad_clip_norm: 1 });
    const straight = await runAdamW(p0, grads, h);

    await expectNoLeaks(async () => {
      const params = p0.map((x) => tf.tidy(() => tf.variable(tf.tensor1d(x))));
      const stepAll = async (opt: AdamW, steps: number[][][]) => {
        for (const g of steps) {
          const t = g.map((x) => tf.tensor1d(x));
          await opt.step(params, t, h);
          tf.dispose(t);
        }
      };
      const first = new AdamW();
      await stepAll(first, grads.slice(0, 3));
      const saved = await first.exportState();
      first.dispose();
      const resumed = AdamW.fromState(saved);
      expect(resumed.stepCount).toBe(3);
      await stepAll(resumed, grads.slice(3));
      const after = await resumed.exportState();
      resumed.dispose();
      const p = await Promise.all(params.map(async (x) => Array.from(await x.data())));
      tf.dispose(params);
      expect(p).toEqual(straight.p);
      expect(after).toEqual(straight.state);
    });
  });

  it('a fresh optimizer exports step 0 and no moments; exports are copies', async () => {
    const opt = new AdamW();
    expect(await opt.exportState()).toEqual({ step: 0, moments: [] });
    const m = new Float32Array([1, 2]);
    opt.importState({ step: 2, moments: [{ m, v: new Float32Array([3, 4]) }] });
    m[0] = 99;
    expect(Array.from((await opt.exportState()).moments[0]?.m ?? [])).toEqual([1, 2]);
    opt.dispose();
  });

  it('imported moments that do not fit the parameters are a ValidationError at step', async () => {
    await expectNoLeaks(async () => {
      // Two parameters, the second one of the wrong size: nothing may be allocated for the first.
      const p = tf.tidy(() => tf.variable(tf.tensor1d([1, 2, 3]), true, 'lora_a'));
      const q = tf.tidy(() => tf.variable(tf.tensor1d([1, 2]), true, 'lora_b'));
      const g = [tf.tensor1d([1, 1, 1]), tf.tensor1d([1, 1])];
      const three = { m: new Float32Array(3), v: new Float32Array(3) };
      const wrongSize = AdamW.fromState({ step: 1, moments: [three, three] });
      await expect(wrongSize.step([p, q], g, ADAM_DEFAULTS)).rejects.toThrow(
        /'lora_b'.*2 values.*moments have 3/,
      );
      expect(wrongSize.stepCount).toBe(1);
      const wrongCount = AdamW.fromState({ step: 1, moments: [] });
      await expect(wrongCount.step([p, q], g, ADAM_DEFAULTS)).rejects.toThrow(/0 parameters but 2/);
      expect(() => new AdamW().importState({ step: -1, moments: [] })).toThrow(ValidationError);
      wrongSize.dispose();
      wrongCount.dispose();
      tf.dispose([p, q, ...g]);
    });
  });
});

describe('AdamW hyperparameters and arguments', () => {
  it('defaults are Loops’ and resolveAdamParams merges and validates', () => {
    expect(ADAM_DEFAULTS).toEqual({
      learning_rate: 1e-4,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-12,
      weight_decay: 0,
      grad_clip_norm: 0,
    });
    expect(resolveAdamParams({ learning_rate: 3e-4 })).toEqual({
      ...ADAM_DEFAULTS,
      learning_rate: 3e-4,
    });
    expect(resolveAdamParams(undefined)).toEqual(ADAM_DEFAULTS);
    expect(() => resolveAdamParams({ lr: 1 } as Partial<AdamHyperparams>)).toThrow(
      /unknown field 'lr'/,
    );
  });

  it('each out-of-range field is a ValidationError naming it', () => {
    const bad: [Partial<AdamHyperparams>, RegExp][] = [
      [{ learning_rate: -1 }, /AdamParams.learning_rate is -1/],
      [{ learning_rate: Infinity }, /learning_rate is Infinity/],
      [{ beta1: 1 }, /AdamParams.beta1 is 1; it must be in \[0, 1\)/],
      [{ beta2: -0.1 }, /AdamParams.beta2 is -0.1/],
      [{ eps: 0 }, /AdamParams.eps is 0; it must be a finite number > 0/],
      [{ weight_decay: -0.01 }, /AdamParams.weight_decay is -0.01/],
      [{ grad_clip_norm: NaN }, /AdamParams.grad_clip_norm is NaN/],
    ];
    for (const [over, message] of bad) {
      expect(() => validateAdamParams(hp(over))).toThrow(ValidationError);
      expect(() => validateAdamParams(hp(over))).toThrow(message);
    }
    expect(() =>
      validateAdamParams(hp({ beta1: 0, grad_clip_norm: 0, learning_rate: 0 })),
    ).not.toThrow();
  });

  it('misaligned gradients are rejected before anything changes', async () => {
    await expectNoLeaks(async () => {
      const p = tf.tidy(() => tf.variable(tf.tensor1d([1, 2]), true, 'w'));
      const opt = new AdamW();
      const g3 = tf.tensor1d([1, 2, 3]);
      await expect(opt.step([p], [g3], ADAM_DEFAULTS)).rejects.toThrow(
        /gradient 0 has shape \[3\].*'w'/,
      );
      await expect(opt.step([p], [], ADAM_DEFAULTS)).rejects.toThrow(
        /1 parameters but 0 gradients/,
      );
      expect(opt.stepCount).toBe(0);
      expect(Array.from(await p.data())).toEqual([1, 2]);
      opt.dispose();
      tf.dispose([p, g3]);
    });
  });
});
