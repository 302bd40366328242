// The wasm backend against the cpu backend, op by op, forward and gradient, before and after
// registerWasmKernels(); and each custom kernel against its plain-TypeScript float64 reference.
// Tolerance: max relative error < 1e-4 (maxRelError: |a − b| / (|b| + 1e-3)), bools and ints exact.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import {
  PER_ITEM_MIN_MACS,
  planMatMul,
  swapsTransposedA,
} from '../../src/runtime/wasm-kernels/batch-mat-mul';
import { SKINNY_MAX_ROWS, skinnyGemm } from '../../src/runtime/wasm-kernels/skinny-gemm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { ValidationError } from '../../src/errors/loops-errors';
import { outputsOn, seededArray, type TensorOutput } from '../helpers/tf-node';
import { maxRelError } from '../reference/self-check';
import { OP_FAMILIES, ids, rand, size } from '../reference/wasm-kernel-op-families';
import { referenceSegmentSum } from '../reference/wasm-kernel-segment-sum';
import { referenceMatMul, type MatMulCase } from '../reference/wasm-kernel-matmul';

const measured: Record<string, number> = {};

/**
 * wasm and cpu give the same dtypes, shapes and values: max relative error < tol, or identical
 * when tol is 0.
 */
async function expectParity(name: string, build: () => tf.Tensor[], tol = 1e-4): Promise<void> {
  const cpu = await outputsOn('cpu', build);
  const wasm = await outputsOn('wasm', build);
  if (tol === 0) {
    measured[name] = 0;
    expect(wasm, name).toEqual(cpu);
    return;
  }
  expect(wasm.map((o) => [o.dtype, o.shape])).toEqual(cpu.map((o) => [o.dtype, o.shape]));
  let worst = 0;
  wasm.forEach((o, i) => (worst = Math.max(worst, maxRelError(o.values, cpu[i]?.values ?? []))));
  measured[name] = worst;
  expect(worst, name).toBeLessThan(tol);
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

afterAll(async () => {
  await tf.setBackend('cpu');
  const rows = Object.entries(measured).map(([k, v]) => `${k}: ${v.toExponential(2)}`);
  console.info(`wasm vs cpu, max relative error per case:\n${rows.join('\n')}`);
});

// Runs first, before registerWasmKernels(): what the package gets wrong on its own. If a TF.js
// upgrade fixes one of these, this fails, and the matching kernel in src/runtime can go.
describe('the wasm package alone (TF.js 4.22)', () => {
  it('has no UnsortedSegmentSum, so the gradient of gather throws', async () => {
    await tf.setBackend('wasm');
    const e = rand([4, 3], 1);
    const i = ids([0, 2]);
    expect(() => tf.grad((x: tf.Tensor) => tf.sum(tf.gather(x, i)))(e)).toThrow(
      /UnsortedSegmentSum' not registered for backend 'wasm'/,
    );
    tf.dispose([e, i]);
  });

  it('casts numbers to bool modulo 256 (0.5 → false, 256 → false, −1 → 255)', async () => {
    const [out] = await outputsOn('wasm', () => [tf.cast(tf.tensor1d([0.5, 256, -1, 1]), 'bool')]);
    expect(out?.values).toEqual([0, 0, 255, 1]);
  });
});

describe('registerWasmKernels', () => {
  beforeAll(() => {
    registerWasmKernels();
  });

  it('registers UnsortedSegmentSum, Cast, BatchMatMul, Identity, Slice and SplitV for wasm only, idempotently', () => {
    const cpuCast = tf.getKernel('Cast', 'cpu').kernelFunc;
    const names = ['UnsortedSegmentSum', 'Cast', 'BatchMatMul', 'Identity', 'Slice', 'SplitV'];
    const funcs = (): tf.KernelFunc[] => names.map((k) => tf.getKernel(k, 'wasm').kernelFunc);
    const first = funcs();
    expect(registerWasmKernels()).toEqual(names);
    expect(funcs()).toEqual(first);
    expect(tf.getKernel('Cast', 'cpu').kernelFunc).toBe(cpuCast);
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).toBeDefined();
  });

  it('keeps the wrapped kernels working after the backend is set up again', async () => {
    await tf.setBackend('cpu');
    await expectParity('matMul after setBackend round trip', () => [
      tf.matMul(rand([3, 4], 1), rand([4, 5], 2)),
    ]);
  });
});

describe('UnsortedSegmentSum kernel against its float64 reference', () => {
  const segmentSumOnWasm = (
    x: Float32Array | Int32Array,
    xShape: number[],
    segIds: number[],
    idShape: number[],
    numSegments: number,
  ): Promise<TensorOutput[]> =>
    outputsOn('wasm', () => [
      tf.unsortedSegmentSum(
        tf.tensor(x, xShape, x instanceof Int32Array ? 'int32' : 'float32'),
        ids(segIds, idShape) as tf.Tensor1D,
        numSegments,
      ),
    ]);

  it('sums repeated ids, leaves unnamed segments zero and drops ids outside [0, S)', async () => {
    const x = seededArray(6 * 3, 5);
    const segIds = [0, 2, 2, 4, -1, 6]; // −1 and 6 (= S) are dropped; segments 1, 3, 5 stay zero
    const [out] = await segmentSumOnWasm(x, [6, 3], segIds, [6], 6);
    expect(out?.shape).toEqual([6, 3]);
    expect(maxRelError(out?.values ?? [], referenceSegmentSum(x, segIds, 3, 6))).toBeLessThan(1e-6);
    expect(out?.values.slice(3, 6)).toEqual([0, 0, 0]);
  });

  it('takes 2-D ids over a 3-D x, and int32 x exactly', async () => {
    const x = seededArray(2 * 3 * 4, 6);
    const segIds = [1, 0, 1, 3, 3, 1];
    const [out] = await segmentSumOnWasm(x, [2, 3, 4], segIds, [2, 3], 4);
    expect(out?.shape).toEqual([4, 4]);
    expect(maxRelError(out?.values ?? [], referenceSegmentSum(x, segIds, 4, 4))).toBeLessThan(1e-6);
    const xi = Int32Array.from([1, 2, 3, 4, 5, 6]);
    const [outInt] = await segmentSumOnWasm(xi, [3, 2], [1, 1, 0], [3], 2);
    expect(outInt).toEqual({ dtype: 'int32', shape: [2, 2], values: [5, 6, 4, 6] }); // 1+3, 2+4
  });

  it('stays right when its output grows the wasm heap (views taken after allocation)', async () => {
    const numSegments = 1 << 21; // output [2^21, 4] float32 = 32 MiB, past the 16 MiB start heap
    const x = seededArray(3 * 4, 7);
    const [out] = await segmentSumOnWasm(
      x,
      [3, 4],
      [numSegments - 1, 0, numSegments - 1],
      [3],
      numSegments,
    );
    const v = out?.values ?? [];
    const last = (numSegments - 1) * 4;
    expect(v.slice(0, 4)).toEqual([...x.slice(4, 8)]);
    expect(
      maxRelError(
        v.slice(last),
        [0, 1, 2, 3].map((j) => x[j]! + x[8 + j]!),
      ),
    ).toBeLessThan(1e-6);
    expect(v.slice(4, last).every((value) => value === 0)).toBe(true);
  });

  it('names the shapes when segmentIds is not a prefix of x', async () => {
    await tf.setBackend('wasm');
    const x = rand([4, 3], 1);
    const bad = ids([0, 1, 2]);
    expect(() => tf.unsortedSegmentSum(x, bad as tf.Tensor1D, 3)).toThrow(ValidationError);
    expect(() => tf.unsortedSegmentSum(x, bad as tf.Tensor1D, 3)).toThrow(/\[3\].*\[4, 3\]/);
    tf.dispose([x, bad]);
  });
});

describe('Identity kernel', () => {
  it('shares the buffer instead of copying, and the copy outlives the original', async () => {
    await tf.setBackend('wasm');
    registerWasmKernels();
    const backend = tf.backend() as unknown as { refCount(id: tf.DataId): number };
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x); // runs Identity
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3]);
    y.dispose();
    expect(backend.refCount(x.dataId)).toBe(0);
    await tf.setBackend('cpu');
  });
});

describe('Cast kernel', () => {
  it('casts numbers to bool as x ≠ 0, NaN included, like cpu', async () => {
    const build = (): tf.Tensor[] => [
      tf.cast(tf.tensor1d([0.5, 0, -2, Number.NaN, 256, 1e-30]), 'bool'),
      tf.cast(tf.tensor1d([256, 0, -1], 'int32'), 'bool'),
    ];
    const [floats, ints] = await outputsOn('wasm', build);
    expect(floats?.values).toEqual([1, 0, 1, 1, 1, 1]);
    expect(ints?.values).toEqual([1, 0, 1]);
    await expectParity('cast to bool', build, 0);
  });

  it('leaves the other casts to the package', async () => {
    await expectParity(
      'cast float↔int, bool→float',
      () => [
        tf.cast(tf.tensor1d([1.7, -1.7, 2.5, 3e9]), 'int32'),
        tf.cast(tf.tensor1d([3, -4], 'int32'), 'float32'),
        tf.cast(tf.tensor1d([true, false], 'bool'), 'float32'),
        tf.cast(tf.tensor1d([true, false], 'bool'), 'bool'),
      ],
      0,
    );
  });
});

describe('BatchMatMul kernel', () => {
  it('plans a route per shape', () => {
    const route = (a: number[], b: number[], tA = false, tB = false): string =>
      planMatMul(a, b, tA, tB).route;
    expect(route([5, 7], [7, 3], true, true)).toBe('package'); // inner 5 ≠ 3
    expect(route([7, 5], [3, 7], true, true)).toBe('fold');
    expect(route([1, 576], [49152, 576], false, true)).toBe('skinny'); // decode's unembedding
    expect(route([8, 1, 576], [1536, 576], false, true)).toBe('skinny'); // 8 rows ≤ SKINNY_MAX_ROWS
    expect(route([9, 1, 576], [1536, 576], false, true)).toBe('swap'); // 9 rows
    expect(route([1, 576], [49150, 576], false, true)).toBe('swap'); // N not a multiple of 4
    expect(route([1, 570], [49152, 570], false, true)).toBe('swap'); // K not a multiple of 4
    expect(route([576, 1], [49152, 576], true, true)).toBe('fold'); // Aᵀ: not this kernel's
    expect(route([4, 64, 576], [1536, 576], false, true)).toBe('swap'); // 256·2112 < 1536·576
    expect(route([2048, 576], [576, 576], false, true)).toBe('fold'); // 2048·1152 > 576²
    expect(route([1, 576], [576, 49152], false, false)).toBe('fold'); // no Bᵀ to avoid
    expect(route([2, 3, 5, 7], [7, 4])).toBe('fold');
    expect(route([8, 64, 32], [8, 32, 64])).toBe('per-item'); // 64·32·64 = 2^17 ≥ 2^15
    expect(route([1, 64, 32], [8, 32, 64])).toBe('per-item');
    expect(route([8, 16, 8], [8, 8, 16])).toBe('package'); // 16·8·16 = 2^11 < 2^15
    expect(route([2, 1, 64, 64], [1, 3, 64, 64])).toBe('package'); // batch 2 vs 3
    expect(planMatMul([2, 3, 5, 7], [7, 4], false, false).outShape).toEqual([2, 3, 5, 4]);
    const swapsA = (a: number[], b: number[], tA: boolean, tB: boolean): boolean =>
      swapsTransposedA(planMatMul(a, b, tA, tB), tA, tB);
    expect(swapsA([256, 1536], [256, 8], true, false)).toBe(true); // a LoRA ∂B
    expect(swapsA([1, 3, 768, 256], [1, 3, 768, 64], true, false)).toBe(true); // attention's ∂V
    expect(swapsA([7, 40], [7, 3], true, false)).toBe(true);
    expect(swapsA([256, 8], [256, 576], true, false)).toBe(false); // A is the narrow one
    expect(swapsA([170, 49152], [170, 8], true, false)).toBe(false); // ≥ TILED_MIN_ELEMENTS
    expect(swapsA([256, 1536], [8, 256], true, true)).toBe(false); // Bᵀ too
    expect(swapsA([2, 256, 1536], [256, 8], true, false)).toBe(false); // batches differ
    expect(PER_ITEM_MIN_MACS).toBe(1 << 15);
    expect(SKINNY_MAX_ROWS).toBe(8);
  });

  const cases: (MatMulCase & { aShape: number[]; bShape: number[] })[] = [];
  for (const [tA, tB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    const [m, k, n] = [5, 7, 3];
    const a2 = tA ? [k, m] : [m, k];
    const b2 = tB ? [n, k] : [k, n];
    const c = { m, k, n, transposeA: tA, transposeB: tB };
    cases.push({ ...c, batchA: 1, batchB: 1, aShape: a2, bShape: b2 }); // fold, 2-D
    cases.push({ ...c, batchA: 6, batchB: 1, aShape: [2, 3, ...a2], bShape: b2 }); // fold
  }
  const swap = { m: 2, k: 7, n: 40, transposeA: false, transposeB: true, batchB: 1 };
  cases.push({ ...swap, batchA: 1, aShape: [2, 7], bShape: [40, 7] }); // swap, 2-D
  cases.push({ ...swap, batchA: 2, aShape: [2, 1, 2, 7], bShape: [40, 7] }); // swap, folded rows
  // skinny: K and N multiples of 4, at most 8 rows of A; K of 4 (one f32x4 step) and of 36.
  const skinny = { k: 36, n: 44, transposeA: false, transposeB: true, batchB: 1 };
  cases.push({ ...skinny, m: 1, batchA: 1, aShape: [1, 36], bShape: [44, 36] }); // one row (GEMV)
  cases.push({ ...skinny, m: 4, batchA: 2, aShape: [2, 1, 4, 36], bShape: [44, 36] }); // 8 rows
  cases.push({ ...skinny, k: 4, m: 3, batchA: 1, aShape: [3, 4], bShape: [44, 4] });
  // Aᵀ·B with B of few columns, computed as (Bᵀ·A)ᵀ (swapsTransposedA): 2-D, and per item.
  const swapA = { transposeA: true, transposeB: false };
  cases.push({
    ...swapA,
    m: 40,
    k: 7,
    n: 3,
    batchA: 1,
    batchB: 1,
    aShape: [7, 40],
    bShape: [7, 3],
  });
  cases.push({
    ...swapA,
    m: 64,
    k: 48,
    n: 16,
    batchA: 4,
    batchB: 4,
    aShape: [2, 2, 48, 64],
    bShape: [2, 2, 48, 16],
  });
  const big = { m: 40, k: 24, n: 36, transposeA: false }; // 34 560 MACs per item ≥ 2^15
  cases.push({
    ...big,
    transposeB: true,
    batchA: 4,
    batchB: 4,
    aShape: [2, 2, 40, 24],
    bShape: [2, 2, 36, 24],
  });
  cases.push({
    ...big,
    transposeB: false,
    batchA: 1,
    batchB: 3,
    aShape: [40, 24],
    bShape: [3, 24, 36],
  });
  cases.push({
    ...big,
    m: 4,
    transposeB: false,
    batchA: 3,
    batchB: 3,
    aShape: [3, 4, 24],
    bShape: [3, 24, 36],
  }); // package

  it.each(cases)(
    'A $aShape (T=$transposeA) · B $bShape (T=$transposeB) matches float64 and frees its temporaries',
    async (c) => {
      const a = seededArray(size(c.aShape), 21);
      const b = seededArray(size(c.bShape), 22);
      await tf.setBackend('wasm');
      const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
      const [out] = await outputsOn('wasm', () => [
        tf.matMul(tf.tensor(a, c.aShape), tf.tensor(b, c.bShape), c.transposeA, c.transposeB),
      ]);
      const error = maxRelError(out?.values ?? [], referenceMatMul(c, a, b));
      measured[
        `matMul ${c.aShape}${c.transposeA ? 'ᵀ' : ''}·${c.bShape}${c.transposeB ? 'ᵀ' : ''} vs float64`
      ] = error;
      expect(error).toBeLessThan(1e-4);
      expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIds);
    },
  );
});

describe('skinny kernel (our SIMD A·Bᵀ)', () => {
  /** C = A·Bᵀ by the kernel itself; null when it declined. */
  async function skinny(m: number, n: number, k: number): Promise<number[] | null> {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as BackendWasm;
    const a = tf.tensor(seededArray(m * k, 31), [m, k]);
    const b = tf.tensor(seededArray(n * k, 32), [n, k]);
    const out = backend.makeOutput([m, n], 'float32');
    const ran = skinnyGemm(backend, a, b, out, m, n, k);
    const c = tf.engine().makeTensorFromTensorInfo(out);
    const values = ran ? Array.from(await c.data()) : null;
    tf.dispose([a, b, c]);
    return values;
  }

  it('runs here (Node has wasm SIMD) and matches float64 for K from one f32x4 step up', async () => {
    for (const [m, n, k] of [
      [1, 4, 4],
      [1, 8, 36],
      [3, 12, 8],
      [4, 44, 576],
    ] as const) {
      const got = await skinny(m, n, k);
      expect(got, `${m}×${k} · ${n}×${k}ᵀ`).not.toBeNull();
      const c = { m, n, k, batchA: 1, batchB: 1, transposeA: false, transposeB: true };
      const ref = referenceMatMul(c, seededArray(m * k, 31), seededArray(n * k, 32));
      expect(maxRelError(got!, ref)).toBeLessThan(1e-4); // as the routes above: float32 sums
    }
  });

  it('declines K or N that is not a multiple of 4, writing nothing', async () => {
    expect(await skinny(1, 6, 8)).toBeNull();
    expect(await skinny(1, 8, 6)).toBeNull();
  });
});

describe('op families: forward and gradient on wasm equal cpu', () => {
  it.each(Object.keys(OP_FAMILIES))('%s', async (name) => {
    await expectParity(name, OP_FAMILIES[name]!);
  });

  it('end to end: ∂/∂E, ∂/∂W of Σ log_softmax(gather(E, ids)·Wᵀ)', async () => {
    const tokens = [3, 0, 3, 10, 5, 3, 7];
    const build = (): tf.Tensor[] => {
      const e = rand([11, 6], 1); // [V, C]
      const w = rand([11, 6], 2); // [V, C]
      const i = ids(tokens); // [T]
      const f = (E: tf.Tensor, W: tf.Tensor): tf.Scalar =>
        tf.sum(tf.logSoftmax(tf.matMul(tf.gather(E, i), W, false, true))); // [T, V] → []
      return tf.grads(f)([e, w]);
    };
    await expectParity('end to end', build);
    const [gradE] = await outputsOn('wasm', build);
    // Rows of E that no token gathers get no gradient: 1, 2, 4, 6, 8, 9.
    for (const row of [1, 2, 4, 6, 8, 9]) {
      expect(gradE?.values.slice(row * 6, row * 6 + 6)).toEqual([0, 0, 0, 0, 0, 0]);
    }
    expect(gradE?.values.slice(3 * 6, 3 * 6 + 6).some((g) => g !== 0)).toBe(true);
  });
});

// Not wasm's doing: gradients TF.js 4.22 cannot take on any backend. The model must avoid them
// (reshape [B, T, C] to rows before a matmul with a 2-D weight; cumsum on the last axis only).
describe('TF.js 4.22 gradients that fail on every backend', () => {
  const failing: [string, () => unknown, RegExp][] = [
    [
      'matMul [B,T,C]·[C,N]',
      () =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b)))([
          tf.ones([2, 3, 4]),
          tf.ones([4, 5]),
        ]),
      /gradient of input 'b' has shape '2,4,5'/,
    ],
    [
      'stridedSlice',
      () => tf.grad((v: tf.Tensor) => tf.sum(tf.stridedSlice(v, [0], [4], [2])))(tf.ones([4])),
      /gradient function not found for StridedSlice/,
    ],
    [
      'cumsum on a non-last axis',
      () => tf.grad((v: tf.Tensor) => tf.sum(tf.cumsum(v, 0)))(tf.ones([3, 4])),
      /gradient of input 'x' has shape '4,3'/,
    ],
    [
      'squaredDifference with broadcasting',
      () =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.squaredDifference(a, b)))([
          tf.ones([3, 4]),
          tf.ones([4]),
        ]),
      /gradient of input 'b' has shape '3,4'/,
    ],
    [
      'bandPart of a rank-2 tensor',
      () => tf.grad((v: tf.Tensor) => tf.sum(tf.linalg.bandPart(v, -1, 0)))(tf.ones([4, 4])),
      /passed to stack must be a `Tensor\[\]`/,
    ],
  ];
  it.each(failing)('%s', async (_name, f, message) => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      expect(() => tf.tidy(() => void f())).toThrow(message);
    }
  });
});
