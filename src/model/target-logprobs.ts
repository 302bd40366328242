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
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Rows per chunk so one chunk's logits stay near 2²² floats (16 MiB). A chunk's backward holds
 * about six tensors of that size at once (logits, p, one-hot, ∂logits and their temporaries): with
 * 32 MiB chunks that was the largest transient of a checkpointed SmolLM2 step at 8×256.
 */
export function defaultChunkRows(vocabSize: number): number {
  return Math.max(1, Math.floor(2 ** 22 / vocabSize));
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
}

/**
 * lp [N] for hidden rows h [N, C], unembedding W [V, C], targets [N] (int32; < 0 = ignored).
 * Differentiable w.r.t. h, the LoRA pair and (if `trainWeight`) W. Returns a new tensor.
 */
export function targetLogprobs(
  h: tf.Tensor2D,
  weight: tf.Tensor2D,
  targets: tf.Tensor1D,
  lora: UnembedLora | null,
  options: Options,
): tf.Tensor1D {
  const { chunkRows, trainWeight } = options;
  const valid: tf.Tensor1D = tf.tidy(() => tf.cast(tf.greaterEqual(targets, 0), 'float32')); // [N]
  const safeTargets: tf.Tensor1D = tf.tidy(() => tf.maximum(targets, tf.scalar(0, 'int32'))); // [N]
  const chunks = (n: number): [number, number][] => {
    const out: [number, number][] = [];
    for (let s = 0; s < n; s += chunkRows) out.push([s, Math.min(chunkRows, n - s)]);
    return out;
  };
  const chunkLogits = (
    hc: tf.Tensor2D,
    hAc: tf.Tensor2D | null,
    b: tf.Tensor2D | null,
    w: tf.Tensor2D,
  ) => {
    const base = tf.matMul(hc, w, false, true); // [n, V]
    return hAc && b ? tf.add(base, tf.matMul(hAc, b, false, true)) : base;
  };

  const forward = (
    hIn: tf.Tensor2D,
    w: tf.Tensor2D,
    hA: tf.Tensor2D | null,
    b: tf.Tensor2D | null,
  ) => {
    const lse: tf.Tensor1D[] = [];
    const picked: tf.Tensor1D[] = [];
    for (const [start, size] of chunks(hIn.shape[0])) {
      tf.tidy(() => {
        const hc = tf.slice(hIn, [start, 0], [size, -1]); // [n, C]
        const hAc = hA ? tf.slice(hA, [start, 0], [size, -1]) : null;
        const logits = chunkLogits(hc, hAc, b, w); // [n, V]
        lse.push(tf.keep(tf.logSumExp(logits, 1))); // [n]
        const t = tf.slice(safeTargets, [start], [size]);
        let target = tf.sum(tf.mul(hc, tf.gather(w, t)), 1); // [n]
        if (hAc && b) target = tf.add(target, tf.sum(tf.mul(hAc, tf.gather(b, t)), 1));
        picked.push(tf.keep(target as tf.Tensor1D));
      });
    }
    const lseAll = tf.concat(lse) as tf.Tensor1D; // [N]
    const lp = tf.mul(tf.sub(tf.concat(picked), lseAll), valid) as tf.Tensor1D;
    tf.dispose([...lse, ...picked]);
    return { lp, lseAll };
  };

  const backward = (
    dy: tf.Tensor,
    hIn: tf.Tensor2D,
    w: tf.Tensor2D,
    hA: tf.Tensor2D | null,
    b: tf.Tensor2D | null,
    saved: Saved,
  ) => {
    const V = w.shape[0];
    const { lse, valid: validMask, targets: safe } = saved;
    const g = tf.mul(dy, validMask); // [N]
    const dh: tf.Tensor[] = [];
    const dhA: tf.Tensor[] = [];
    let dW: tf.Tensor | null = null;
    let dB: tf.Tensor | null = null;
    for (const [start, size] of chunks(hIn.shape[0])) {
      const parts: Record<string, tf.Tensor> = tf.tidy(() => {
        const hc = tf.slice(hIn, [start, 0], [size, -1]);
        const hAc = hA ? tf.slice(hA, [start, 0], [size, -1]) : null;
        const logits = chunkLogits(hc, hAc, b, w); // [n, V]
        const p = tf.exp(tf.sub(logits, tf.reshape(tf.slice(lse, [start], [size]), [size, 1]))); // [n, V]
        const onehot = tf.oneHot(tf.slice(safe, [start], [size]), V); // [n, V]
        const dLogits = tf.mul(
          tf.sub(onehot, p),
          tf.reshape(tf.slice(g, [start], [size]), [size, 1]),
        ); // [n, V]
        const out: Record<string, tf.Tensor> = { dh: tf.matMul(dLogits, w) }; // [n, C]
        if (trainWeight) out.dW = tf.matMul(dLogits, hc, true, false); // [V, C]
        if (hAc && b) {
          out.dhA = tf.matMul(dLogits, b); // [n, R]
          out.dB = tf.matMul(dLogits, hAc, true, false); // [V, R]
        }
        return out;
      });
      dh.push(parts.dh as tf.Tensor);
      if (parts.dhA) dhA.push(parts.dhA);
      dW = accumulate(dW, parts.dW ?? null);
      dB = accumulate(dB, parts.dB ?? null);
    }
    const out = { dh: tf.concat(dh), dhA: dhA.length ? tf.concat(dhA) : null, dW, dB };
    tf.dispose([g, ...dh, ...dhA]);
    return out;
  };

  const run = makeCustomGrad(forward, backward, lora !== null, trainWeight);
  try {
    const inputs: tf.Tensor[] = [h];
    if (trainWeight) inputs.push(weight);
    if (lora) inputs.push(lora.hA, lora.b);
    return run(inputs, weight, valid, safeTargets) as tf.Tensor1D;
  } finally {
    tf.dispose([valid, safeTargets]);
  }
}

function accumulate(sum: tf.Tensor | null, part: tf.Tensor | null): tf.Tensor | null {
  if (!part) return sum;
  if (!sum) return part;
  const next = tf.add(sum, part);
  tf.dispose([sum, part]);
  return next;
}

interface Saved {
  readonly lse: tf.Tensor1D;
  readonly valid: tf.Tensor1D;
  readonly targets: tf.Tensor1D;
}

type Forward = (
  h: tf.Tensor2D,
  w: tf.Tensor2D,
  hA: tf.Tensor2D | null,
  b: tf.Tensor2D | null,
) => { lp: tf.Tensor1D; lseAll: tf.Tensor1D };
type Backward = (
  dy: tf.Tensor,
  h: tf.Tensor2D,
  w: tf.Tensor2D,
  hA: tf.Tensor2D | null,
  b: tf.Tensor2D | null,
  saved: Saved,
) => { dh: tf.Tensor; dhA: tf.Tensor | null; dW: tf.Tensor | null; dB: tf.Tensor | null };

/**
 * Wraps forward/backward in tf.customGrad with inputs [h, (W), (hA, B)]. When W is not trained it
 * is captured rather than passed, so no [V, C] gradient is ever computed for a frozen unembedding.
 */
function makeCustomGrad(
  forward: Forward,
  backward: Backward,
  hasLora: boolean,
  trainWeight: boolean,
) {
  return (
    inputs: tf.Tensor[],
    frozenWeight: tf.Tensor2D,
    valid: tf.Tensor1D,
    safeTargets: tf.Tensor1D,
  ): tf.Tensor => {
    // Inputs are unpacked from a list laid out as [h, (W), (hA, B)].
    const unpack = (tensors: tf.Tensor[]) => {
      const loraAt = trainWeight ? 2 : 1;
      return {
        h: tensors[0] as tf.Tensor2D,
        w: trainWeight ? (tensors[1] as tf.Tensor2D) : frozenWeight,
        hA: hasLora ? (tensors[loraAt] as tf.Tensor2D) : null,
        b: hasLora ? (tensors[loraAt + 1] as tf.Tensor2D) : null,
      };
    };
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const tensors = args as tf.Tensor[];
      const { h, w, hA, b } = unpack(tensors);
      const { lp, lseAll } = forward(h, w, hA, b);
      // Everything the backward pass reads must be saved: the engine keeps these (as clones) until
      // backprop, while the caller's tidy scopes free the originals.
      save([lseAll, valid, safeTargets, ...tensors]);
      lseAll.dispose();
      return {
        value: lp,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [lse, validMask, safe, ...savedInputs] = saved as [
            tf.Tensor1D,
            tf.Tensor1D,
            tf.Tensor1D,
            ...tf.Tensor[],
          ];
          const { h: hS, w: wS, hA: hAS, b: bS } = unpack(savedInputs);
          const { dh, dhA, dW, dB } = backward(dy, hS, wS, hAS, bS, {
            lse,
            valid: validMask,
            targets: safe,
          });
          const grads: tf.Tensor[] = [dh];
          if (trainWeight) grads.push(dW as tf.Tensor);
          if (hasLora) grads.push(dhA as tf.Tensor, dB as tf.Tensor);
          return grads;
        },
      };
    });
    return f(...inputs);
  };
}
