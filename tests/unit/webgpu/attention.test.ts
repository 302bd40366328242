// The fused attention op on webgpu (Dawn over SwiftShader) against the float64 reference and the
// stock `attend` on cpu, forward and backward (tf.grads of the stock ops, and finite differences
// of the float64 reference), with its dispatch counts.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stockAttend } from '../../../src/model/attention';
import { applyRope, disposeRopeTables, ropeTables } from '../../../src/model/rope';
import { webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { compileMessages } from '../../../src/runtime/webgpu/gpu-runtime';
import { headDim } from '../../../src/runtime/webgpu/kernels/attention-wgsl';
import {
  attentionKernels,
  fusedAttention,
  fusedAttentionPacked,
} from '../../../src/runtime/webgpu/ops/attention';
import { referenceAttention, type AttentionDims } from '../../reference/attention-f64';
import { gradFD } from '../../reference/finite-diff';
import { relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';
import { onCpu } from '../../helpers/webgpu-parity';

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** weights of the scalar loss Σ o ⊙ w whose gradients the backward tests compare */
  w: Float32Array;
}

function inputs(d: AttentionDims, seed: number): Inputs {
  const { B, H, K, T, S, D } = d;
  return {
    q: seededArray(B * H * T * D, seed, 3), // wide enough that softmax rows are far from uniform
    k: seededArray(B * K * S * D, seed + 1, 3),
    v: seededArray(B * K * S * D, seed + 2, 2),
    w: seededArray(B * T * H * D, seed + 3, 2),
  };
}

type Attn = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor3D;

/** Output and gradients of Σ attn(q, k, v) ⊙ w on the current backend. */
async function run(d: AttentionDims, x: Inputs, attn: Attn) {
  const { B, H, K, T, S, D } = d;
  const q = tf.tensor4d(x.q, [B, H, T, D]);
  const k = tf.tensor4d(x.k, [B, K, S, D]);
  const v = tf.tensor4d(x.v, [B, K, S, D]);
  const w = tf.tensor3d(x.w, [B, T, H * D]);
  const o = attn(q, k, v);
  const grads = tf.grads((a, b, c) =>
    tf.sum(tf.mul(attn(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), w)),
  )([q, k, v]);
  const [out, dq, dk, dv] = await Promise.all(
    [o, ...grads].map(async (t) => (await t.data()) as Float32Array),
  );
  tf.dispose([q, k, v, w, o, ...grads]);
  return { out: out!, dq: dq!, dk: dk!, dv: dv! };
}

const CASES: [string, AttentionDims][] = [
  ['MHA, T = S', { B: 2, H: 2, K: 2, T: 5, S: 5, D: 8 }],
  ['GQA 4/2, T = S', { B: 1, H: 4, K: 2, T: 7, S: 7, D: 8 }],
  ['GQA 4/1, T < S (offset 7)', { B: 2, H: 4, K: 1, T: 3, S: 10, D: 8 }],
  ['GQA 4/2, decode T = 1', { B: 2, H: 4, K: 2, T: 1, S: 9, D: 8 }],
  ['odd D 6, T = S = 70 (several row and key tiles)', { B: 1, H: 4, K: 2, T: 70, S: 70, D: 6 }],
  ['odd D 6, T 37 < S 75', { B: 1, H: 2, K: 1, T: 37, S: 75, D: 6 }],
];

describe('fused attention (webgpu)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it.each(CASES)('%s: forward and backward match float64 and stock cpu', async (_, d) => {
    const x = inputs(d, 7);
    const ref = referenceAttention(d, x.q, x.k, x.v);
    const stock = await onCpu(() => run(d, x, stockAttend));
    const before = tf.memory().numTensors;
    const ours = await run(d, x, fusedAttention);
    expect(tf.memory().numTensors).toBe(before);
    expect(relativeError(ours.out, ref)).toBeLessThan(1e-5);
    expect(relativeError(ours.out, stock.out)).toBeLessThan(1e-5);
    for (const g of ['dq', 'dk', 'dv'] as const) {
      expect(relativeError(ours[g], stock[g]), g).toBeLessThan(1e-4);
    }
  });

  it.each([
    ['GQA 4/2, T = S', { B: 2, H: 4, K: 2, T: 7, S: 7, D: 8 }],
    ['GQA 4/1, T 3 < S 10', { B: 2, H: 4, K: 1, T: 3, S: 10, D: 8 }],
  ] as [string, AttentionDims][])(
    "%s in layout 'tokens' ([B, T, h, D]): forward and gradients match stock cpu",
    async (_, d) => {
      const x = inputs(d, 9);
      const stock = await onCpu(() => run(d, x, stockAttend));
      const toTokens = (a: tf.Tensor4D) => tf.transpose(a, [0, 2, 1, 3]) as tf.Tensor4D;
      const ours = await run(d, x, (q, k, v) =>
        tf.tidy(() => fusedAttention(toTokens(q), toTokens(k), toTokens(v), 'tokens')),
      );
      expect(relativeError(ours.out, stock.out)).toBeLessThan(1e-5);
      for (const g of ['dq', 'dk', 'dv'] as const) {
        expect(relativeError(ours[g], stock[g]), g).toBeLessThan(1e-4);
      }
    },
  );

  it.each([
    ['MHA 4/4 (GPT-2)', { B: 2, H: 4, K: 4, T: 9, S: 9, D: 8 }],
    ['GQA 4/2, odd D 6', { B: 1, H: 4, K: 2, T: 70, S: 70, D: 6 }],
  ] as [string, AttentionDims][])(
    '%s packed qkv [B, T, (H + 2K)·D] read in place: forward and dqkv match stock cpu',
    async (_, d) => {
      const { B, H, K, T, D } = d;
      const W = (H + 2 * K) * D;
      const qkvData = seededArray(B * T * W, 21, 3);
      const wData = seededArray(B * T * H * D, 22, 2);
      const packedRun = async (attn: (qkv: tf.Tensor3D) => tf.Tensor3D) => {
        const qkv = tf.tensor3d(qkvData, [B, T, W]);
        const w = tf.tensor3d(wData, [B, T, H * D]);
        const o = attn(qkv);
        const g = tf.grad((x) => tf.sum(tf.mul(attn(x as tf.Tensor3D), w)))(qkv);
        const out = { o: await o.data(), g: await g.data() };
        tf.dispose([qkv, w, o, g]);
        return out;
      };
      const split = (qkv: tf.Tensor3D) =>
        tf.tidy(() => {
          const [q, k, v] = tf.split(qkv, [H * D, K * D, K * D], 2) as tf.Tensor3D[];
          const heads = (x: tf.Tensor3D, h: number) =>
            tf.transpose(tf.reshape(x, [B, T, h, D]), [0, 2, 1, 3]) as tf.Tensor4D;
          return stockAttend(heads(q!, H), heads(k!, K), heads(v!, K));
        });
      const stock = await onCpu(() => packedRun(split));
      const ours = await packedRun((qkv) => fusedAttentionPacked(qkv, { H, K, D }));
      expect(relativeError(ours.o, stock.o)).toBeLessThan(1e-5);
      expect(relativeError(ours.g, stock.g)).toBeLessThan(1e-4);
    },
  );

  it.each([
    ['GQA 4/2, D 8', { B: 2, H: 4, K: 2, T: 7, S: 7, D: 8 }],
    ['GQA 4/1, D 6 (rows not whole vec4s), T = S = 70', { B: 1, H: 4, K: 1, T: 70, S: 70, D: 6 }],
  ] as [string, AttentionDims][])(
    '%s with RoPE inside the kernels: forward and gradients match stock RoPE + attend on cpu',
    async (_, d) => {
      const x = inputs(d, 13);
      const { T, D } = d;
      const roped = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) =>
        tf.tidy(() => {
          const tables = ropeTables(T, D, 10000, 0);
          return stockAttend(applyRope(q, tables), applyRope(k, tables), v);
        });
      const stock = await onCpu(() => run(d, x, roped));
      const toTokens = (a: tf.Tensor4D) => tf.transpose(a, [0, 2, 1, 3]) as tf.Tensor4D;
      const ours = await run(d, x, (q, k, v) =>
        tf.tidy(() => {
          const tables = ropeTables(T, D, 10000, 0);
          const rope = { cs: tables.packed!, qRow0: 0, kRow0: 0 };
          return fusedAttention(toTokens(q), toTokens(k), toTokens(v), 'tokens', rope);
        }),
      );
      disposeRopeTables();
      expect(relativeError(ours.out, stock.out)).toBeLessThan(1e-5);
      for (const g of ['dq', 'dk', 'dv'] as const) {
        expect(relativeError(ours[g], stock[g]), g).toBeLessThan(1e-4);
      }
    },
  );

  it('gradients agree with finite differences of the float64 reference', async () => {
    const d: AttentionDims = { B: 1, H: 4, K: 2, T: 4, S: 6, D: 8 };
    const x = inputs(d, 11);
    const ours = await run(d, x, fusedAttention);
    const loss = (qa: ArrayLike<number>, ka: ArrayLike<number>, va: ArrayLike<number>) => {
      const o = referenceAttention(d, qa, ka, va);
      return o.reduce((sum, oi, i) => sum + oi * x.w[i]!, 0);
    };
    const at = [0, 5, 17, 40, 63, 90, 127];
    const f64 = (a: Float32Array) => Float64Array.from(a);
    const fdq = gradFD((qa) => loss(qa, x.k, x.v), f64(x.q), 1e-5, at);
    const fdk = gradFD((ka) => loss(x.q, ka, x.v), f64(x.k), 1e-5, at.slice(0, 5));
    const fdv = gradFD((va) => loss(x.q, x.k, va), f64(x.v), 1e-5, at.slice(0, 5));
    const pick = (g: Float32Array, idx: number[]) => idx.map((i) => g[i]!);
    expect(relativeError(pick(ours.dq, at), fdq)).toBeLessThan(1e-4);
    expect(relativeError(pick(ours.dk, at.slice(0, 5)), fdk)).toBeLessThan(1e-4);
    expect(relativeError(pick(ours.dv, at.slice(0, 5)), fdv)).toBeLessThan(1e-4);
  });

  it('tiles fit the default 16 KiB of workgroup memory for every head dim up to 256', () => {
    for (let D = 1; D <= 256; D++) {
      const { D4, tile } = headDim(D);
      // the largest kernel (dkdv): two tiles of TILE × D4 vec4s and two of TILE floats
      expect(2 * tile * D4 * 16 + 2 * tile * 4, `D ${D}`).toBeLessThanOrEqual(16384);
    }
  });

  it('every attention kernel compiles for D 64 (a real head dim)', async () => {
    for (const kernel of attentionKernels(64)) expect(await compileMessages(kernel)).toEqual([]);
  });

  it('forward is 1 dispatch, backward 2, with no uploads', async () => {
    const d: AttentionDims = { B: 1, H: 4, K: 2, T: 5, S: 5, D: 8 };
    const x = inputs(d, 3);
    const q = tf.tensor4d(x.q, [1, 4, 5, 8]);
    const k = tf.tensor4d(x.k, [1, 2, 5, 8]);
    const v = tf.tensor4d(x.v, [1, 2, 5, 8]);
    const dy = tf.tensor3d(x.w, [1, 5, 32]);
    for (const t of [q, k, v, dy]) webgpuBackend()!.uploadToGPU(t.dataId); // before counting
    const fwd = await countGpuWork(async () => {
      const o = fusedAttention(q, k, v);
      await o.data();
      o.dispose();
    });
    expect(fwd.work.ours).toEqual({ 'attention-forward-d8': 1 });
    expect(fwd.work.dispatches).toBe(1);
    expect(fwd.work.uploads).toBe(0);
    const bwd = await countGpuWork(async () => {
      const g = tf.grads((a, b, c) =>
        fusedAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D),
      )([q, k, v], dy);
      await Promise.all(g.map((t) => t.data()));
      tf.dispose(g);
    });
    expect(bwd.work.ours).toEqual({
      'attention-forward-d8': 1,
      'attention-dq-d8': 1,
      'attention-dkdv-d8': 1,
    });
    expect(bwd.work.uploads).toBe(0);
    console.log(`fused attention forward + backward: ${JSON.stringify(bwd.work)}`);
    tf.dispose([q, k, v, dy]);
  });
});
