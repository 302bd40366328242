// The tiled GEMM kernel against a float64 reference: every transpose combination, bias, α,
// accumulate, the low-rank epilogue (both R layouts) and bf16-packed B, at sizes that are not
// multiples of the 32×32 tile. On Dawn over SwiftShader: shapes tiny, variants few.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBf16Bits, packBf16Pairs } from '../../../src/io/dtype';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { compileMessages } from '../../../src/runtime/webgpu/gpu-runtime';
import { gemm, gemmKernel, type GemmVariant } from '../../../src/runtime/webgpu/kernels/gemm';
import { expectNoLeaks } from '../../helpers/tf-node';
import { seededArray } from '../../helpers/seeded';
import { relError } from '../../helpers/webgpu-parity';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

interface Mat {
  data: Float32Array;
  rows: number;
  cols: number;
}

const mat = (rows: number, cols: number, seed: number): Mat => ({
  data: seededArray(rows * cols, seed, 2),
  rows,
  cols,
});

/** Element (i, j) of op(X). */
const at = (x: Mat, trans: boolean, i: number, j: number): number =>
  (trans ? x.data[j * x.cols + i] : x.data[i * x.cols + j]) as number;

/** Float64 reference of C = α·op(A)·op(B) + bias + s·L·op(R) + C0. */
function reference(
  M: number,
  N: number,
  K: number,
  a: Mat,
  transA: boolean,
  b: Mat,
  transB: boolean,
  extra: {
    alpha?: number;
    bias?: Float32Array;
    low?: { l: Mat; r: Mat; transR: boolean; s: number };
    c0?: Float32Array;
  } = {},
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += at(a, transA, m, k) * at(b, transB, k, n);
      let v = (extra.alpha ?? 1) * sum;
      if (extra.bias) v += extra.bias[n] as number;
      if (extra.low) {
        const { l, r, transR, s } = extra.low;
        let lr = 0;
        for (let j = 0; j < l.cols; j++) lr += at(l, false, m, j) * at(r, transR, j, n);
        v += s * lr;
      }
      if (extra.c0) v += extra.c0[m * N + n] as number;
      out[m * N + n] = v;
    }
  }
  return out;
}

const tensor = (x: Mat) => tf.tensor2d(x.data, [x.rows, x.cols]);

/** B's values rounded to bf16 (what the packed kernel sees) and its packed words. */
function bf16(x: Mat): { rounded: Mat; words: Int32Array } {
  const bits = float32ToBf16Bits(x.data);
  return { rounded: { ...x, data: bf16BitsToFloat32(bits) }, words: packBf16Pairs(bits) };
}

describe('gemm kernel (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it('compiles cleanly in every variant the LoRA projection uses', async () => {
    const variants: GemmVariant[] = [
      {
        transA: false,
        transB: true,
        packedB: true,
        bias: true,
        accumulate: false,
        lowRank: { transR: true },
      },
      {
        transA: false,
        transB: false,
        packedB: true,
        bias: false,
        accumulate: true,
        lowRank: { transR: false },
      },
      {
        transA: true,
        transB: false,
        packedB: false,
        bias: false,
        accumulate: false,
        lowRank: null,
      },
    ];
    for (const v of variants) expect(await compileMessages(gemmKernel(v))).toEqual([]);
  });

  // Odd sizes take the scalar-load kernels; 36×40×24 the vec4 ones (every operand's rows a
  // multiple of 4; 36 rows still end in a part tile).
  for (const [M, N, K] of [
    [5, 7, 9],
    [33, 65, 17],
    [36, 40, 24],
  ] as const) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`${M}×${N}×${K}, A${transA ? 'ᵀ' : ''}·B${transB ? 'ᵀ' : ''}`, async () => {
          const a = transA ? mat(K, M, 1) : mat(M, K, 1);
          const b = transB ? mat(N, K, 2) : mat(K, N, 2);
          const want = reference(M, N, K, a, transA, b, transB);
          await expectNoLeaks(async () => {
            const [ta, tb] = [tensor(a), tensor(b)];
            const { result: c, work } = await countGpuWork(() => gemm(ta, tb, { transA, transB }));
            expect(c.shape).toEqual([M, N]);
            expect(relError(await c.data(), want)).toBeLessThan(1e-5);
            expect(work.dispatches).toBe(1);
            expect(Object.keys(work.ours)[0]!.endsWith('-vec4')).toBe(N === 40);
            tf.dispose([ta, tb, c]);
          });
        });
      }
    }
  }

  it('adds a bias and the low-rank term (R as [N, r]) over bf16-packed Bᵀ, in one dispatch', async () => {
    // The LoRA forward: y = x·Wᵀ + b + s·down·Bᵀ, W [out, in] packed.
    const [M, N, K, r] = [33, 65, 17, 5];
    const x = mat(M, K, 3);
    const { rounded: w, words } = bf16(mat(N, K, 4));
    const bias = seededArray(N, 5, 2);
    const l = mat(M, r, 6);
    const rt = mat(N, r, 7);
    const want = reference(M, N, K, x, false, w, true, {
      bias,
      low: { l, r: rt, transR: true, s: 0.75 },
    });
    await expectNoLeaks(async () => {
      const t = [tensor(x), tf.tensor1d(words, 'int32'), tf.tensor1d(bias), tensor(l), tensor(rt)];
      const { result: c, work } = await countGpuWork(() =>
        gemm(
          t[0] as tf.Tensor2D,
          { words: t[1]!, shape: [N, K] },
          {
            transB: true,
            bias: t[2] as tf.Tensor1D,
            lowRank: { l: t[3] as tf.Tensor2D, r: t[4] as tf.Tensor2D, transR: true, scale: 0.75 },
          },
        ),
      );
      expect(relError(await c.data(), want)).toBeLessThan(1e-5);
      expect(work.dispatches).toBe(1);
      tf.dispose([...t, c]);
    });
  });

  it('accumulates into C with the low-rank term (R as [r, N]) over packed B with an odd size', async () => {
    // The LoRA dx: dx = dy·W + s·dyB·A, W [out, in] packed (7·9 = 63 elements: a half word).
    const [M, N, K, r] = [5, 9, 7, 3];
    const dy = mat(M, K, 8);
    const { rounded: w, words } = bf16(mat(K, N, 9));
    const l = mat(M, r, 10);
    const ra = mat(r, N, 11);
    const c0 = seededArray(M * N, 12, 2);
    const want = reference(M, N, K, dy, false, w, false, {
      low: { l, r: ra, transR: false, s: -1.5 },
      c0,
    });
    await expectNoLeaks(async () => {
      const t = [tensor(dy), tf.tensor1d(words, 'int32'), tensor(l), tensor(ra)];
      const c = tf.tidy(() => tf.add(tf.tensor2d(c0, [M, N]), 0)) as tf.Tensor2D; // ours to write
      const out = gemm(
        t[0] as tf.Tensor2D,
        { words: t[1]!, shape: [K, N] },
        {
          lowRank: { l: t[2] as tf.Tensor2D, r: t[3] as tf.Tensor2D, transR: false, scale: -1.5 },
          accumulate: c,
        },
      );
      expect(out).toBe(c);
      expect(relError(await c.data(), want)).toBeLessThan(1e-5);
      tf.dispose([...t, c]);
    });
  });

  for (const transB of [true, false]) {
    it(`reads packed B${transB ? 'ᵀ' : ''} 8 bf16 at a time when its rows allow (vec4 loads)`, async () => {
      const [M, N, K, r] = [37, 40, 48, 8];
      const a = mat(M, K, 15);
      const { rounded: w, words } = bf16(transB ? mat(N, K, 16) : mat(K, N, 16));
      const l = mat(M, r, 17);
      const rr = transB ? mat(N, r, 18) : mat(r, N, 18);
      const bias = seededArray(N, 19, 2);
      const want = reference(M, N, K, a, false, w, transB, {
        bias,
        low: { l, r: rr, transR: transB, s: 0.5 },
      });
      await expectNoLeaks(async () => {
        const t = [
          tensor(a),
          tf.tensor1d(words, 'int32'),
          tf.tensor1d(bias),
          tensor(l),
          tensor(rr),
        ];
        const { result: c, work } = await countGpuWork(() =>
          gemm(
            t[0] as tf.Tensor2D,
            { words: t[1]!, shape: transB ? [N, K] : [K, N] },
            {
              transB,
              bias: t[2] as tf.Tensor1D,
              lowRank: {
                l: t[3] as tf.Tensor2D,
                r: t[4] as tf.Tensor2D,
                transR: transB,
                scale: 0.5,
              },
            },
          ),
        );
        expect(Object.keys(work.ours)).toEqual([
          `gemm-n${transB ? 't' : 'n'}-bf16-bias-lr${transB ? 't' : ''}-vec4`,
        ]);
        expect(relError(await c.data(), want)).toBeLessThan(1e-5);
        tf.dispose([...t, c]);
      });
    });
  }

  it('scales op(A)·op(B) by α (the LoRA factor gradients: s·dyBᵀ·x)', async () => {
    const [M, N, K] = [3, 33, 40];
    const a = mat(K, M, 13);
    const b = mat(K, N, 14);
    const want = reference(M, N, K, a, true, b, false, { alpha: 2.5 });
    await expectNoLeaks(async () => {
      const [ta, tb] = [tensor(a), tensor(b)];
      const c = gemm(ta, tb, { transA: true, alpha: 2.5 });
      expect(relError(await c.data(), want)).toBeLessThan(1e-5);
      tf.dispose([ta, tb, c]);
    });
  });

  it('rejects mismatched shapes with the sizes in the message', () => {
    const a = tf.zeros([2, 3]) as tf.Tensor2D;
    const b = tf.zeros([4, 5]) as tf.Tensor2D;
    expect(() => gemm(a, b)).toThrow(/op\(A\) is \[2, 3\] but op\(B\) is \[4, 5\]/);
    const square = tf.zeros([3, 3]) as tf.Tensor2D;
    expect(() => gemm(square, square, { accumulate: square })).toThrow(/also an operand/);
    tf.dispose([a, b, square]);
  });
});
