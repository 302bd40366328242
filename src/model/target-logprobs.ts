/**
 * Log-probabilities of target tokens under the unembedding, without holding a [N, V] tensor.
 *
 *   logits = h·Wᵀ (+ hA·Bᵀ for a LoRA on lm_head, hA = (α/r)·h·Aᵀ),  lp_i = logits_i[t_i] − logsumexp(logits_i)
 *
 * Rows are processed in chunks of `chunkRows`; only h, hA and the per-row logsumexp are saved.
 * The backward pass recomputes each chunk's logits: with p = softmax(logits) and g = ∂L/∂lp,
 *   ∂L/∂logits = g·(onehot(t) − p),  ∂h = ∂logits·W,  ∂hA = ∂logits·B,  ∂W = ∂logitsᵀ·h,  ∂B = ∂logitsᵀ·hA
 * (the fused, chunked cross-entropy of Liger-Kernel / "Cut Your Losses", Wijmans et al. 2024, in TF.js ops).
 * Targets < 0 (the −100 "ignore" id) give lp = 0 and no gradient.
 * The products with W (h·Wᵀ, with hA·Bᵀ in the same dispatch; ∂logits·W, ∂logits·B; ∂logitsᵀ·h,
 * ∂logitsᵀ·hA) and the target rows are packed-vocab.ts's: our WebGPU kernels when they are active,
 * for float32 parts and for bf16 pairs (int32 [V_p, C / 2], weight-parts.ts; such a W is frozen:
 * no ∂W). The row-wise steps over a chunk's logits are logits-row-ops.ts's; with our WebGPU row
 * kernels the logsumexp's dispatch also reads the target's logit from the logits and writes lp
 * (kernels/logits-rows.ts `lseAndPick`), so no target rows are gathered.
 */
import * as tf from '@tensorflow/tfjs';
import { UnsupportedModelError } from '../errors/loops-errors';
import { logitsRowOps, type RowOpsKind } from './logits-row-ops';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { isPacked, partLogits, tableRows, timesPart, transposedTimes } from './packed-vocab';
import { emptyTensor } from '../runtime/webgpu/backend-internals';
import { submitRecorded } from '../runtime/webgpu/gpu-runtime';
import { lseAndPick } from '../runtime/webgpu/kernels/logits-rows';
import {
  accumulate,
  backwardFromEarly,
  makeCustomGrad,
  type Backward,
  type Forward,
} from './target-logprobs-grad';

/** Floats per chunk of logits for each implementation of the row steps (`defaultChunkRows`). */
export const CHUNK_FLOATS: Readonly<Record<RowOpsKind, number>> = {
  stock: 2 ** 22,
  webgpu: 2 ** 21,
  wasm: 2 ** 23,
};

/**
 * Rows per chunk so one chunk's logits stay near CHUNK_FLOATS[kind] (default: the active
 * backend's). On the stock ops 2²² floats (16 MiB): a chunk's backward holds about six tensors of
 * that size at once (logits, p, one-hot, ∂logits and their temporaries); with 32 MiB chunks that
 * was the largest transient of a checkpointed SmolLM2 step at 8×256. With our WebGPU kernels a
 * chunk holds one [n, V_p] buffer, so chunks are near 2²¹ floats (8 MiB): the SmolLM2-shape 4×64
 * step's buffer pool 386 → 379 MiB for 30 more dispatches (bench/gpu-counts.ts). Our wasm kernels
 * also hold one, so chunks there are 2²³ floats (32 MiB, 170 rows at V = 49,152), which makes
 * ∂logits·W faster (SmolLM2 4 layers 8×256, wasm: 8.3 → 7.0 s a step at 85 → 170 rows; 6.8 at
 * 341; h·Wᵀ unchanged at 10.8 s; docs/PERFORMANCE.md, issue 16).
 */
export function defaultChunkRows(vocabSize: number, kind = logitsRowOps().kind): number {
  return Math.max(1, Math.floor(CHUNK_FLOATS[kind] / vocabSize));
}

export interface UnembedLora {
  /** (α/r)·h·Aᵀ, [N, R]: computed by the caller so autodiff reaches A. */
  readonly hA: tf.Tensor2D;
  /** [V, R] */
  readonly b: tf.Tensor2D;
}

interface Options {
  /** Also differentiate w.r.t. the unembedding weight W (full-parameter training). */
  readonly trainWeight: boolean;
  readonly chunkRows: number;
  /** The stock ops instead of the backend's own row kernels (for comparing the two). */
  readonly stockRows?: boolean;
  /**
   * The ∂L/∂lp [N] the caller's loss will give, when it is known before the forward pass (the
   * cross-entropy's −w·mask does not depend on lp). Where `takesGradHint` is true, the forward
   * then forms ∂h, ∂hA and ∂B from each chunk's logits while it has them, and the backward only
   * checks that the real ∂L/∂lp equals the hint (adding the recomputed gradient of any
   * difference): one product of [n, C]·[C, V] per chunk fewer. Ignored elsewhere.
   */
  readonly gradHint?: tf.Tensor1D;
}

/**
 * Whether `gradHint` is taken on the active backend: on the CPU backends (wasm, cpu) only. The
 * backward's check reads one flag back, synchronously; on webgpu, with our kernels or the stock
 * ops, a synchronous read is not possible in the browser (and would stall the queue anyway).
 */
export function takesGradHint(backend = tf.getBackend()): boolean {
  return backend === 'wasm' || backend === 'cpu';
}

/**
 * lp [N] for hidden rows h [N, C], the unembedding W [V, C] (one tensor, or its row parts
 * [V_i, C] in order, weight-parts.ts), targets [N] (int32; < 0 = ignored). With parts, each
 * chunk's logsumexp is combined over the parts' (lse = log Σ_p exp lse_p) and every gradient is
 * taken part by part, so no tensor is ever [n, V] wide in the backward nor [V, C] in size.
 * Differentiable w.r.t. h, the LoRA pair and (if `trainWeight`) W's parts. Returns a new tensor.
 */
export function targetLogprobs(
  h: tf.Tensor2D,
  weight: tf.Tensor2D | readonly tf.Tensor2D[],
  targets: tf.Tensor1D,
  lora: UnembedLora | null,
  options: Options,
): tf.Tensor1D {
  const { chunkRows, trainWeight } = options;
  const rowOps = logitsRowOps(options.stockRows ? 'stock' : undefined);
  const parts = Array.isArray(weight) ? [...weight] : [weight as tf.Tensor2D];
  const packed = isPacked(parts[0] as tf.Tensor2D);
  if (packed && trainWeight) {
    throw new UnsupportedModelError(
      'the unembedding is held as bf16 pairs (frozen) and cannot be trained; load the weights ' +
        'without packing (gpu_kernels: false, or the wasm backend) for full-parameter training.',
    );
  }
  const width = h.shape[1];
  const starts: number[] = [];
  parts.reduce((row, p) => (starts.push(row), row + p.shape[0]), 0);
  // With our WebGPU row kernels, lse, the targets' logits and lp come out of one dispatch a part
  // and both row kernels read the raw targets (< 0: lp 0, zero gradient): no mask, no clamped
  // targets, no gathered target rows (kernels/logits-rows.ts `lseAndPick`). Else the mask and the
  // clamped targets (ignored rows read row 0, then masked).
  const fused = rowOps.kind === 'webgpu';
  const valid: tf.Tensor1D | null = fused
    ? null
    : tf.tidy(() => tf.cast(tf.greaterEqual(targets, 0), 'float32'));
  const safeTargets: tf.Tensor1D = fused
    ? targets
    : tf.tidy(() => tf.maximum(targets, tf.scalar(0, 'int32')));
  const chunks = (n: number): [number, number][] => {
    const out: [number, number][] = [];
    for (let s = 0; s < n; s += chunkRows) out.push([s, Math.min(chunkRows, n - s)]);
    return out;
  };
  /** Rows start… of x [N, k]: x itself when that is all of them (no copy). */
  const rowsOf = (x: tf.Tensor2D, start: number, size: number): tf.Tensor2D =>
    start === 0 && size === x.shape[0] ? x : tf.slice(x, [start, 0], [size, -1]);
  /** B's rows for each part (B itself when there is one part); the caller disposes slices. */
  const bParts = (b: tf.Tensor2D | null): (tf.Tensor2D | null)[] =>
    parts.length === 1
      ? [b]
      : parts.map((p, i) => (b ? tf.slice(b, [starts[i] ?? 0, 0], [p.shape[0], -1]) : null));
  const disposeSlices = (bs: (tf.Tensor2D | null)[], b: tf.Tensor2D | null) => {
    for (const x of bs) if (x && x !== b) x.dispose();
  };
  const chunkLogits = (
    hc: tf.Tensor2D,
    hAc: tf.Tensor2D | null,
    b: tf.Tensor2D | null,
    w: tf.Tensor2D,
  ) => {
    // Our GEMM when active (the LoRA term in its dispatch), or a packed part widened; a float32
    // part without our kernels: the stock product and the row ops' LoRA term (in place on wasm).
    if (packed || gpuKernelsActive()) return partLogits(hc, w, hAc && b ? { hA: hAc, b } : null);
    const base = tf.matMul(hc, w, false, true) as tf.Tensor2D; // [n, V_p]
    return hAc && b ? rowOps.addLora(base, hAc, b) : base;
  };
  // One part, not packed, not trained: the forward can finish each chunk's gradient on its own.
  const hint =
    options.gradHint && takesGradHint() && parts.length === 1 && !packed && !trainWeight
      ? options.gradHint
      : null;
  const fusedForward: Forward = (hIn, ws, hA, b) => {
    const n = hIn.shape[0];
    const out = { lse: emptyTensor<tf.Tensor1D>([n]), lp: emptyTensor<tf.Tensor1D>([n]), targets };
    const bs = bParts(b);
    for (const [start, size] of chunks(n)) {
      tf.tidy(() => {
        const hc = rowsOf(hIn, start, size); // [n, C]
        const hAc = hA ? rowsOf(hA, start, size) : null;
        ws.forEach((w, p) => {
          const logits = chunkLogits(hc, hAc, bs[p] ?? null, w) as tf.Tensor2D; // [n, V_p]
          const at = { rowOffset: start, start: starts[p] ?? 0 };
          lseAndPick(logits, { ...out, ...at, first: p === 0, last: p === ws.length - 1 });
          logits.dispose();
        });
      });
      submitRecorded(); // the next chunk's logits (or the backward's) can take this one's buffer
    }
    disposeSlices(bs, b);
    return { lp: out.lp, lseAll: out.lse, early: null };
  };
  const forward: Forward = (hIn, ws, hA, b) => {
    if (fused) return fusedForward(hIn, ws, hA, b);
    const mask = valid as tf.Tensor1D;
    const lse: tf.Tensor1D[] = [];
    const picked: tf.Tensor1D[] = [];
    const pre = { dh: [] as tf.Tensor[], dhA: [] as tf.Tensor[], dB: null as tf.Tensor | null };
    const bs = bParts(b);
    for (const [start, size] of chunks(hIn.shape[0])) {
      tf.tidy(() => {
        const hc = rowsOf(hIn, start, size); // [n, C]
        const hAc = hA ? rowsOf(hA, start, size) : null;
        const partLse = ws.map((w, p) => {
          const logits = chunkLogits(hc, hAc, bs[p] ?? null, w) as tf.Tensor2D; // [n, V_p]
          const partial = rowOps.rowLogSumExp(logits); // [n]
          if (!hint) {
            logits.dispose(); // the next part's logits can take its buffer
            return partial;
          }
          // The gradient for ∂L/∂lp = hint, from these logits (one part: `partial` is the lse).
          const rows = (x: tf.Tensor1D) => tf.slice(x, [start], [size]); // [n]
          const g = tf.mul(rows(hint), rows(mask)) as tf.Tensor1D;
          const dLogits = rowOps.logitsGrad(logits, partial, g, rows(safeTargets), 0, 0);
          pre.dh.push(tf.keep(tf.matMul(dLogits, w))); // [n, C]
          if (hAc && b) {
            pre.dhA.push(tf.keep(tf.matMul(dLogits, b))); // [n, R]
            pre.dB = tf.keep(accumulate(pre.dB, tf.matMul(dLogits, hAc, true, false)) as tf.Tensor);
          }
          dLogits.dispose();
          return partial;
        });
        const all = partLse.length === 1 ? partLse[0] : tf.logSumExp(tf.stack(partLse, 1), 1); // [n]
        lse.push(tf.keep(all as tf.Tensor1D));
        const t = tf.slice(safeTargets, [start], [size]);
        let target = tf.sum(tf.mul(hc, tableRows(ws, starts, t, width)), 1); // [n]
        if (hAc && b) {
          const bRows = tableRows([b], [0], t, b.shape[1]); // [n, R]
          target = tf.add(target, tf.sum(tf.mul(hAc, bRows), 1));
        }
        picked.push(tf.keep(target as tf.Tensor1D));
      });
    }
    disposeSlices(bs, b);
    const lseAll = tf.concat(lse) as tf.Tensor1D; // [N]
    const lp = tf.mul(tf.sub(tf.concat(picked), lseAll), mask) as tf.Tensor1D;
    tf.dispose([...lse, ...picked]);
    if (!hint) return { lp, lseAll, early: null };
    const early = {
      g: tf.mul(hint, mask) as tf.Tensor1D,
      dh: tf.concat(pre.dh),
      dhA: pre.dhA.length ? tf.concat(pre.dhA) : null,
      dB: pre.dB,
    };
    tf.dispose([...pre.dh, ...pre.dhA]);
    return { lp, lseAll, early };
  };

  const backward: Backward = (dy, hIn, ws, hA, b, saved) => {
    const { lse, valid: validMask, targets: safe, early } = saved;
    // ∂L/∂lp, masked (with our row kernels the gradient kernel skips ignored rows itself).
    const g = (validMask ? tf.mul(dy, validMask) : dy) as tf.Tensor1D; // [N]
    if (early) {
      const again = (diff: tf.Tensor1D) =>
        backward(diff, hIn, ws, hA, b, { ...saved, early: null });
      return backwardFromEarly(g, early, ws.length, again);
    }
    const bs = bParts(b);
    const dh: tf.Tensor[] = [];
    const dhA: tf.Tensor[] = [];
    const dW: (tf.Tensor2D | null)[] = ws.map(() => null);
    const dB: (tf.Tensor2D | null)[] = ws.map(() => null);
    for (const [start, size] of chunks(hIn.shape[0])) {
      // Flat record so tidy keeps exactly these: dh, dhA, dW<p>, dB<p>.
      const grads: Record<string, tf.Tensor> = tf.tidy(() => {
        const hc = rowsOf(hIn, start, size);
        const hAc = hA ? rowsOf(hA, start, size) : null;
        const out: Record<string, tf.Tensor> = {};
        const sum = (key: string) => (out[key] as tf.Tensor2D | undefined) ?? null;
        ws.forEach((w, p) => {
          const bp = bs[p] ?? null;
          const logits = chunkLogits(hc, hAc, bp, w) as tf.Tensor2D; // [n, V_p]
          // With our kernels ∂logits overwrites the logits (one [n, V_p] buffer for the chunk).
          const dLogits = rowOps.logitsGrad(logits, lse, g, safe, start, starts[p] ?? 0);
          // Sums over parts and chunks: added in place with our kernels (packed-vocab.ts).
          out.dh = timesPart(dLogits, w, width, sum('dh')); // [n, C]
          if (trainWeight) out[`dW${p}`] = transposedTimes(dLogits, hc, dW[p] ?? null); // [V_p, C]
          if (hAc && bp) {
            out.dhA = timesPart(dLogits, bp, bp.shape[1], sum('dhA')); // [n, R]
            out[`dB${p}`] = transposedTimes(dLogits, hAc, dB[p] ?? null); // [V_p, R]
          }
          dLogits.dispose(); // the next part's logits can take its buffer
        });
        return out;
      });
      dh.push(grads.dh as tf.Tensor);
      if (grads.dhA) dhA.push(grads.dhA);
      // A sum over chunks is the previous one (added into in place) or a new tensor replacing it.
      const next = (prev: tf.Tensor2D | null, t: tf.Tensor | undefined) => {
        if (prev && t && prev !== t) prev.dispose();
        return (t as tf.Tensor2D | undefined) ?? prev;
      };
      ws.forEach((_, p) => {
        dW[p] = next(dW[p] ?? null, grads[`dW${p}`]);
        dB[p] = next(dB[p] ?? null, grads[`dB${p}`]);
      });
      if (fused) submitRecorded(); // as in the forward: the next chunk reuses this one's logits
    }
    disposeSlices(bs, b);
    let dBAll: tf.Tensor | null = dB[0] ?? null;
    if (dB.length > 1 && dB.every((x) => x)) {
      dBAll = tf.concat(dB as tf.Tensor[]); // [V, R]
      tf.dispose(dB as tf.Tensor[]);
    }
    const out = { dh: tf.concat(dh), dhA: dhA.length ? tf.concat(dhA) : null, dW, dB: dBAll };
    tf.dispose([...(g === dy ? [] : [g]), ...dh, ...dhA]);
    return out;
  };

  const run = makeCustomGrad(forward, backward, parts.length, lora !== null, trainWeight);
  try {
    const inputs: tf.Tensor[] = [h];
    if (trainWeight) inputs.push(...parts);
    if (lora) inputs.push(lora.hA, lora.b);
    return run(inputs, parts, valid, safeTargets) as tf.Tensor1D;
  } finally {
    if (valid) tf.dispose([valid, safeTargets]);
  }
}
