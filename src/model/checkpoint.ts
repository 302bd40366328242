/**
 * Activation checkpointing for one transformer block (Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"): the forward pass keeps only the block's input x; the backward pass runs
 * the block again from x under its own gradient tape and differentiates that, w.r.t. x and the
 * block's trainable variables. Memory saved for backward falls from every intermediate of every
 * layer to one [B, T, C] input per layer (plus one layer's intermediates while its backward runs),
 * for one extra forward of the blocks.
 *
 * A layer's backward holds every intermediate and every intermediate gradient of the block until
 * it ends (TF.js frees a tape's tensors only when the whole gradient is done): for SmolLM2's width
 * at 8×256 tokens that was 1.2 GB for one layer. Sequences never attend to each other, so the
 * block runs, forward and backward, on groups of `sequencesPerChunk` sequences at a time, and the
 * variables' gradients are summed over the groups: the same gradient (up to float32 summation
 * order), with the transient memory of one group.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * block(x) as a single differentiable op over [x, ...params]. `block` must be a pure function of x
 * and `params` (the variables it reads), tidy (returning only its output), and deterministic, so
 * the recomputation in backward is the forward again. It must not capture tensors that are freed
 * after the forward (such as tables made in the caller's tidy scope): backward runs later.
 */
export function checkpointed(
  block: (x: tf.Tensor3D) => tf.Tensor3D,
  x: tf.Tensor3D,
  params: readonly tf.Variable[],
  sequencesPerChunk: number,
): tf.Tensor3D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor3D;
    save([input]);
    return {
      value: inGroups(input, sequencesPerChunk, (xs) => block(xs)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        withOuterTapeKept(() =>
          backward(block, saved[0] as tf.Tensor3D, dy as tf.Tensor3D, params, sequencesPerChunk),
        ),
    };
  });
  return op(x, ...params) as tf.Tensor3D;
}

/** f over groups of `size` sequences (axis 0), results concatenated; f(x) itself for one group. */
function inGroups(
  x: tf.Tensor3D,
  size: number,
  f: (group: tf.Tensor3D) => tf.Tensor3D,
): tf.Tensor3D {
  const B = x.shape[0];
  if (B <= size) return f(x);
  const parts: tf.Tensor3D[] = [];
  for (let start = 0; start < B; start += size) {
    parts.push(tf.tidy(() => f(tf.slice(x, [start, 0, 0], [Math.min(size, B - start), -1, -1]))));
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/** [∂x, ...∂params] (the op's inputs, in order), the block recomputed one group at a time. */
function backward(
  block: (x: tf.Tensor3D) => tf.Tensor3D,
  x: tf.Tensor3D,
  dy: tf.Tensor3D,
  params: readonly tf.Variable[],
  size: number,
): tf.Tensor[] {
  const B = x.shape[0];
  const dxs: tf.Tensor[] = [];
  let dParams: tf.Tensor[] | null = null;
  for (let start = 0; start < B; start += size) {
    const n = Math.min(size, B - start);
    const grads = tf.tidy(() => {
      const xs = B <= size ? x : tf.slice(x, [start, 0, 0], [n, -1, -1]); // [n, T, C]
      const dys = B <= size ? dy : tf.slice(dy, [start, 0, 0], [n, -1, -1]);
      const { value, grads: g } = tf.engine().gradients(() => block(xs), [xs, ...params], dys);
      value.dispose();
      return g;
    });
    dxs.push(grads[0] as tf.Tensor);
    const partial = grads.slice(1);
    if (!dParams) dParams = partial;
    else {
      const sums: tf.Tensor[] = dParams.map((d, i) => tf.add(d, partial[i] as tf.Tensor));
      tf.dispose([...dParams, ...partial]);
      dParams = sums;
    }
  }
  const dx = dxs.length === 1 ? (dxs[0] as tf.Tensor) : tf.concat(dxs, 0);
  if (dxs.length > 1) tf.dispose(dxs);
  return [dx, ...(dParams ?? [])];
}

/**
 * TF.js 4.22 keeps one tape (`engine.state.activeTape`). Backprop runs after the outer gradient's
 * tape has closed, so a gradient taken inside a gradFunc starts a new tape in its place and sets it
 * to null when done; the outer pass then fails disposing its own tape. Restore it. A private field:
 * TF.js is pinned, and tests/unit/tfjs-internals.test.ts fails if it changes.
 */
export function withOuterTapeKept<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as { state: { activeTape: unknown } };
  const outer = engine.state.activeTape;
  if (!Array.isArray(outer)) {
    throw new Error(
      `TF.js ${tf.version_core} has no gradient tape at engine.state.activeTape during backprop; ` +
        'activation checkpointing relies on it (TF.js 4.22). Use the pinned TF.js version.',
    );
  }
  try {
    return fn();
  } finally {
    engine.state.activeTape = outer;
  }
}
