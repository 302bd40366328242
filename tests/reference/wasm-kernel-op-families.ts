/**
 * The op families the model code uses, each a small program returning forward values and gradients,
 * run on the wasm and the cpu backend by tests/unit/wasm-kernels.test.ts; cpu is the reference.
 * Every gradient flows through `probe`, whose dy is a fixed random tensor, so no op sees dy = 1.
 */
import * as tf from '@tensorflow/tfjs';
import { seededArray } from '../helpers/seeded';

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
/** Seeded values in [−scale/2, scale/2). */
export const rand = (shape: number[], seed: number, scale = 0.8): tf.Tensor =>
  tf.tensor(seededArray(size(shape), seed, scale), shape);
/** Seeded values in [0.2, 1): inputs of sqrt, rsqrt, log, pow. */
export const positive = (shape: number[], seed: number): tf.Tensor =>
  tf.tensor(
    seededArray(size(shape), seed).map((v) => v + 0.6),
    shape,
  );
/** Σ y ⊙ R for fixed random R: its gradient w.r.t. y is R, so every op sees a dense, varied dy. */
export const probe = (y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(y, rand(y.shape, 97)));
export const ids = (values: number[], shape = [values.length]): tf.Tensor =>
  tf.tensor(values, shape, 'int32');

/** Every op family the model uses: forward values and gradients. */
export const OP_FAMILIES: Record<string, () => tf.Tensor[]> = {
  'matMul 2-D, all transposes': () => {
    const a = rand([4, 6], 1);
    const b = rand([6, 5], 2);
    return [
      ...tf.grads((x: tf.Tensor, y: tf.Tensor) => probe(tf.matMul(x, y)))([a, b]),
      ...tf.grads((x: tf.Tensor, y: tf.Tensor) => probe(tf.matMul(x, y, true, true)))([
        a.transpose(),
        b.transpose(),
      ]),
    ];
  },
  'matMul 3-D batched': () =>
    tf.grads((x: tf.Tensor, y: tf.Tensor) => probe(tf.matMul(x, y)))([
      rand([2, 3, 4], 1),
      rand([2, 4, 5], 2),
    ]),
  'matMul 4-D attention q·kᵀ (per-item route)': () =>
    tf.grads((q: tf.Tensor, k: tf.Tensor) => probe(tf.matMul(q, k, false, true)))([
      rand([1, 2, 48, 16], 1),
      rand([1, 2, 48, 16], 2),
    ]),
  'matMul [B,T,C]·Wᵀ via reshape, and 3-D·2-D forward': () => {
    const x = rand([2, 3, 8], 1);
    const w = rand([5, 8], 2);
    const viaRows = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
      probe(tf.reshape(tf.matMul(tf.reshape(a, [6, 8]), b, false, true), [2, 3, 5]));
    return [tf.matMul(x, w.transpose()), ...tf.grads(viaRows)([x, w])];
  },
  'gather axis 0, repeated ids, and its gradient': () => {
    const e = rand([6, 3], 1);
    const i = ids([0, 2, 2, 5, 0]);
    return [tf.gather(e, i), tf.grad((x: tf.Tensor) => probe(tf.gather(x, i)))(e)];
  },
  'gather 2-D ids and axis 1, gradients': () => [
    tf.grad((x: tf.Tensor) => probe(tf.gather(x, ids([0, 2, 2, 5], [2, 2]))))(rand([6, 3], 1)),
    tf.grad((x: tf.Tensor) => probe(tf.gather(x, ids([0, 2, 2]), 1)))(rand([3, 4], 2)),
  ],
  'add sub mul div, broadcast': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => probe(tf.div(tf.mul(tf.add(a, b), tf.sub(a, b)), b)))([
      rand([2, 3, 4], 1),
      positive([3, 1], 2),
    ]),
  'unary: neg square sqrt rsqrt exp log tanh sigmoid sin cos': () => {
    const x = positive([2, 5], 1);
    const ops = [
      tf.neg,
      tf.square,
      tf.sqrt,
      tf.rsqrt,
      tf.exp,
      tf.log,
      tf.tanh,
      tf.sigmoid,
      tf.sin,
      tf.cos,
    ];
    return ops.flatMap((op) => [op(x), tf.grad((v: tf.Tensor) => probe(op(v)))(x)]);
  },
  'pow, tensor exponent': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => probe(tf.pow(a, b)))([
      positive([2, 5], 1),
      rand([2, 5], 2),
    ]),
  'softmax logSoftmax logSumExp(keepDims)': () => {
    const x = rand([2, 3, 5], 1, 6);
    const fs = [
      (v: tf.Tensor) => tf.softmax(v),
      (v: tf.Tensor) => tf.logSoftmax(v),
      (v: tf.Tensor) => tf.logSumExp(v, -1, true),
    ];
    return fs.flatMap((f) => [f(x), tf.grad((v: tf.Tensor) => probe(f(v)))(x)]);
  },
  'max sum mean, keepDims': () => {
    const x = rand([2, 3, 5], 1, 6);
    return [
      tf.max(x, -1, true),
      tf.grad((v: tf.Tensor) => probe(tf.max(v, -1)))(x),
      tf.grad((v: tf.Tensor) => probe(tf.sum(v, -1, true)))(x),
      tf.grad((v: tf.Tensor) => probe(tf.mean(v, [0, 2], true)))(x),
      tf.grad((v: tf.Tensor) => tf.mean(v))(x),
    ];
  },
  'reshape, transpose 4-D': () => {
    const x = rand([2, 3, 4, 5], 1);
    return [
      tf.grad((v: tf.Tensor) => probe(tf.transpose(v, [0, 2, 1, 3])))(x),
      tf.grad((v: tf.Tensor) => probe(tf.transpose(v, [0, 2, 3, 1])))(x),
      tf.grad((v: tf.Tensor) => probe(tf.reshape(v, [6, 20])))(x),
    ];
  },
  'concat slice split': () => [
    ...tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      probe(tf.slice(tf.concat([a, b], 1), [0, 1], [2, 4])),
    )([rand([2, 3], 1), rand([2, 4], 2)]),
    tf.grad((v: tf.Tensor) => {
      const [l, r] = tf.split(v, 2, -1) as [tf.Tensor, tf.Tensor];
      return probe(tf.concat([tf.neg(r), l], -1)); // rotate-half, as in RoPE
    })(rand([2, 3, 6], 3)),
  ],
  'stridedSlice forward': () => [tf.stridedSlice(rand([4, 6], 1), [0, 1], [4, 6], [2, 2])],
  'tile expandDims squeeze pad': () => {
    const x = rand([2, 3], 1);
    return [
      tf.grad((v: tf.Tensor) => probe(tf.tile(v, [2, 3])))(x),
      tf.grad((v: tf.Tensor) => probe(tf.squeeze(tf.expandDims(v, 1), [1])))(x),
      tf.grad((v: tf.Tensor) =>
        probe(
          tf.pad(v, [
            [1, 0],
            [0, 2],
          ]),
        ),
      )(x),
    ];
  },
  'oneHot where greaterEqual': () => {
    const a = rand([3, 4], 1);
    const b = rand([3, 4], 2);
    const c = tf.greaterEqual(a, b);
    return [
      tf.oneHot(ids([0, 3, 1]), 4),
      c,
      ...tf.grads((x: tf.Tensor, y: tf.Tensor) => probe(tf.where(c, x, y)))([a, b]),
    ];
  },
  'causal mask: bandPart → cast bool → where → softmax': () => {
    const mask = tf.cast(tf.linalg.bandPart(tf.ones([4, 4]), -1, 0), 'bool'); // [T, T]
    const masked = (s: tf.Tensor): tf.Tensor =>
      tf.softmax(tf.where(mask, s, tf.fill([2, 4, 4], -1e9)));
    const s = rand([2, 4, 4], 1, 4);
    return [mask, masked(s), tf.grad((v: tf.Tensor) => probe(masked(v)))(s)];
  },
  'bandPart gradient (rank 3)': () => [
    tf.grad((v: tf.Tensor) => probe(tf.linalg.bandPart(v, -1, 0)))(rand([2, 4, 4], 1)),
  ],
  'cast clipByValue minimum maximum': () => {
    const a = rand([3, 4], 1, 4);
    const b = rand([3, 4], 2, 4);
    return [
      tf.cast(a, 'int32'),
      tf.grad((v: tf.Tensor) => probe(tf.cast(v, 'float32')))(a),
      tf.grad((v: tf.Tensor) => probe(tf.clipByValue(v, -0.5, 0.5)))(a),
      ...tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        probe(tf.add(tf.maximum(x, y), tf.minimum(x, y))),
      )([a, b]),
    ];
  },
  'cumsum (last axis), exclusive and reverse': () => {
    const x = rand([3, 4], 1);
    return [
      tf.cumsum(x, 1),
      tf.cumsum(x, 0, true, true),
      tf.grad((v: tf.Tensor) => probe(tf.cumsum(v, 1)))(x),
      tf.grad((v: tf.Tensor) => probe(tf.cumsum(v, 1, true, true)))(x),
    ];
  },
  'topk forward': () => {
    const { values, indices } = tf.topk(rand([3, 6], 1), 3);
    return [values, indices];
  },
  'range fill zeros ones': () => [
    tf.range(0, 5),
    tf.range(0, 5, 1, 'int32'),
    tf.fill([2, 3], 1.5),
    tf.zeros([2, 2]),
    tf.ones([2, 2], 'int32'),
  ],
  'customGrad, valueAndGrads, variableGrads': () => {
    // d(x²)/dx = 2x, given by hand through customGrad (the way the model overrides gradients).
    const square = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([x]);
      return {
        value: tf.square(x),
        gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => [tf.mul(dy, tf.mul(s!, 2))],
      };
    });
    const x = rand([3], 1);
    const v = tf.variable(rand([3, 4], 2));
    const { value, grads } = tf.variableGrads(() => probe(tf.tanh(v)), [v]);
    const both = tf.valueAndGrads((a: tf.Tensor) => probe(tf.exp(a)))([x]);
    const out = [
      tf.grad((a: tf.Tensor) => probe(square(a)))(x),
      value,
      grads[v.name]!,
      both.value,
      ...both.grads,
    ];
    v.dispose();
    return out;
  },
  softmaxCrossEntropy: () => {
    const labels = tf.oneHot(ids([0, 3, 1]), 5);
    const logits = rand([3, 5], 1, 4);
    return [
      tf.losses.softmaxCrossEntropy(labels, logits),
      tf.grad((l: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, l))(logits),
    ];
  },
};
