/**
 * Whether the model's ops take our own WebGPU kernels (src/runtime/webgpu/) or TF.js's stock ops.
 *
 * Our kernels run when TF.js is on webgpu, unless switched off: the parity tests and the
 * benchmarks run the same model both ways in one process (`setGpuKernelsEnabled(false)` gives the
 * stock-op path, today's baseline), and a user who hits a kernel bug can turn them off
 * (`ServiceClient({ gpu_kernels: false })`).
 *
 * Each op module asks `gpuKernelsActive()` at call time; nothing is registered with TF.js, so the
 * wasm and cpu paths are untouched.
 */
import * as tf from '@tensorflow/tfjs';

let enabled = true;

/** Turns our WebGPU kernels on (default) or off; returns the previous setting. */
export function setGpuKernelsEnabled(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/** True when ops should use our WebGPU kernels now. */
export function gpuKernelsActive(): boolean {
  return enabled && tf.getBackend() === 'webgpu';
}

/** Runs `fn` with our kernels on or off, then restores the setting. */
export async function withGpuKernels<T>(on: boolean, fn: () => Promise<T> | T): Promise<T> {
  const before = setGpuKernelsEnabled(on);
  try {
    return await fn();
  } finally {
    setGpuKernelsEnabled(before);
  }
}
