/**
 * Writes a step's keys and values into a preallocated KV cache, in place, in one dispatch:
 *   kDst[b, h, pos + t, :] = k[b, h, t, :],  vDst likewise,
 * for k, v [B, K, T, D] and cache buffers [B, K, cap, D]. No concat and no copy of the positions
 * already cached: a decode step moves only its own B·K·D floats per tensor.
 */
import type * as tf from '@tensorflow/tfjs';
import { dispatch, type GpuKernel } from '../gpu-runtime';

const WG = 64;
const ROW = 4096;

export const KV_CACHE_WRITE_KERNEL: GpuKernel = {
  name: 'kv-cache-write',
  uniforms: ['u32', 'u32', 'u32', 'u32', 'u32'], // n, T, D, cap, pos
  code: /* wgsl */ `
struct U { n: u32, T: u32, D: u32, cap: u32, pos: u32 }
@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> kDst: array<f32>;
@group(0) @binding(3) var<storage, read_write> vDst: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.y * ${ROW}u + wg.x) * ${WG}u + li;
  if (idx >= u.n) { return; }
  let d = idx % u.D;
  let row = idx / u.D;          // (b·K + h)·T + t
  let t = row % u.T;
  let bh = row / u.T;
  let at = (bh * u.cap + u.pos + t) * u.D + d;
  kDst[at] = k[idx];
  vDst[at] = v[idx];
}`,
};

/** Records the write of k, v [B, K, T, D] into kDst, vDst [B, K, cap, D] at position `pos`. */
export function writeKvCache(
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  kDst: tf.Tensor4D,
  vDst: tf.Tensor4D,
  pos: number,
): void {
  const [B, K, T, D] = k.shape;
  const [Bd, Kd, cap, Dd] = kDst.shape;
  if (Bd !== B || Kd !== K || Dd !== D || pos + T > cap) {
    throw new RangeError(
      `kv-cache write of ${JSON.stringify(k.shape)} at position ${pos} does not fit ` +
        `a cache of ${JSON.stringify(kDst.shape)}`,
    );
  }
  const n = k.size;
  const groups = Math.ceil(n / WG);
  dispatch(
    KV_CACHE_WRITE_KERNEL,
    [k, v, kDst, vDst],
    [Math.min(groups, ROW), Math.ceil(groups / ROW)],
    [n, T, D, cap, pos],
  );
}
