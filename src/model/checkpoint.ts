/**
 * Activation checkpointing for a stack of transformer blocks (Chen et al. 2016, "Training Deep Nets
 * with Sublinear Memory Cost"): the forward pass keeps only each block's input x; the backward pass
 * runs each block again from its x under its own gradient tape and differentiates that, w.r.t. x
 * and the block's trainable variables. Memory saved for backward falls from every intermediate of every
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
import { reusingWeights } from '../runtime/wasm-kernels/weight-reuse';
import { gradientsFreeing } from './tape-backprop';

/** One block of a checkpointed stack: its function and the variables it reads. */
export interface StackBlock {
  /**
   * x ↦ block(x): a pure function of x and `params`, tidy (returning only its output), and
   * deterministic, so the recomputation in backward is the forward again. It must not capture
   * tensors that are freed after the forward (such as tables made in the caller's tidy scope):
   * backward runs later.
   */
  readonly run: (x: tf.Tensor3D) => tf.Tensor3D;
  readonly params: readonly tf.Variable[];
}

/**
 * blocks[L−1](…blocks[0](x)) as one differentiable op over [x, ...every block's params]. The
 * forward keeps each block's input (saved for the backward only while a gradient tape records);
 * the backward walks the blocks in reverse, recomputing each from its input, and frees each
 * block's input and the gradient flowing into it as soon as the block before it has used them.
 *
 * One op for the whole stack rather than one per block: TF.js keeps every intermediate gradient of
 * a backward pass until the pass ends (tape.js `backpropagateGradients` never frees a node's dy),
 * so with one op per block each block's ∂x ([B, T, C]) stayed alive to the end, as many bytes as
 * the checkpoints themselves (measured: 67 [8, 256, 576] buffers live at the peak of a 30-layer
 * SmolLM2 step, 301 MiB). Here at most two are alive beside the saved inputs.
 */
export function checkpointedStack(
  blocks: readonly StackBlock[],
  x: tf.Tensor3D,
  sequencesPerChunk: number,
): tf.Tensor3D {
  const params = blocks.flatMap((b) => b.params);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const inputs: tf.Tensor3D[] = [args[0] as tf.Tensor3D];
    for (const block of blocks.slice(0, -1)) {
      inputs.push(inGroups(inputs[inputs.length - 1]!, sequencesPerChunk, block.run));
    }
    const last = blocks[blocks.length - 1]!;
    const value = inGroups(inputs[inputs.length - 1]!, sequencesPerChunk, last.run);
    save(inputs);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        withOuterTapeKept(() => stackBackward(blocks, saved, dy as tf.Tensor3D, sequencesPerChunk)),
    };
  });
  return op(x, ...params) as tf.Tensor3D;
}

/**
 * block(x) as a single differentiable op over [x, ...params]: a stack of one (see
 * `checkpointedStack` for what `block` must be).
 */
export function checkpointed(
  block: (x: tf.Tensor3D) => tf.Tensor3D,
  x: tf.Tensor3D,
  params: readonly tf.Variable[],
  sequencesPerChunk: number,
): tf.Tensor3D {
  return checkpointedStack([{ run: block, params }], x, sequencesPerChunk);
}

/** [∂x, ...∂params of every block, in order], block by block from the last. */
function stackBackward(
  blocks: readonly StackBlock[],
  saved: tf.Tensor[],
  dy: tf.Tensor3D,
  size: number,
): tf.Tensor[] {
  const perBlock: tf.Tensor[][] = [];
  let grad = dy;
  for (let i = blocks.length - 1; i >= 0; i--) {
    const block = blocks[i]!;
    const input = saved[i] as tf.Tensor3D;
    // The block's weights transposed and packed once for its groups (wasm; weight-reuse.ts).
    const [dx, ...dParams] = reusingWeights(() =>
      backward(block.run, input, grad, block.params, size),
    );
    if (grad !== dy) grad.dispose(); // ours: the engine's dy stays with the engine
    // The tape's saved clone: the engine disposes it again after the pass (a no-op by then).
    if (i > 0) input.dispose();
    grad = dx as tf.Tensor3D;
    perBlock[i] = dParams;
  }
  return [grad, ...perBlock.flat()];
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
  reusingWeights(() => {
    for (let start = 0; start < B; start += size) {
      parts.push(tf.tidy(() => f(tf.slice(x, [start, 0, 0], [Math.min(size, B - start), -1, -1]))));
    }
  });
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
      const { value, grads: g } = gradientsFreeing(() => block(xs), [xs, ...params], dys);
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
