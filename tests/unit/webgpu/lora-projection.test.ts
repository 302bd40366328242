// The LoRA projection op and the frozen projection op on webgpu (Dawn) against the stock-op path on
// the cpu backend: output and gradients w.r.t. x, A and B, for nn.Linear and Conv1D layouts,
// with and without bias, float32 and bf16-packed weights; and the dispatches each costs.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBf16Bits, packBf16Pairs } from '../../../src/io/dtype';
import { DenseLinear, type Linear } from '../../../src/lora/linear';
import { LoraLinear } from '../../../src/lora/lora-linear';
import type { ProjectionSpec } from '../../../src/model/weight-names';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { projectionKernels } from '../../../src/runtime/webgpu/ops/projection';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { expectNoLeaks } from '../../helpers/tf-node';
import { relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

// Odd sizes (9·7 = 63 weight elements: the packed form ends in a half word), rank 3.
const [N, IN, OUT, R] = [6, 9, 7, 3];
const SCALE = 16 / R;

interface Case {
  readonly layout: ProjectionSpec['layout'];
  readonly bias: boolean;
  readonly packed: boolean;
}

const CASES: readonly Case[] = [
  { layout: 'out_in', bias: false, packed: false },
  { layout: 'out_in', bias: true, packed: true },
  { layout: 'in_out', bias: true, packed: false },
  { layout: 'in_out', bias: false, packed: true },
];

const spec = (c: Case): ProjectionSpec => ({
  path: 'test.proj',
  projection: c.layout === 'out_in' ? 'q_proj' : 'c_attn',
  inFeatures: IN,
  outFeatures: OUT,
  layout: c.layout,
  hasBias: c.bias,
});

/** The weight in its stored layout; rounded to bf16 for a packed case (what the kernel reads). */
function weightValues(): { values: Float32Array; words: Int32Array } {
  const bits = float32ToBf16Bits(seededArray(IN * OUT, 2, 1));
  return { values: bf16BitsToFloat32(bits), words: packBf16Pairs(bits) };
}

const arrays = {
  x: seededArray(N * IN, 1, 2),
  bias: seededArray(OUT, 3, 1),
  a: seededArray(R * IN, 4, 1),
  b: seededArray(OUT * R, 5, 1),
  dy: seededArray(N * OUT, 6, 2),
};

interface Result {
  y: Float32Array;
  grads: Float32Array[];
  work: GpuWork;
}

/**
 * y = linear(x) and [dx, dA, dB] for the upstream gradient dy, on the current backend, through
 * DenseLinear / LoraLinear (packed weights only where asked and on webgpu).
 */
async function run(c: Case, lora: boolean, packWeight: boolean): Promise<Result> {
  const { values, words } = weightValues();
  const [rows, cols] = c.layout === 'out_in' ? [OUT, IN] : [IN, OUT];
  const w = packWeight ? tf.tensor1d(words, 'int32') : tf.tensor2d(values, [rows, cols]);
  const bias = c.bias ? tf.tensor1d(arrays.bias) : null;
  const x = tf.tensor2d(arrays.x, [N, IN]);
  const a = tf.tidy(() => tf.variable(tf.tensor2d(arrays.a, [R, IN])));
  const b = tf.tidy(() => tf.variable(tf.tensor2d(arrays.b, [OUT, R])));
  const dy = tf.tensor2d(arrays.dy, [N, OUT]);
  const base = new DenseLinear(spec(c), w, bias);
  const linear: Linear = lora ? new LoraLinear(base, a, b, SCALE) : base;
  const xs = lora ? [x, a, b] : [x];
  const { result, work } = await countGpuWork(() =>
    tf.engine().gradients(() => linear.apply(x), xs, dy),
  );
  const out = {
    y: (await result.value.data()) as Float32Array,
    grads: await Promise.all(result.grads.map(async (g) => (await g.data()) as Float32Array)),
    work,
  };
  tf.dispose([w, x, a, b, dy, result.value, ...result.grads]);
  if (bias) bias.dispose();
  return out;
}

const name = (c: Case) =>
  `${c.layout}${c.bias ? ', bias' : ''}${c.packed ? ', bf16-packed W' : ', float32 W'}`;

describe('LoRA projection op (Dawn) vs the stock path on cpu', () => {
  const reference = new Map<string, Result>();

  beforeAll(async () => {
    await useCpuAgain();
    for (const c of CASES) {
      for (const lora of [true, false])
        reference.set(`${name(c)}${lora}`, await run(c, lora, false));
    }
    await useWebGpuBackend();
  });
  afterAll(useCpuAgain);

  for (const c of CASES) {
    it(`LoRA, ${name(c)}: y, dx, dA, dB match; 2 dispatches forward, 4 backward`, async () => {
      const want = reference.get(`${name(c)}true`)!;
      const got = await expectNoLeaks(() => run(c, true, c.packed));
      expect(relativeError(got.y, want.y)).toBeLessThan(1e-5);
      ['dx', 'dA', 'dB'].forEach((g, i) => {
        expect(relativeError(got.grads[i]!, want.grads[i]!), g).toBeLessThan(1e-5);
      });
      expect(got.work.dispatches).toBe(6);
      expect(Object.values(got.work.stock)).toEqual([]);
      // The precompile list names every kernel the op dispatched.
      const listed = projectionKernels({ ...c, inFeatures: IN, outFeatures: OUT, rank: R }).map(
        (k) => k.name,
      );
      expect(listed).toEqual(expect.arrayContaining(Object.keys(got.work.ours)));
    });

    it(`frozen, ${name(c)}: y and dx match; 1 dispatch forward, 1 backward`, async () => {
      const want = reference.get(`${name(c)}false`)!;
      const got = await expectNoLeaks(() => run(c, false, c.packed));
      expect(relativeError(got.y, want.y)).toBeLessThan(1e-5);
      expect(relativeError(got.grads[0]!, want.grads[0]!)).toBeLessThan(1e-5);
      expect(got.work.dispatches).toBe(2);
      const listed = projectionKernels({ ...c, inFeatures: IN, outFeatures: OUT }).map(
        (k) => k.name,
      );
      expect(listed).toEqual(expect.arrayContaining(Object.keys(got.work.ours)));
    });
  }

  it('lists vec4-load kernels for model-sized projections (SmolLM2 q_proj, r 8)', () => {
    const shape = { layout: 'out_in', inFeatures: 576, outFeatures: 576, bias: false } as const;
    const names = projectionKernels({ ...shape, packed: true, rank: 8 }).map((k) => k.name);
    expect(names).toHaveLength(5); // dA and dB share one variant
    expect(names.every((n) => n.endsWith('-vec4'))).toBe(true);
  });

  it('the stock path on webgpu (kernels off) gives the same values, in more dispatches', async () => {
    const c = CASES[1]!;
    const want = reference.get(`${name(c)}true`)!;
    const ours = await run(c, true, false);
    const stock = await withGpuKernels(false, () => run(c, true, false));
    const packedStock = await withGpuKernels(false, () => run(c, true, true));
    for (const r of [stock, packedStock]) {
      expect(relativeError(r.y, want.y)).toBeLessThan(1e-5);
      expect(relativeError(r.grads[1]!, want.grads[1]!)).toBeLessThan(1e-5);
    }
    expect(stock.work.ours).toEqual({});
    console.log(
      `LoRA projection forward+backward dispatches: ours ${ours.work.dispatches}, ` +
        `stock ${stock.work.dispatches} (${JSON.stringify(stock.work.stock)})`,
    );
    expect(ours.work.dispatches).toBeLessThan(stock.work.dispatches);
  });
});
