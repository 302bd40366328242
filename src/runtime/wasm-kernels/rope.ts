/**
 * RoPE on wasm as one op: one pass over x forward, one over ∂y backward.
 *
 * The stock form, x·cos + rotate_half(x)·sin with rotate_half([x₁, x₂]) = [−x₂, x₁], is six
 * kernels forward (SplitV, Neg, Concat, two Mul, Add) and more backward, each a single-threaded
 * pass over [B, h, T, D] on wasm: 1 s of a 45 s SmolLM2-135M step at 8×256 in Chromium. Here,
 * with c = cos and s = sin of row start + t of the tables (src/model/rope.ts, each angle stored
 * twice, at i and i + D/2) and i < D/2:
 *
 *   y_i = x_i·c_i − x_(i+D/2)·s_i,   y_(i+D/2) = x_(i+D/2)·c_i + x_i·s_i
 *
 * computed in float64 and rounded once. RoPE is a rotation, so its gradient is the rotation by
 * −θ (s negated), and the tables are constants of the op. Layout 'heads': x [B, h, T, D];
 * 'tokens': [B, T, h, D].
 */
import * as tf from '@tensorflow/tfjs';
import type { Rotate } from '../rope-op';
import type { HeadLayout } from '../webgpu/kernels/attention-wgsl';
import { asWasmBackend } from './wasm-heap';

/**
 * out ← x rotated (sign 1) or rotated back (sign −1), both [rows, D] row-major, where row r is at
 * position `positionOf(r)` and reads row start + position of `cos` and `sin` ([L, D]).
 */
export function ropeValues(
  x: Float32Array,
  out: Float32Array,
  D: number,
  positionOf: (row: number) => number,
  cos: Float32Array,
  sin: Float32Array,
  start: number,
  sign: 1 | -1,
): void {
  const half = D / 2;
  const rows = x.length / D;
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    const table = (start + positionOf(r)) * D;
    for (let i = 0; i < half; i++) {
      const c = cos[table + i] as number;
      const s = sign * (sin[table + i] as number);
      const a = x[base + i] as number;
      const b = x[base + i + half] as number;
      out[base + i] = a * c - b * s;
      out[base + i + half] = b * c + a * s;
    }
  }
}

/** The position of each row of x, by layout: [B, h, T, D] or [B, T, h, D]. */
function positions(shape: readonly number[], layout: HeadLayout): (row: number) => number {
  const [, d1, d2] = shape as [number, number, number, number];
  return layout === 'heads' ? (r) => r % d2 : (r) => Math.floor(r / d2) % d1;
}

/**
 * x rotated by θ (sign 1) or −θ (sign −1) to positions start … of the tables (float32 wasm tensors
 * that outlive the backward pass: the cached tables of src/model/rope.ts); a new tensor. RoPE as a
 * differentiable op is `ropeOp(wasmRotate, …)` (runtime/rope-op.ts).
 */
export const wasmRotate: Rotate = (x, cos, sin, start, sign, layout) => {
  const wasm = asWasmBackend(tf.backend(), 'wasmRotate');
  const T = layout === 'heads' ? x.shape[2] : x.shape[1];
  const D = x.shape[3];
  if (D % 2 !== 0 || cos.shape[1] !== D || sin.shape[1] !== D || start + T > cos.shape[0]) {
    throw new RangeError(
      `wasmRotate: x [${x.shape}] (${layout}) at positions ${start}…${start + T - 1} needs an even ` +
        `head width and tables of width ${D} covering them; got cos [${cos.shape}], sin [${sin.shape}].`,
    );
  }
  const info = wasm.makeOutput(x.shape, 'float32');
  const out = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor4D;
  // Views after the allocation, which may have grown the heap.
  const view = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
  ropeValues(view(x), view(info), D, positions(x.shape, layout), view(cos), view(sin), start, sign);
  return out;
};
