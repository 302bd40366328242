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
  residual: seededArray(N * OUT, 7, 2),
};

interface Result {
  y: Float32Array;
  grads: Float32Array[];
  work: GpuWork;
}

interface RunOptions {
  /** y = residual + linear(x) through `applyAdd`; its gradient comes last. */
  readonly residual?: boolean;
  /** Record a gradient (the default); without, forward only: `grads` is empty. */
  readonly tape?: boolean;
}

/**
 * y = linear(x) and [dx, dA, dB] for the upstream gradient dy, on the current backend, through
 * DenseLinear / LoraLinear (packed weights only where asked and on webgpu).
 */
async function run(
  c: Case,
  lora: boolean,
  packWeight: boolean,
  options: RunOptions = {},
): Promise<Result> {
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
  const res = options.residual ? tf.tensor2d(arrays.residual, [N, OUT]) : null;
  const xs = [...(lora ? [x, a, b] : [x]), ...(res ? [res] : [])];
  const forward = () => (res ? linear.applyAdd!(x, res) : linear.apply(x));
  const { result, work } = await countGpuWork(() =>
    options.tape === false
      ? { value: forward(), grads: [] as tf.Tensor[] }
      : tf.engine().gradients(forward, xs, dy),
  );
  const out = {
    y: (await result.value.data()) as Float32Array,
    grads: await Promise.all(result.grads.map(async (g) => (await g.data()) as Float32Array)),
    work,
  };
  tf.dispose([w, x, a, b, dy, result.value, ...result.grads]);
  if (res) res.dispose();
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
      for (const lora of [true, false]) {
        reference.set(`${name(c)}${lora}`, await run(c, lora, false));
        reference.set(`${name(c)}${lora}res`, await run(c, lora, false, { residual: true }));
      }
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

  for (const c of [CASES[1]!, CASES[2]!]) {
    it(`LoRA without a tape, ${name(c)}: y matches in 1 dispatch (x·Aᵀ in the kernel)`, async () => {
      const want = reference.get(`${name(c)}true`)!;
      const got = await expectNoLeaks(() => run(c, true, c.packed, { tape: false }));
      expect(relativeError(got.y, want.y)).toBeLessThan(1e-5);
      expect(got.work.dispatches).toBe(1);
      expect(Object.keys(got.work.ours)).toEqual([expect.stringMatching(/-lrt?i(-|$)/)]);
      const listed = projectionKernels({ ...c, inFeatures: IN, outFeatures: OUT, rank: R });
      expect(listed.map((k) => k.name)).toEqual(expect.arrayContaining(Object.keys(got.work.ours)));
    });

    it(`residual fused, ${name(c)}: LoRA y and every gradient (the residual's = dy); frozen too`, async () => {
      for (const lora of [true, false]) {
        const want = reference.get(`${name(c)}${lora}res`)!;
        const got = await expectNoLeaks(() => run(c, lora, c.packed, { residual: true }));
        expect(relativeError(got.y, want.y)).toBeLessThan(1e-5);
        expect(got.grads).toHaveLength(want.grads.length);
        got.grads.forEach((g, i) => expect(relativeError(g, want.grads[i]!)).toBeLessThan(1e-5));
        expect(got.grads.at(-1)).toEqual(arrays.dy);
        // The add costs no dispatch: as without the residual (2 + 4 LoRA, 1 + 1 frozen).
        expect(got.work.dispatches).toBe(lora ? 6 : 2);
        expect(Object.values(got.work.stock)).toEqual([]);
        const untaped = await expectNoLeaks(() =>
          run(c, lora, c.packed, { residual: true, tape: false }),
        );
        expect(relativeError(untaped.y, want.y)).toBeLessThan(1e-5);
        expect(untaped.work.dispatches).toBe(1);
      }
    });
  }

  it('lists vec4-load kernels for model-sized projections (SmolLM2 q_proj, r 8)', () => {
    const shape = { layout: 'out_in', inFeatures: 576, outFeatures: 576, bias: false } as const;
    const names = projectionKernels({ ...shape, packed: true, rank: 8 }).map((k) => k.name);
    expect(names).toHaveLength(6); // dA and dB share one variant; the inline forward
    expect(names).toContain('gemm-nt-bf16-lrti-vec4');
    const withResidual = projectionKernels({ ...shape, packed: true, rank: 8, residual: true });
    expect(withResidual.map((k) => k.name)).toContain('gemm-nt-bf16-lrti-res-vec4');
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
