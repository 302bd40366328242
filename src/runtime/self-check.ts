/**
 * A small computation that proves a backend works end to end: a matmul and a gradient through
 * `tf.grad`, returned as plain arrays so the caller can compare them with an independent reference.
 *
 * f(X, W) = Σ tanh(X·W)²; ∂f/∂X = (2·tanh(Y)·(1 − tanh(Y)²))·Wᵀ and ∂f/∂W = Xᵀ·(…), Y = X·W.
 */
import * as tf from '@tensorflow/tfjs';

export interface SelfCheckInput {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** Row-major [m, k]. */
  readonly x: Float32Array;
  /** Row-major [k, n]. */
  readonly w: Float32Array;
}

export interface SelfCheckResult {
  readonly backend: string;
  /** X·W, row-major [m, n]. */
  readonly product: Float32Array;
  /** f(X, W) = Σ tanh(X·W)². */
  readonly value: number;
  /** ∂f/∂X, [m, k]. */
  readonly gradX: Float32Array;
  /** ∂f/∂W, [k, n]. */
  readonly gradW: Float32Array;
  /** Tensors alive after the check minus before: 0 unless something leaked. */
  readonly leakedTensors: number;
}

export async function runSelfCheck(input: SelfCheckInput): Promise<SelfCheckResult> {
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(input.x, [input.m, input.k]); // [m, k]
  const w = tf.tensor2d(input.w, [input.k, input.n]); // [k, n]
  const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.tanh(tf.matMul(a, b))));
  const product = tf.matMul(x, w); // [m, n]
  const { value, grads } = tf.valueAndGrads(f)([x, w]);
  const [gx, gw] = grads as [tf.Tensor, tf.Tensor];
  const result = {
    backend: tf.getBackend(),
    product: (await product.data()) as Float32Array,
    value: (await value.data())[0] ?? Number.NaN,
    gradX: (await gx.data()) as Float32Array,
    gradW: (await gw.data()) as Float32Array,
  };
  tf.dispose([x, w, product, value, gx, gw]);
  return { ...result, leakedTensors: tf.memory().numTensors - before };
}
