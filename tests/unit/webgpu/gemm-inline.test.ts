// The GEMM's inline low-rank variant (L = A·Dᵀ formed in the kernel, the one-dispatch LoRA forward)
// and its residual epilogue, against a float64 reference and against the two-dispatch form
// (down = x·Dᵀ first, then the low-rank epilogue). On Dawn over SwiftShader: shapes tiny.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBf16Bits, packBf16Pairs } from '../../../src/io/dtype';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { gemm, INLINE_MAX_RANK } from '../../../src/runtime/webgpu/kernels/gemm';
import { expectNoLeaks } from '../../helpers/tf-node';
import { seededArray } from '../../helpers/seeded';
import { relError } from '../../helpers/webgpu-parity';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

interface Case {
  readonly what: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly r: number;
  readonly transB: boolean;
  readonly transR: boolean;
  readonly packed: boolean;
  readonly bias: boolean;
  readonly residual: boolean;
  readonly alpha: number;
  readonly kernel: string;
}

const CASES: readonly Case[] = [
  // The decode shape: a few rows, W [out, in] bf16-packed (vec4 loads), bias, R = B [out, r].
  {
    what: 'decode-like: 3 rows, packed Wᵀ, bias, vec4 loads, r 8',
    ...{ M: 3, N: 40, K: 48, r: 8, transB: true, transR: true, packed: true, bias: true },
    ...{ residual: false, alpha: 1, kernel: 'gemm-nt-bf16-bias-lrti-vec4' },
  },
  // Odd sizes (scalar loads), two row tiles, α ≠ 1, the residual epilogue, R as [r, N].
  {
    what: 'odd sizes: 37 rows, float32 W, α 2, residual, R [r, N], r 5',
    ...{ M: 37, N: 7, K: 9, r: 5, transB: false, transR: false, packed: false, bias: false },
    ...{ residual: true, alpha: 2, kernel: 'gemm-nn-lri-res' },
  },
  // The largest inline rank, every L column used.
  {
    what: `rank ${INLINE_MAX_RANK} (the largest inline), 33 rows, packed Wᵀ, residual`,
    ...{ M: 33, N: 24, K: 40, r: INLINE_MAX_RANK, transB: true, transR: true, packed: true },
    ...{ bias: false, residual: true, alpha: 1, kernel: 'gemm-nt-bf16-lrti-res-vec4' },
  },
];

const SCALE = 0.75;

function values(c: Case) {
  const bits = float32ToBf16Bits(seededArray(c.N * c.K, 2, 1));
  const w = c.packed ? bf16BitsToFloat32(bits) : seededArray(c.N * c.K, 2, 1);
  return {
    x: seededArray(c.M * c.K, 1, 2),
    w,
    words: packBf16Pairs(bits),
    d: seededArray(c.r * c.K, 3, 1),
    rf: seededArray(c.N * c.r, 4, 1),
    bias: seededArray(c.N, 5, 1),
    res: seededArray(c.M * c.N, 6, 2),
  };
}

/** Float64: α·x·op(W) + bias + s·(x·Dᵀ)·op(R) + res. */
function reference(c: Case, v: ReturnType<typeof values>): Float64Array {
  const { M, N, K, r } = c;
  const wAt = (k: number, n: number) => (c.transB ? v.w[n * K + k] : v.w[k * N + n]) as number;
  const rAt = (j: number, n: number) => (c.transR ? v.rf[n * r + j] : v.rf[j * N + n]) as number;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const l = new Float64Array(r);
    for (let j = 0; j < r; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += (v.x[m * K + k] as number) * (v.d[j * K + k] as number);
      l[j] = sum;
    }
    for (let n = 0; n < N; n++) {
      let main = 0;
      for (let k = 0; k < K; k++) main += (v.x[m * K + k] as number) * wAt(k, n);
      let low = 0;
      for (let j = 0; j < r; j++) low += (l[j] as number) * rAt(j, n);
      let y = c.alpha * main + SCALE * low;
      if (c.bias) y += v.bias[n] as number;
      if (c.residual) y += v.res[m * N + n] as number;
      out[m * N + n] = y;
    }
  }
  return out;
}

describe('gemm: inline low-rank term and residual (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  for (const c of CASES) {
    it(`${c.what}: one dispatch, = float64 and the two-dispatch form`, async () => {
      const v = values(c);
      const want = reference(c, v);
      await expectNoLeaks(async () => {
        const x = tf.tensor2d(v.x, [c.M, c.K]);
        const wShape: [number, number] = c.transB ? [c.N, c.K] : [c.K, c.N];
        const w = c.packed
          ? { words: tf.tensor1d(v.words, 'int32'), shape: wShape }
          : tf.tensor2d(v.w, wShape);
        const d = tf.tensor2d(v.d, [c.r, c.K]);
        const rf = tf.tensor2d(v.rf, c.transR ? [c.N, c.r] : [c.r, c.N]);
        const bias = c.bias ? tf.tensor1d(v.bias) : null;
        const res = c.residual ? tf.tensor2d(v.res, [c.M, c.N]) : null;
        const common = { transB: c.transB, alpha: c.alpha, bias, residual: res };
        const lowRank = { r: rf, transR: c.transR, scale: SCALE };
        const { result: y, work } = await countGpuWork(() =>
          gemm(x, w, { ...common, lowRank: { ...lowRank, l: d, inline: true } }),
        );
        expect(work.dispatches).toBe(1);
        expect(Object.keys(work.ours)).toEqual([c.kernel]);
        const got = (await y.data()) as Float32Array;
        expect(relError(got, want)).toBeLessThan(1e-5);
        // The two-dispatch form: down = x·Dᵀ, then the low-rank epilogue.
        const down = gemm(x, d, { transB: true });
        const two = gemm(x, w, { ...common, lowRank: { ...lowRank, l: down } });
        expect(relError(got, await two.data())).toBeLessThan(1e-5);
        tf.dispose([x, d, rf, y, down, two]);
        tf.dispose(c.packed ? (w as { words: tf.Tensor }).words : (w as tf.Tensor));
        if (bias) bias.dispose();
        if (res) res.dispose();
      });
    });
  }

  it('rejects an inline rank above the limit, a transposed A and α = 0', () => {
    const x = tf.zeros([2, 4]) as tf.Tensor2D;
    const w = tf.zeros([4, 3]) as tf.Tensor2D;
    const big = tf.zeros([INLINE_MAX_RANK + 1, 4]) as tf.Tensor2D;
    const rBig = tf.zeros([INLINE_MAX_RANK + 1, 3]) as tf.Tensor2D;
    const d = tf.zeros([2, 4]) as tf.Tensor2D;
    const r = tf.zeros([2, 3]) as tf.Tensor2D;
    const low = (l: tf.Tensor2D, rr: tf.Tensor2D) => ({
      lowRank: { l, r: rr, transR: false, scale: 1, inline: true },
    });
    expect(() => gemm(x, w, low(big, rBig))).toThrow(/must be \[r ≤ 32, 4\]/);
    const xt = tf.zeros([4, 2]) as tf.Tensor2D;
    expect(() => gemm(xt, w, { transA: true, ...low(d, r) })).toThrow(/A not transposed/);
    expect(() => gemm(x, w, { alpha: 0, ...low(d, r) })).toThrow(/α ≠ 0/);
    const wrongRes = tf.zeros([3, 3]) as tf.Tensor2D;
    expect(() => gemm(x, w, { residual: wrongRes })).toThrow(/residual is \[3,3\]/);
    tf.dispose([x, w, big, rBig, d, r, xt, wrongRes]);
  });
});
