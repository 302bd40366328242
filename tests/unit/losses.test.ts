// The built-in losses: value and ∂L/∂lp on small vectors, every expected number derived by hand
// below from the formulas in shared/LOOPS_API.md; metrics; and the registry. The call-time
// validation (TF-free) is tested in loss-schema.test.ts.
//
// Ratios are set exactly: the test picks r_i and sets q_i = lp_i − ln r_i, so exp(lp_i − q_i) = r_i
// up to float32 rounding (~1e-7 relative), hence toBeCloseTo(…, 5).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../src/core/loss-schema';
import type { LossConfig, LossName, LossTensors } from '../../src/losses/loss-spec';
import { readMetrics } from '../../src/losses/loss-spec';
import {
  LOSSES,
  LOSS_NAMES,
  getLoss,
  isLossName,
  resolveLossConfig,
  validateLossInputs,
} from '../../src/losses/registry';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';

interface Case {
  lp: number[];
  mask?: number[];
  weights?: number[];
  logprobs?: number[];
  advantages?: number[];
}

/** q_i = lp_i − ln r_i, so that exp(lp_i − q_i) = r_i. */
const qFor = (lp: number[], r: number[]) => lp.map((x, i) => x - Math.log(r[i] as number));

/** Loss value, ∂L/∂lp and metrics for `c`, with no tensors left behind. */
async function run(name: LossName, c: Case, config?: Record<string, number>) {
  return expectNoLeaks(async () => {
    const spec = getLoss(name);
    const cfg: LossConfig = resolveLossConfig(name, config);
    const t = (xs: number[] | undefined) => (xs ? tf.tensor1d(xs) : undefined);
    const inputs: LossTensors = {
      mask: tf.tensor1d(c.mask ?? c.lp.map(() => 1)),
      weights: t(c.weights),
      logprobs: t(c.logprobs),
      advantages: t(c.advantages),
    };
    const lp = tf.tensor1d(c.lp);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
      spec.compute(x as tf.Tensor1D, inputs, cfg),
    )(lp);
    const out = {
      loss: (await value.data())[0] as number,
      grad: Array.from(await grad.data()),
      metrics: await readMetrics(spec.metrics(lp, inputs, cfg)),
    };
    tf.dispose([value, grad, lp, ...Object.values(inputs)]);
    return out;
  });
}

function expectClose(got: number[], want: number[]) {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(g, `index ${i}`).toBeCloseTo(want[i] as number, 5));
}

beforeAll(async () => {
  await useCpuBackend();
});

describe('cross_entropy', () => {
  // lp = [−1, −2, −4, −0.5]; position 2 is a −100 target (mask 0; lp is made non-zero on purpose
  // to show the mask alone removes it).
  const lp = [-1, -2, -4, -0.5];
  const mask = [1, 1, 0, 1];

  it('weighted: L = −Σ m·w·lp, ∂L/∂lp = −m·w', async () => {
    // w = [1, 0.5, 7, 2]: L = −(1·−1 + 0.5·−2 + 0 + 2·−0.5) = −(−1 − 1 − 1) = 3
    // ∂L/∂lp = −m·w = [−1, −0.5, 0, −2]; weight:sum = 1 + 0.5 + 2 = 3.5
    const r = await run('cross_entropy', { lp, mask, weights: [1, 0.5, 7, 2] });
    expect(r.loss).toBeCloseTo(3, 5);
    expectClose(r.grad, [-1, -0.5, 0, -2]);
    expect(r.metrics['loss:sum']).toBeCloseTo(3, 5);
    expect(r.metrics['weight:sum']).toBeCloseTo(3.5, 5);
  });

  it('without weights: w = 1, ignored positions still masked', async () => {
    // L = −(−1 − 2 − 0.5) = 3.5; ∂L/∂lp = [−1, −1, 0, −1]; weight:sum = 3 tokens
    const r = await run('cross_entropy', { lp, mask });
    expect(r.loss).toBeCloseTo(3.5, 5);
    expectClose(r.grad, [-1, -1, 0, -1]);
    expect(r.metrics['weight:sum']).toBe(3);
  });
});

describe('importance_sampling', () => {
  const lp = [-1, -2, -0.5, -3];
  const ratio = [1, 2, 0.5, 3];
  const advantages = [1, -1, 4, 0.5];

  it('L = −Σ r·A, ∂L/∂lp = −r·A', async () => {
    // L = −(1·1 + 2·−1 + 0.5·4 + 3·0.5) = −(1 − 2 + 2 + 1.5) = −2.5
    // ∂L/∂lp_i = −r_i·A_i = [−1, 2, −2, −1.5]; ratio:mean = (1 + 2 + 0.5 + 3)/4 = 1.625
    const r = await run('importance_sampling', { lp, logprobs: qFor(lp, ratio), advantages });
    expect(r.loss).toBeCloseTo(-2.5, 5);
    expectClose(r.grad, [-1, 2, -2, -1.5]);
    expect(r.metrics['loss:sum']).toBeCloseTo(-2.5, 5);
    expect(r.metrics['ratio:mean']).toBeCloseTo(1.625, 5);
  });

  it('an ignored position contributes nothing, even where exp(lp − q) would overflow', async () => {
    // Position 3 masked, lp 0, q = −200 (exp(200) = ∞ in float32): L = −(1 − 2 + 2) = −1,
    // ∂L/∂lp = [−1, 2, −2, 0]; ratio:mean over the 3 active positions = 3.5/3.
    const q = [...qFor(lp.slice(0, 3), ratio.slice(0, 3)), -200];
    const r = await run('importance_sampling', {
      lp: [-1, -2, -0.5, 0],
      mask: [1, 1, 1, 0],
      logprobs: q,
      advantages,
    });
    expect(r.loss).toBeCloseTo(-1, 5);
    expectClose(r.grad, [-1, 2, -2, 0]);
    expect(r.metrics['ratio:mean']).toBeCloseTo(3.5 / 3, 5);
  });
});

describe('ppo', () => {
  const lp = [-1, -2, -0.5, -3, -1.5];
  const ratio = [1, 2, 0.5, 2, 0.5];
  const advantages = [1, 1, 1, -1, -1];
  const logprobs = qFor(lp, ratio);

  it('defaults 0.8 / 1.2: both branches of the min', async () => {
    // i  r    A   r·A   clip(r)·A  min         ∂L/∂lp_i
    // 0  1    1   1     1          1 (inside)   −r·A = −1
    // 1  2    1   2     1.2        1.2 clipped  0
    // 2  0.5  1   0.5   0.8        0.5 unclip.  −r·A = −0.5
    // 3  2   −1  −2    −1.2       −2 unclip.    −r·A = 2
    // 4  0.5 −1  −0.5  −0.8       −0.8 clipped  0
    // L = −(1 + 1.2 + 0.5 − 2 − 0.8) = 0.1; ratio:mean = 6/5 = 1.2;
    // clip_fraction (r outside [0.8, 1.2]) = 4/5.
    const r = await run('ppo', { lp, logprobs, advantages });
    expect(r.loss).toBeCloseTo(0.1, 5);
    expectClose(r.grad, [-1, 0, -0.5, 2, 0]);
    expect(r.metrics['ratio:mean']).toBeCloseTo(1.2, 5);
    expect(r.metrics['clip_fraction:mean']).toBeCloseTo(0.8, 6);
  });

  it('wide thresholds 0.4 / 3: nothing clipped, same as importance_sampling', async () => {
    // L = −Σ r·A = −(1 + 2 + 0.5 − 2 − 0.5) = −1; ∂L/∂lp = −r·A = [−1, −2, −0.5, 2, 0.5]
    const config = { clip_low_threshold: 0.4, clip_high_threshold: 3 };
    const r = await run('ppo', { lp, logprobs, advantages }, config);
    expect(r.loss).toBeCloseTo(-1, 5);
    expectClose(r.grad, [-1, -2, -0.5, 2, 0.5]);
    expect(r.metrics['clip_fraction:mean']).toBe(0);
  });
});

describe('cispo', () => {
  const lp = [-1, -2, -0.5, -3];
  const ratio = [1, 5, 0.5, 2];
  const advantages = [1, 1, -2, 0.5];
  const logprobs = qFor(lp, ratio);

  it('defaults 0 / 4: L = −Σ sg(clip r)·lp·A, gradient −clip(r)·A (no ∂r/∂lp term)', async () => {
    // clip(r, 0, 4) = [1, 4, 0.5, 2]   (position 1 clipped from 5)
    // L = −(1·−1·1 + 4·−2·1 + 0.5·−0.5·−2 + 2·−3·0.5) = −(−1 − 8 + 0.5 − 3) = 11.5
    // ∂L/∂lp = −c·A = [−1, −4, 1, −1]. Without the stop-gradient, position 0 would get
    // −A·(c + r·lp) = −(1 − 1) = 0 instead of −1.
    // ratio:mean = (1 + 5 + 0.5 + 2)/4 = 2.125; clip_fraction = 1/4
    const r = await run('cispo', { lp, logprobs, advantages });
    expect(r.loss).toBeCloseTo(11.5, 5);
    expectClose(r.grad, [-1, -4, 1, -1]);
    expect(r.metrics['ratio:mean']).toBeCloseTo(2.125, 5);
    expect(r.metrics['clip_fraction:mean']).toBeCloseTo(0.25, 6);
  });

  it('thresholds 0.8 / 1.2 clip on both sides', async () => {
    // c = clip(r, 0.8, 1.2) = [1, 1.2, 0.8, 1.2]
    // L = −(−1 + 1.2·−2 + 0.8·−0.5·−2 + 1.2·−3·0.5) = −(−1 − 2.4 + 0.8 − 1.8) = 4.4
    // ∂L/∂lp = −c·A = [−1, −1.2, 1.6, −0.6]
    const config = { clip_low_threshold: 0.8, clip_high_threshold: 1.2 };
    const r = await run('cispo', { lp, logprobs, advantages }, config);
    expect(r.loss).toBeCloseTo(4.4, 5);
    expectClose(r.grad, [-1, -1.2, 1.6, -0.6]);
    expect(r.metrics['clip_fraction:mean']).toBeCloseTo(0.75, 6);
  });
});

describe('dro', () => {
  // Position 3 is ignored (mask 0, lp 0) with q = −7 and A = 5 that would otherwise count.
  const c: Case = {
    lp: [-1, -2, -0.5, 0],
    logprobs: [-1.5, -1, -0.5, -7],
    advantages: [1, -2, 3, 5],
    mask: [1, 1, 1, 0],
  };

  it('β = 0.5: L = −Σ (lp·A − ½β(lp − q)²), ∂L/∂lp = −A + β(lp − q)', async () => {
    // d = lp − q = [0.5, −1, 0];  ½β = 0.25
    // terms: −1·1 − 0.25·0.25 = −1.0625;  −2·−2 − 0.25·1 = 3.75;  −0.5·3 − 0 = −1.5
    // L = −(−1.0625 + 3.75 − 1.5) = −1.1875
    // ∂L/∂lp = [−1 + 0.25, 2 − 0.5, −3 + 0, 0] = [−0.75, 1.5, −3, 0]
    // half_sq_log_ratio:mean = (0.125 + 0.5 + 0)/3
    const r = await run('dro', c, { beta: 0.5 });
    expect(r.loss).toBeCloseTo(-1.1875, 5);
    expectClose(r.grad, [-0.75, 1.5, -3, 0]);
    expect(r.metrics['half_sq_log_ratio:mean']).toBeCloseTo(0.625 / 3, 6);
  });

  it('default β = 0.05', async () => {
    // ½β = 0.025: terms −1 − 0.025·0.25 = −1.00625; 4 − 0.025 = 3.975; −1.5 → L = −1.46875
    // ∂L/∂lp = [−1 + 0.025, 2 − 0.05, −3, 0]
    const r = await run('dro', c);
    expect(r.loss).toBeCloseTo(-1.46875, 5);
    expectClose(r.grad, [-0.975, 1.95, -3, 0]);
    expect(r.metrics['loss:sum']).toBeCloseTo(-1.46875, 5);
  });
});

describe('registry', () => {
  it('holds each loss under its own name, built on its core schema', () => {
    expect(LOSS_NAMES).toEqual(Object.keys(LOSSES));
    for (const name of LOSS_NAMES) {
      const spec = LOSSES[name];
      const core = schema.LOSS_SCHEMAS[name];
      expect(spec.name).toBe(name);
      expect(spec.requiredInputs).toBe(core.requiredInputs);
      expect(spec.optionalInputs).toBe(core.optionalInputs);
      expect(spec.configDefaults).toBe(core.configDefaults);
      expect(spec.checkConfig).toBe(core.checkConfig);
      expect(Object.isFrozen(spec)).toBe(true);
      expect(getLoss(name)).toBe(spec);
    }
    expect(() => getLoss('sft')).toThrow(/Unknown loss_fn 'sft'; use one of 'cross_entropy'/);
  });

  it('re-exports the schema checks, so importers of the registry keep working', () => {
    expect(LOSS_NAMES).toBe(schema.LOSS_NAMES);
    expect(isLossName).toBe(schema.isLossName);
    expect(validateLossInputs).toBe(schema.validateLossInputs);
    expect(resolveLossConfig).toBe(schema.resolveLossConfig);
  });

  it('a compute call missing a tensor names the key', () => {
    const lp = tf.tensor1d([-1]);
    const mask = tf.tensor1d([1]);
    expect(() => LOSSES.ppo.compute(lp, { mask }, LOSSES.ppo.configDefaults)).toThrow(
      /'ppo'.*'advantages'/,
    );
    tf.dispose([lp, mask]);
  });
});
