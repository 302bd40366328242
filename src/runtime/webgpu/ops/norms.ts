/**
 * RMSNorm and LayerNorm as differentiable ops on our WebGPU kernels (kernels/norms.ts): forward
 * one dispatch, backward one dispatch for dx. The norm weights are frozen under LoRA (the adapter
 * trains only its A/B factors, src/lora/adapter.ts), so a weight that is not a trainable
 * tf.Variable is closed over and gets no gradient; a trainable one (full-parameter pretraining)
 * is an input of the op and its gradient costs one more dispatch (and the bias's with it).
 * src/model/layers.ts calls these when `gpuKernelsActive()` and its stock ops otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { normBackward, normForward, normWeightGrad, type NormKind } from '../kernels/norms';

function trainable(t: tf.Tensor | null): boolean {
  return t instanceof tf.Variable && t.trainable;
}

/** RMSNorm over the last dimension of x (any rank); returns a new tensor shaped like x. */
export function gpuRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  return norm('rms', x, weight, null, eps);
}

/** LayerNorm over the last dimension of x (any rank); returns a new tensor shaped like x. */
export function gpuLayerNorm<T extends tf.Tensor>(
  x: T,
  weight: tf.Tensor1D,
  bias: tf.Tensor1D,
  eps: number,
): T {
  return norm('layer', x, weight, bias, eps);
}

function norm<T extends tf.Tensor>(
  kind: NormKind,
  x: T,
  weight: tf.Tensor1D,
  bias: tf.Tensor1D | null,
  eps: number,
): T {
  const withParams = trainable(weight) || trainable(bias);
  if (!withParams) {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xs, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([xs]);
      return {
        value: normForward(kind, xs, weight, bias, eps),
        gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => {
          const { dx, stats } = normBackward(kind, saved as tf.Tensor, weight, dy, eps);
          stats.dispose();
          return dx;
        },
      };
    });
    return op(x) as T;
  }
  // Trainable weight (and bias): they are inputs, and get their gradients.
  const params = bias ? [weight, bias] : [weight];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xs, w, b] = args as tf.Tensor1D[];
    save([xs as tf.Tensor, w as tf.Tensor1D]);
    return {
      value: normForward(kind, xs as tf.Tensor, w as tf.Tensor1D, b ?? null, eps),
      gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => {
        const { dx, stats } = normBackward(kind, sx as tf.Tensor, sw as tf.Tensor1D, dy, eps);
        const { dw, db } = normWeightGrad(kind, sx as tf.Tensor, dy, stats);
        stats.dispose();
        return db ? [dx, dw, db] : [dx, dw];
      },
    };
  });
  return op(x, ...params) as T;
}
