// A float32 vocab table on webgpu with our kernels (Dawn over SwiftShader): the unembedding of
// src/model/target-logprobs.ts takes the same kernels as a bf16-packed table (packed-vocab.ts:
// our GEMM with float32 B, the LoRA term in the logits' dispatch; the targets' logits picked in
// the logsumexp's dispatch) instead of TF.js's MatMul, Gather and elementwise programs. Here targetLogprobs itself (whole table and 3
// parts, chunks that cut, with and without a LoRA on the unembedding, trained and frozen table):
// log-probs and the gradients w.r.t. h, A, B and W against a float64 plain-TypeScript reference
// and against the stock ops (our kernels off); and counts: no stock MatMul or Gather program runs,
// forward or backward, and with one chunk no stock program at all. Models: f32-vocab-model.test.ts.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetLogprobs } from '../../../src/model/target-logprobs';
import { countGpuWork, type GpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { relativeError } from '../../helpers/model-fixtures';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/** Stock programs that must not run in the unembedding with our kernels. */
const PRODUCTS = /MatMul|Gather/;
const stockProducts = (work: GpuWork) => Object.keys(work.stock).filter((k) => PRODUCTS.test(k));

const [N, C, V] = [7, 16, 21];
const TARGETS = [3, 20, -100, 8, 15, 0, 9];
const G = [0.5, -1.2, 0.9, 1.0, 0.7, -0.4, 1.1];
const SCALE = 2;

interface Reference {
  loss: number;
  dh: Float64Array;
  dA: Float64Array | null;
  dB: Float64Array | null;
  dW: Float64Array;
}

/**
 * Σ g·lp and its gradients in float64, for hA = s·h·Aᵀ, logits = h·Wᵀ + hA·Bᵀ, lp = logits[t] −
 * logsumexp(logits) (0 for t < 0). h [N, C], W [V, C], A [R, C], B [V, R], row-major.
 */
function reference(
  h: Float32Array,
  w: Float32Array,
  a: Float32Array | null,
  b: Float32Array | null,
  R: number,
): Reference {
  const hA = new Float64Array(N * R);
  for (let n = 0; n < N; n++)
    for (let r = 0; r < R; r++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += h[n * C + c]! * a![r * C + c]!;
      hA[n * R + r] = SCALE * s;
    }
  const dLogits = new Float64Array(N * V);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const row = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += h[n * C + c]! * w[v * C + c]!;
      for (let r = 0; r < R; r++) s += hA[n * R + r]! * b![v * R + r]!;
      row[v] = s;
    }
    const t = TARGETS[n]!;
    if (t < 0) continue;
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    loss += G[n]! * (row[t]! - lse);
    for (let v = 0; v < V; v++)
      dLogits[n * V + v] = G[n]! * ((v === t ? 1 : 0) - Math.exp(row[v]! - lse));
  }
  const dh = new Float64Array(N * C);
  const dhA = new Float64Array(N * R);
  const dW = new Float64Array(V * C);
  const dB = new Float64Array(V * R);
  for (let n = 0; n < N; n++)
    for (let v = 0; v < V; v++) {
      const d = dLogits[n * V + v]!;
      for (let c = 0; c < C; c++) {
        dh[n * C + c]! += d * w[v * C + c]!;
        dW[v * C + c]! += d * h[n * C + c]!;
      }
      for (let r = 0; r < R; r++) {
        dhA[n * R + r]! += d * b![v * R + r]!;
        dB[v * R + r]! += d * hA[n * R + r]!;
      }
    }
  // Through hA = s·h·Aᵀ: ∂h += s·∂hA·A, ∂A = s·∂hAᵀ·h.
  const dA = new Float64Array(R * C);
  for (let n = 0; n < N; n++)
    for (let r = 0; r < R; r++)
      for (let c = 0; c < C; c++) {
        dh[n * C + c]! += SCALE * dhA[n * R + r]! * a![r * C + c]!;
        dA[r * C + c]! += SCALE * dhA[n * R + r]! * h[n * C + c]!;
      }
  return { loss, dh, dA: R ? dA : null, dB: R ? dB : null, dW };
}

interface Case {
  name: string;
  /** Rows per part (one part: the whole table). */
  perPart: number;
  /** LoRA rank on the unembedding (0: none). 4 takes our gather kernel for B's rows, 2 not. */
  rank: number;
  trainWeight: boolean;
}

const CASES: Case[] = [
  {
    name: 'whole table, no LoRA, frozen (bench:peer (i))',
    perPart: V,
    rank: 0,
    trainWeight: false,
  },
  { name: 'whole table, LoRA r4, trained', perPart: V, rank: 4, trainWeight: true },
  { name: '3 parts, LoRA r2, frozen', perPart: 8, rank: 2, trainWeight: false },
  { name: '3 parts, no LoRA, trained', perPart: 8, rank: 0, trainWeight: true },
];

/** [loss, ∂h, (∂A, ∂B), (∂W_p …)] of Σ g·lp, chunks of 3 rows (so chunks and parts both cut). */
function lossAndGrads(
  h: tf.Tensor2D,
  parts: tf.Tensor2D[],
  lora: { a: tf.Tensor2D; b: tf.Tensor2D } | null,
  trainWeight: boolean,
): tf.Tensor[] {
  return tf.tidy(() => {
    const targets = tf.tensor1d(TARGETS, 'int32');
    const g = tf.tensor1d(G);
    const f = (...xs: tf.Tensor[]) => {
      const [hh, ...rest] = xs as tf.Tensor2D[];
      const [aa, bb] = lora ? rest.splice(0, 2) : [null, null];
      const ws = trainWeight ? rest : parts;
      const unembedLora =
        aa && bb
          ? { hA: tf.mul(tf.matMul(hh!, aa, false, true), SCALE) as tf.Tensor2D, b: bb }
          : null;
      const lp = targetLogprobs(hh!, ws, targets, unembedLora, { chunkRows: 3, trainWeight });
      return tf.sum(tf.mul(lp, g)) as tf.Scalar;
    };
    const xs = [h, ...(lora ? [lora.a, lora.b] : []), ...(trainWeight ? parts : [])];
    const { value, grads } = tf.valueAndGrads(f)(xs);
    return [value, ...grads];
  });
}

describe('float32 vocab table on our WebGPU kernels (Dawn)', () => {
  beforeAll(useWebGpuBackend, 120_000);
  afterAll(useCpuAgain);

  for (const c of CASES) {
    it(`${c.name}: log-probs and gradients = float64 reference = stock ops, no stock MatMul/Gather`, async () => {
      const R = c.rank;
      const hData = seededArray(N * C, 6, 1);
      const wData = seededArray(V * C, 5, 1);
      const aData = R ? seededArray(R * C, 7, 0.5) : null;
      const bData = R ? seededArray(V * R, 8, 0.5) : null;
      const want = reference(hData, wData, aData, bData, R);
      const h = tf.tensor2d(hData, [N, C]);
      const parts: tf.Tensor2D[] = [];
      for (let s = 0; s < V; s += c.perPart) {
        const rows = Math.min(c.perPart, V - s);
        parts.push(tf.tensor2d(wData.subarray(s * C, (s + rows) * C), [rows, C]));
      }
      const lora = R ? { a: tf.tensor2d(aData!, [R, C]), b: tf.tensor2d(bData!, [V, R]) } : null;
      const names = ['loss', 'dh', ...(R ? ['dA', 'dB'] : []), ...(c.trainWeight ? ['dW'] : [])];
      const wanted = [[want.loss], want.dh, ...(R ? [want.dA!, want.dB!] : []), want.dW];

      await expectNoLeaks(async () => {
        const stock = await withGpuKernels(false, () =>
          lossAndGrads(h, parts, lora, c.trainWeight),
        );
        const { result: ours, work } = await countGpuWork(() =>
          Promise.resolve(lossAndGrads(h, parts, lora, c.trainWeight)),
        );
        const flat = async (ts: tf.Tensor[]) => {
          const arrays = await Promise.all(ts.map((t) => t.data()));
          // ∂W over parts: one array in row order.
          const head = arrays.slice(0, names.length - (c.trainWeight ? 1 : 0));
          if (!c.trainWeight) return head;
          const dW = arrays.slice(head.length);
          return [...head, Float32Array.from(dW.flatMap((x) => Array.from(x)))];
        };
        const [got, base] = [await flat(ours), await flat(stock)];
        names.forEach((name, i) => {
          const ref = wanted[i]!;
          expect(relativeError(got[i]!, ref), `ours ${name} vs float64`).toBeLessThan(1e-5);
          expect(relativeError(base[i]!, ref), `stock ${name} vs float64`).toBeLessThan(1e-5);
          expect(relativeError(got[i]!, base[i]!), `ours ${name} vs stock`).toBeLessThan(1e-5);
          expect(Math.max(...Array.from(ref, Math.abs)), `${name} not all zero`).toBeGreaterThan(
            1e-3,
          );
        });
        // The caller's hA = s·h·Aᵀ (and its gradient) is stock here; the unembedding is ours.
        if (!R) expect(stockProducts(work)).toEqual([]);
        expect(Object.keys(work.ours).some((k) => k.startsWith('gemm-'))).toBe(true);
        // Target logits come from the logits themselves (no gathered rows).
        expect(work.ours['logits-row-lse']).toBeGreaterThan(0);
        expect(work.ours['gather-rows-vec4']).toBeUndefined();
        tf.dispose([...stock, ...ours]);
      });
      tf.dispose([h, ...parts, ...(lora ? [lora.a, lora.b] : [])]);
    }, 120_000);
  }

  // hA a leaf and ∂L/∂lp given (tf.grads with dy), so the count holds the unembedding alone.
  for (const rank of [0, 4]) {
    it(`one chunk, one part${rank ? ', LoRA r4 (hA, B given)' : ''}: forward and backward run no stock program`, async () => {
      // Forward: a GEMM (with hA·Bᵀ) and the lse/pick/lp kernel. Backward: the GEMM again, the
      // gradient in place, ∂h = ∂logits·W (and ∂hA = ∂logits·B, ∂B = ∂logitsᵀ·hA): GEMMs.
      const h = tf.tensor2d(seededArray(N * C, 1, 1), [N, C]);
      const hA = tf.tensor2d(seededArray(N * 4, 2, 1), [N, 4]);
      const b = tf.tensor2d(seededArray(V * 4, 3, 0.5), [V, 4]);
      const w = tf.tensor2d(seededArray(V * C, 4, 1), [V, C]);
      const targets = tf.tensor1d(TARGETS, 'int32');
      const dy = tf.tensor1d(G);
      const options = { chunkRows: N, trainWeight: false };
      const forward = (hh: tf.Tensor, a: tf.Tensor, bb: tf.Tensor) =>
        targetLogprobs(
          hh as tf.Tensor2D,
          w,
          targets,
          rank ? { hA: a as tf.Tensor2D, b: bb as tf.Tensor2D } : null,
          options,
        );
      const run = () =>
        tf.tidy(() => {
          if (!rank)
            return [forward(h, hA, b), tf.grad((hh: tf.Tensor) => forward(hh, hA, b))(h, dy)];
          return [forward(h, hA, b), ...tf.grads(forward)([h, hA, b], dy)];
        });
      const stock = await withGpuKernels(false, run);
      const once = await countGpuWork(() => Promise.resolve(forward(h, hA, b)));
      expect(once.work.stock).toEqual({});
      const gemm = rank ? 'gemm-nt-lrt-vec4' : 'gemm-nt-vec4'; // the LoRA term in the GEMM
      expect(once.work.ours).toEqual({ [gemm]: 1, 'logits-row-lse': 1 });
      once.result.dispose();
      const { result: ours, work } = await countGpuWork(() => Promise.resolve(run()));
      expect(work.stock).toEqual({});
      // lp (2), the gradient's forward (2), backward: logits (GEMM), ∂logits, ∂h (+ ∂hA, ∂B).
      expect(work.dispatches).toBe(rank ? 9 : 7);
      for (let i = 0; i < ours.length; i++) {
        expect(relativeError(await ours[i]!.data(), await stock[i]!.data())).toBeLessThan(1e-5);
      }
      tf.dispose([...ours, ...stock, h, hA, b, w, targets, dy]);
    }, 120_000);
  }
});
