// The GEMM's transpositions, packed B and optional terms (bias, residual, accumulate, the low-rank
// term in either R layout) are uniform flags of one shader, not shaders of their own (issue 12: a
// pipeline is a compile before the first step). Every combination against a float64 reference and
// the stock TF.js ops on cpu, all in one pipeline; the shaders that do differ (vec4 loads, inline)
// stay apart. On Dawn over SwiftShader: one shader, tiny shapes.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { gemm, gemmKernel, type GemmVariant } from '../../../src/runtime/webgpu/kernels/gemm';
import { seededArray } from '../../helpers/seeded';
import { expectNoLeaks } from '../../helpers/tf-node';
import { onCpu, relError } from '../../helpers/webgpu-parity';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const base: GemmVariant = {
  transA: false,
  transB: true,
  packedB: false,
  bias: false,
  accumulate: false,
  lowRank: null,
  vec4: true,
};

describe('gemm flags share a shader', () => {
  it('transpositions, packed B, bias, residual, accumulate and a low-rank term change the uniforms, not the code', () => {
    const code = gemmKernel(base).code;
    const same: Partial<GemmVariant>[] = [
      { transA: true },
      { transB: false },
      { transA: true, transB: false, accumulate: true },
      { packedB: true },
      { bias: true },
      { residual: true },
      { accumulate: true },
      { lowRank: { transR: true } },
      { lowRank: { transR: false } },
      { bias: true, residual: true, accumulate: true, lowRank: { transR: false } },
    ];
    for (const v of same) {
      const kernel = gemmKernel({ ...base, ...v });
      expect(kernel.code, JSON.stringify(v)).toBe(code);
      expect(kernel.shader).toBe('gemm-vec4');
      expect(kernel.name).not.toBe(gemmKernel(base).name); // counted apart
    }
    const apart: Partial<GemmVariant>[] = [
      { vec4: false },
      { lowRank: { transR: true, inline: true } },
    ];
    const codes = new Set([code, ...apart.map((v) => gemmKernel({ ...base, ...v }).code)]);
    expect(codes.size).toBe(apart.length + 1);
  });
});

// 36 × 40 × 24, r 5: every operand's rows a multiple of 4 (vec4 loads), tiles cut at the edges.
const M = 36;
const N = 40;
const K = 24;
const R = 5;
const ALPHA = 0.75;
const S = 1.5;

interface Inputs {
  a: Float32Array; // [M, K]
  b: Float32Array; // [N, K] (op(B) = Bᵀ)
  bias: Float32Array; // [N]
  l: Float32Array; // [M, R]
  rT: Float32Array; // [N, R]
  r: Float32Array; // [R, N]
  res: Float32Array; // [M, N]
  c0: Float32Array; // [M, N]
}

const inputs: Inputs = {
  a: seededArray(M * K, 1, 2),
  b: seededArray(N * K, 2, 2),
  bias: seededArray(N, 3, 2),
  l: seededArray(M * R, 4, 2),
  rT: seededArray(N * R, 5, 2),
  r: seededArray(R * N, 6, 2),
  res: seededArray(M * N, 7, 2),
  c0: seededArray(M * N, 8, 2),
};

interface Case {
  readonly name: string;
  readonly bias?: boolean;
  readonly low?: 'transR' | 'plain';
  readonly residual?: boolean;
  readonly accumulate?: boolean;
}

const CASES: Case[] = [
  { name: 'plain' },
  { name: 'bias', bias: true },
  { name: 'low-rank, R [N, r]', low: 'transR' },
  { name: 'low-rank, R [r, N]', low: 'plain' },
  { name: 'residual', residual: true },
  { name: 'accumulate', accumulate: true },
  { name: 'bias + low-rank + residual', bias: true, low: 'transR', residual: true },
  { name: 'everything', bias: true, low: 'plain', residual: true, accumulate: true },
];

/** Float64: α·A·Bᵀ + bias + s·L·op(R) + Res + C0, as the case asks. */
function reference(c: Case): Float64Array {
  const { a, b, bias, l, rT, r, res, c0 } = inputs;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let dot = 0;
      for (let k = 0; k < K; k++) dot += a[m * K + k]! * b[n * K + k]!;
      let v = ALPHA * dot;
      if (c.bias) v += bias[n]!;
      if (c.low) {
        let lr = 0;
        for (let j = 0; j < R; j++) {
          lr += l[m * R + j]! * (c.low === 'transR' ? rT[n * R + j]! : r[j * N + n]!);
        }
        v += S * lr;
      }
      if (c.residual) v += res[m * N + n]!;
      if (c.accumulate) v += c0[m * N + n]!;
      out[m * N + n] = v;
    }
  }
  return out;
}

/** The same with stock TF.js ops (run it on cpu). */
function stock(c: Case): tf.Tensor2D {
  return tf.tidy(() => {
    const { a, b, bias, l, rT, r, res, c0 } = inputs;
    let y = tf.mul(tf.matMul(tf.tensor2d(a, [M, K]), tf.tensor2d(b, [N, K]), false, true), ALPHA);
    if (c.bias) y = tf.add(y, tf.tensor1d(bias));
    if (c.low) {
      const rr = c.low === 'transR' ? tf.tensor2d(rT, [N, R]) : tf.tensor2d(r, [R, N]);
      y = tf.add(y, tf.mul(tf.matMul(tf.tensor2d(l, [M, R]), rr, false, c.low === 'transR'), S));
    }
    if (c.residual) y = tf.add(y, tf.tensor2d(res, [M, N]));
    if (c.accumulate) y = tf.add(y, tf.tensor2d(c0, [M, N]));
    return y as tf.Tensor2D;
  });
}

function ours(c: Case): tf.Tensor2D {
  return tf.tidy(() => {
    const { a, b, bias, l, rT, r, res, c0 } = inputs;
    const low = c.low
      ? {
          l: tf.tensor2d(l, [M, R]),
          r: c.low === 'transR' ? tf.tensor2d(rT, [N, R]) : tf.tensor2d(r, [R, N]),
          transR: c.low === 'transR',
          scale: S,
        }
      : null;
    return gemm(tf.tensor2d(a, [M, K]), tf.tensor2d(b, [N, K]), {
      transB: true,
      alpha: ALPHA,
      bias: c.bias ? tf.tensor1d(bias) : null,
      lowRank: low,
      residual: c.residual ? tf.tensor2d(res, [M, N]) : null,
      accumulate: c.accumulate ? tf.tensor2d(c0, [M, N]) : null,
    });
  });
}

describe('gemm flags (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it('every combination matches the float64 reference and the stock ops, in one pipeline', async () => {
    const want = await onCpu(async () => {
      const out: Float32Array[] = [];
      for (const c of CASES) {
        const y = stock(c);
        out.push((await y.data()) as Float32Array);
        y.dispose();
      }
      return out;
    });
    const got: Float32Array[] = [];
    const { work } = await countGpuWork(() =>
      expectNoLeaks(async () => {
        for (const c of CASES) {
          const y = ours(c);
          got.push((await y.data()) as Float32Array);
          y.dispose();
        }
      }),
    );
    CASES.forEach((c, i) => {
      expect(relError(got[i]!, reference(c)), `${c.name} vs float64`).toBeLessThan(1e-5);
      expect(relError(got[i]!, want[i]!), `${c.name} vs stock`).toBeLessThan(1e-5);
    });
    // One pipeline at most (none when an earlier test file in this worker compiled it).
    expect(Object.entries(work.pipelines.ours)).toEqual(
      'gemm-vec4' in work.pipelines.ours ? [['gemm-vec4', 1]] : [],
    );
    expect(work.dispatches).toBe(CASES.length);
    expect(Object.keys(work.ours)).toHaveLength(CASES.length); // counted apart by variant
  });
});
