/**
 * SwiGLU (silu(a)·up) and GELU-tanh as differentiable ops on our WebGPU kernels
 * (kernels/activations.ts): one dispatch forward, one backward (SwiGLU's backward writes both
 * gradients at once). src/model/layers.ts calls these when `gpuKernelsActive()` and its stock ops
 * otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { geluBackward, geluForward, swigluBackward, swigluForward } from '../kernels/activations';

const swiglu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, up, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, up]);
  return {
    value: swigluForward(a, up),
    gradFunc: (dy: tf.Tensor, [sa, su]: tf.Tensor[]) =>
      swigluBackward(sa as tf.Tensor, su as tf.Tensor, dy),
  };
});

const gelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: geluForward(x),
    gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => geluBackward(sx as tf.Tensor, dy),
  };
});

/** silu(gate)·up over equal shapes; a new tensor. */
export function gpuSwiglu<T extends tf.Tensor>(gate: T, up: T): T {
  return swiglu(gate, up) as T;
}

/** GELU with the tanh approximation (HF `gelu_new`); a new tensor. */
export function gpuGeluTanh<T extends tf.Tensor>(x: T): T {
  return gelu(x) as T;
}
