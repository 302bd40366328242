/**
 * Activation checkpointing for one transformer block (Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"): the forward pass keeps only the block's input x; the backward pass runs
 * the block again from x under its own gradient tape and differentiates that, w.r.t. x and the
 * block's trainable variables. Memory saved for backward falls from every intermediate of every
 * layer to one [B, T, C] input per layer (plus one layer's intermediates while its backward runs),
 * for one extra forward of the blocks.
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
): tf.Tensor3D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor3D;
    save([input]);
    return {
      value: block(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xSaved = saved[0] as tf.Tensor3D;
        return withOuterTapeKept(() => {
          const { value, grads } = tf
            .engine()
            .gradients(() => block(xSaved), [xSaved, ...params], dy as tf.Tensor3D);
          value.dispose();
          return grads; // [∂x, ...∂params], the order of the op's inputs
        });
      },
    };
  });
  return op(x, ...params) as tf.Tensor3D;
}

/**
 * TF.js 4.22 keeps one tape (`engine.state.activeTape`). Backprop runs after the outer gradient's
 * tape has closed, so a gradient taken inside a gradFunc starts a new tape in its place and sets it
 * to null when done; the outer pass then fails disposing its own tape. Restore it.
 */
function withOuterTapeKept<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as { state: { activeTape: unknown } };
  const outer = engine.state.activeTape;
  try {
    return fn();
  } finally {
    engine.state.activeTape = outer;
  }
}
