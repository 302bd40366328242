/**
 * The tf.customGrad wrapper of target-logprobs.ts: which inputs are differentiated (h, the LoRA
 * pair, and W's parts only when trained), what is saved for the backward pass, and how gradients
 * are returned in input order; and the backward that reuses the gradients a gradient hint let the
 * forward form. The maths is target-logprobs.ts's.
 */
import * as tf from '@tensorflow/tfjs';

/** sum + part (either may be null), disposing both inputs; null when both are. */
export function accumulate(sum: tf.Tensor | null, part: tf.Tensor | null): tf.Tensor | null {
  if (!part) return sum;
  if (!sum) return part;
  const next = tf.add(sum, part);
  tf.dispose([sum, part]);
  return next;
}

/**
 * Gradients the forward pass already formed for an expected ∂L/∂lp (`g`, masked), so the backward
 * need not compute the logits again when the real one matches (target-logprobs.ts, `gradHint`).
 */
export interface EarlyGrads {
  readonly g: tf.Tensor1D;
  readonly dh: tf.Tensor;
  readonly dhA: tf.Tensor | null;
  readonly dB: tf.Tensor | null;
}

export interface Saved {
  readonly lse: tf.Tensor1D;
  /** 1 where the target is ≥ 0; null where the row kernels read the raw targets themselves. */
  readonly valid: tf.Tensor1D | null;
  /** The targets the row kernels read: clamped to ≥ 0 when `valid` is given, else raw. */
  readonly targets: tf.Tensor1D;
  readonly early: EarlyGrads | null;
}

export type Forward = (
  h: tf.Tensor2D,
  ws: readonly tf.Tensor2D[],
  hA: tf.Tensor2D | null,
  b: tf.Tensor2D | null,
) => { lp: tf.Tensor1D; lseAll: tf.Tensor1D; early: EarlyGrads | null };
export type Backward = (
  dy: tf.Tensor,
  h: tf.Tensor2D,
  ws: readonly tf.Tensor2D[],
  hA: tf.Tensor2D | null,
  b: tf.Tensor2D | null,
  saved: Saved,
) => {
  dh: tf.Tensor;
  dhA: tf.Tensor | null;
  dW: readonly (tf.Tensor | null)[];
  dB: tf.Tensor | null;
};

/**
 * The backward when the forward formed the gradients for an expected ∂L/∂lp (`early.g`, masked):
 * those (cloned: the saved ones are the engine's) when the real one, `g`, equals it, else those
 * plus the gradient of the difference (`again`: the plain backward for ∂L/∂lp = diff). Reads one
 * flag back, synchronously (the CPU backends only, target-logprobs.ts `takesGradHint`). Consumes
 * `g`.
 */
export function backwardFromEarly(
  g: tf.Tensor1D,
  early: EarlyGrads,
  parts: number,
  again: (diff: tf.Tensor1D) => ReturnType<Backward>,
): ReturnType<Backward> {
  const diff = tf.sub(g, early.g) as tf.Tensor1D;
  const differs = tf.tidy(() => tf.any(tf.notEqual(diff, 0)).dataSync()[0] === 1);
  g.dispose();
  const own = (t: tf.Tensor | null) => (t ? tf.clone(t) : null);
  if (!differs) {
    diff.dispose();
    const dW = Array.from({ length: parts }, () => null);
    return { dh: own(early.dh) as tf.Tensor, dhA: own(early.dhA), dW, dB: own(early.dB) };
  }
  const more = again(diff);
  diff.dispose();
  const plus = (a: tf.Tensor | null, x: tf.Tensor | null) => (a && x ? tf.add(a, x) : null);
  const out = {
    dh: plus(early.dh, more.dh) as tf.Tensor,
    dhA: plus(early.dhA, more.dhA),
    dW: more.dW,
    dB: plus(early.dB, more.dB),
  };
  tf.dispose([more.dh, more.dhA, more.dB].filter((t): t is tf.Tensor => t !== null));
  return out;
}

/**
 * Wraps forward/backward in tf.customGrad with inputs [h, (W_0 … W_{P−1}), (hA, B)]. When W is
 * not trained its parts are captured rather than passed, so no [V_p, C] gradient is ever
 * computed for a frozen unembedding.
 */
export function makeCustomGrad(
  forward: Forward,
  backward: Backward,
  numParts: number,
  hasLora: boolean,
  trainWeight: boolean,
) {
  return (
    inputs: tf.Tensor[],
    frozenParts: readonly tf.Tensor2D[],
    valid: tf.Tensor1D | null,
    safeTargets: tf.Tensor1D,
  ): tf.Tensor => {
    // Inputs are unpacked from a list laid out as [h, (W_0 … W_{P−1}), (hA, B)].
    const unpack = (tensors: tf.Tensor[]) => {
      const loraAt = trainWeight ? 1 + numParts : 1;
      return {
        h: tensors[0] as tf.Tensor2D,
        ws: trainWeight ? (tensors.slice(1, 1 + numParts) as tf.Tensor2D[]) : frozenParts,
        hA: hasLora ? (tensors[loraAt] as tf.Tensor2D) : null,
        b: hasLora ? (tensors[loraAt + 1] as tf.Tensor2D) : null,
      };
    };
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const tensors = args as tf.Tensor[];
      const { h, ws, hA, b } = unpack(tensors);
      const { lp, lseAll, early } = forward(h, ws, hA, b);
      // Everything the backward pass reads must be saved: the engine keeps these (as clones) until
      // backprop, while the caller's tidy scopes free the originals (and frees the clones when no
      // tape records: then no backward comes).
      const earlyList = early ? [early.g, early.dh, early.dhA, early.dB] : [];
      const present = earlyList.map((t) => t !== null);
      save([
        lseAll,
        ...(valid ? [valid] : []),
        safeTargets,
        ...(earlyList.filter((t) => t) as tf.Tensor[]),
        ...tensors,
      ]);
      tf.dispose([lseAll, ...(earlyList.filter((t) => t) as tf.Tensor[])]);
      return {
        value: lp,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [lse, ...afterLse] = saved as [tf.Tensor1D, ...tf.Tensor1D[]];
          const validMask = valid ? (afterLse.shift() as tf.Tensor1D) : null;
          const [safe, ...rest] = afterLse as [tf.Tensor1D, ...tf.Tensor[]];
          const stored = present.filter((p) => p).length;
          const list = rest.slice(0, stored);
          const at = () => list.shift() ?? null;
          const [g, dhE, dhAE, dBE] = present.map((p) => (p ? at() : null));
          const { h: hS, ws: wS, hA: hAS, b: bS } = unpack(rest.slice(stored));
          const { dh, dhA, dW, dB } = backward(dy, hS, wS, hAS, bS, {
            lse,
            valid: validMask,
            targets: safe,
            early: present.length
              ? { g: g as tf.Tensor1D, dh: dhE as tf.Tensor, dhA: dhAE ?? null, dB: dBE ?? null }
              : null,
          });
          const grads: tf.Tensor[] = [dh];
          if (trainWeight) grads.push(...(dW as tf.Tensor[]));
          if (hasLora) grads.push(dhA as tf.Tensor, dB as tf.Tensor);
          return grads;
        },
      };
    });
    return f(...inputs);
  };
}
