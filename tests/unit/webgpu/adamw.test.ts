// AdamW over an arena on webgpu (src/optim/adamw-arena.ts: grad-norm partials + one update kernel
// for all parameters) against the stock-op AdamW on cpu (src/optim/adamw.ts, itself tested against
// torch's formulas in tests/unit/adamw.test.ts) and the float64 AdamW from torch's formulas
// (tests/helpers/adamw-runs.ts); with clipping, weight decay and sizes that are not multiples of
// 4. Also the gradient buffer's arena and the dispatch counts.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAM_DEFAULTS, AdamW, type AdamHyperparams } from '../../../src/optim/adamw';
import { GradientBuffer } from '../../../src/optim/gradient-buffer';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { precompile } from '../../../src/runtime/webgpu/gpu-runtime';
import { ADAMW_UPDATE, ARENA_ADD } from '../../../src/runtime/webgpu/kernels/adamw';
import { GRAD_NORM_PARTIALS } from '../../../src/runtime/webgpu/kernels/grad-norm';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { adamParams, maxRelError, referenceAdamW, runAdamW } from '../../helpers/adamw-runs';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const SHAPES = [[3, 5], [7], [4, 2], [1]];
const STEPS = 5;
// Gradient norms here are ≈ 3–4: max_norm 1 clips every step.
const HP: AdamHyperparams = {
  ...ADAM_DEFAULTS,
  learning_rate: 1e-2,
  weight_decay: 0.1,
  grad_clip_norm: 1,
  eps: 1e-8,
};

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const P0 = SHAPES.map((s, k) => seededArray(size(s), 100 + k, 2));
const GRADS = Array.from({ length: STEPS }, (_, t) =>
  SHAPES.map((s, k) => seededArray(size(s), 10 * t + k, 2)),
);

const makeParams = (tag: string) => adamParams(P0, SHAPES, tag);

/** `STEPS` steps through `AdamW.step` (tensor gradients), with the kernels switch as given. */
const run = (tag: string, kernelsOn: (step: number) => boolean) =>
  runAdamW(P0, GRADS, HP, {
    shapes: SHAPES,
    tag,
    aroundStep: (t, step) => withGpuKernels(kernelsOn(t), step),
  });

const worst = (got: number[][], want: number[][]) => maxRelError(got, want, 1e-3);

describe('AdamW arena (Dawn)', () => {
  beforeAll(async () => {
    await useWebGpuBackend();
    await precompile([GRAD_NORM_PARTIALS, ADAMW_UPDATE, ARENA_ADD]);
  }, 120_000);
  afterAll(useCpuAgain);

  it('5 clipped steps with weight decay match the cpu optimizer and float64 torch', async () => {
    const ours = await expectNoLeaks(() => run('gpu', () => true));
    await tf.setBackend('cpu');
    const cpu = await run('cpu', () => true);
    await tf.setBackend('webgpu');
    const ref = referenceAdamW(P0, GRADS, HP);
    expect(worst(ours.p, cpu.p), 'params vs cpu AdamW').toBeLessThan(1e-6);
    expect(worst(ours.p, ref.p), 'params vs float64').toBeLessThan(1e-6);
    expect(worst([ours.norms], [cpu.norms]), 'norms vs cpu').toBeLessThan(1e-6);
    expect(worst([ours.norms], [ref.norms]), 'norms vs float64').toBeLessThan(1e-6);
    // The exported moments (one read of the arena) agree too.
    const flat = (s: typeof ours.state) => s.moments.map((x) => [...x.m, ...x.v]);
    expect(ours.state.step).toBe(STEPS);
    expect(worst(flat(ours.state), flat(cpu.state)), 'moments vs cpu').toBeLessThan(1e-5);
  });

  it('switching the kernels off and on between steps moves the state without changing it', async () => {
    const straight = await run('a', () => true);
    const mixed = await run('b', (t) => t % 2 === 0);
    expect(worst(mixed.p, straight.p)).toBeLessThan(1e-6);
  });

  it('export after 3 steps, import into a new optimizer, 2 more = 5 straight', async () => {
    const straight = await run('s', () => true);
    const params = makeParams('r');
    let opt = new AdamW();
    for (let t = 0; t < STEPS; t++) {
      if (t === 3) {
        const state = await opt.exportState();
        opt.dispose();
        opt = AdamW.fromState(state);
      }
      const g = GRADS[t]!.map((x, k) => tf.tensor(x, SHAPES[k]!));
      await opt.step(params, g, HP);
      tf.dispose(g);
    }
    const p = await Promise.all(params.map(async (x) => Array.from(await x.data())));
    expect(worst(p, straight.p)).toBe(0);
    opt.dispose();
    tf.dispose(params);
  });

  it('an optimizer step from the gradient buffer is 2 dispatches for all tensors', async () => {
    const params = makeParams('d');
    const buffer = new GradientBuffer(params);
    const opt = new AdamW();
    const g = GRADS[0]!.map((x, k) => tf.tensor(x, SHAPES[k]!));
    const first = await countGpuWork(() => buffer.add(g));
    const second = await countGpuWork(() =>
      buffer.add({ [params[1]!.name]: g[1]!, [params[3]!.name]: g[3]! }),
    );
    expect(first.work.dispatches, 'first add: copies only').toBe(0);
    expect(second.work.ours, 'second add: one add for all').toEqual({ 'arena-add': 1 });
    const sums = buffer.get();
    const got = await Promise.all(sums.map(async (x) => Array.from(await x.data())));
    const want = GRADS[0]!.map((x, k) => Array.from(x, (v) => (k % 2 === 1 ? 2 * v : v)));
    expect(worst(got, want)).toBeLessThan(1e-7);
    tf.dispose(sums);
    const arena = buffer.deviceSums()!;
    const { result, work } = await countGpuWork(() => opt.update(params, arena, HP));
    buffer.zero(true);
    expect(work.ours).toEqual({ 'grad-norm-partials': 1, 'adamw-update': 1 });
    expect(work.dispatches).toBe(2);
    const norm = (await result.gradNorm.data())[0]!;
    const n = Math.sqrt(want.flat().reduce((a, x) => a + x * x, 0));
    expect(Math.abs(norm - n) / n).toBeLessThan(1e-6);
    // The update zeroed the sums in place.
    const zeros = buffer.get();
    for (const z of zeros) expect(Math.max(...Array.from(await z.data(), Math.abs))).toBe(0);
    tf.dispose([result.gradNorm, ...zeros, ...g, ...params]);
    buffer.dispose();
    opt.dispose();
  });
});
