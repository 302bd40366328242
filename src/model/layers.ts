/**
 * Normalisations and activations of the supported families, as TF.js ops (caller owns results).
 *   RMSNorm (Zhang & Sennrich 2019): x · rsqrt(mean(x², −1) + ε) · w          (Llama, Qwen)
 *   LayerNorm (Ba et al. 2016):      (x − μ) · rsqrt(σ² + ε) · w + b, σ² biased (GPT-2)
 *   SiLU: x · σ(x);  GELU-tanh ("gelu_new"): ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
 *   SwiGLU (Llama's MLP): silu(gate) ⊙ up
 * Norms apply to the last dimension, whatever the rank (Qwen3 normalises each q/k head).
 * On webgpu with our kernels on (`gpuKernelsActive()`), each is one fused op
 * (src/runtime/webgpu/ops/); otherwise stock TF.js ops, which are also the kernels' reference.
 */
import * as tf from '@tensorflow/tfjs';
import { gpuGeluTanh, gpuSwiglu } from '../runtime/webgpu/ops/activations';
import { gpuLayerNorm, gpuRmsNorm } from '../runtime/webgpu/ops/norms';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';

export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  if (gpuKernelsActive()) return gpuRmsNorm(x, weight, eps);
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight) as T;
  });
}

export function layerNorm<T extends tf.Tensor>(
  x: T,
  weight: tf.Tensor1D,
  bias: tf.Tensor1D,
  eps: number,
): T {
  if (gpuKernelsActive()) return gpuLayerNorm(x, weight, bias, eps);
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true); // [..., 1]
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true); // [..., 1]
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), weight), bias) as T;
  });
}

export function silu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)) as T);
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** silu(gate) ⊙ up, shapes equal. */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  if (gpuKernelsActive()) return gpuSwiglu(gate, up);
  return tf.tidy(() => tf.mul(silu(gate), up) as T);
}

export function geluTanh<T extends tf.Tensor>(x: T): T {
  if (gpuKernelsActive()) return gpuGeluTanh(x);
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}
