/**
 * Rotary position embedding, Hugging Face "rotate-half" convention (Su et al. 2021, RoFormer §3.4;
 * transformers `apply_rotary_pos_emb`): dimension i pairs with i + D/2,
 *   inv_freq_i = θ^(−2i/D),  angle(p, i) = p · inv_freq_(i mod D/2),
 *   rope(x) = x · cos + rotate_half(x) · sin,  rotate_half([x₁, x₂]) = [−x₂, x₁].
 * The angle tables are computed in float64 on the CPU. On the stock path they are uploaded once
 * per call for the call's positions. On webgpu with our kernels on, and on wasm, one table per
 * (D, θ) stays on the device, covering positions 0 … L − 1 (L a power of two that grows when a
 * longer sequence comes), and a fused op reads its rows at the call's offset: no upload per step,
 * one dispatch (webgpu, src/runtime/webgpu/ops/rope.ts) or one pass (wasm,
 * src/runtime/wasm-kernels/rope.ts) per rotated tensor.
 */
import * as tf from '@tensorflow/tfjs';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import type { HeadLayout } from '../runtime/webgpu/kernels/attention-wgsl';
import { fusedRope } from '../runtime/webgpu/ops/rope';
import { ropeOp } from '../runtime/rope-op';
import { wasmRotate } from '../runtime/wasm-kernels/rope';

/** cos and sin tables [N, D]; position offset + t of a call uses row start + t. */
export interface RopeTables {
  readonly cos: tf.Tensor2D;
  readonly sin: tf.Tensor2D;
  readonly start: number;
  /**
   * Device tables only: [L, D], row p = cos of position p's D/2 angles, then their sin (what the
   * attention kernels read to rotate q and k on load).
   */
  readonly packed?: tf.Tensor2D;
}

/** Positions a device table covers at least (fewer rebuilds for short prompts). */
const MIN_DEVICE_POSITIONS = 64;

interface DeviceTable {
  readonly cos: tf.Tensor2D;
  readonly sin: tf.Tensor2D;
  readonly packed: tf.Tensor2D;
}

/** Device tables by backend and `${D}:${θ}`; outgrown tables stay until `disposeRopeTables`. */
const deviceTables = new Map<tf.KernelBackend, Map<string, DeviceTable>>();
const outgrown: DeviceTable[] = [];

function hostAngles(first: number, T: number, D: number, theta: number) {
  const half = D / 2;
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (first + t) * Math.pow(theta, (-2 * i) / D);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * D + i] = c;
      cos[t * D + i + half] = c;
      sin[t * D + i] = s;
      sin[t * D + i + half] = s;
    }
  }
  return { cos, sin };
}

function hostTables(first: number, T: number, D: number, theta: number) {
  const { cos, sin } = hostAngles(first, T, D, theta);
  return { cos: tf.tensor2d(cos, [T, D]), sin: tf.tensor2d(sin, [T, D]) };
}

function deviceTable(positions: number, D: number, theta: number): DeviceTable {
  const backend = tf.backend();
  let byKey = deviceTables.get(backend);
  if (!byKey) deviceTables.set(backend, (byKey = new Map()));
  const key = `${D}:${theta}`;
  const have = byKey.get(key);
  if (have && have.cos.shape[0] >= positions) return have;
  if (have) outgrown.push(have); // a recorded backward may still read it
  const L = Math.max(MIN_DEVICE_POSITIONS, 2 ** Math.ceil(Math.log2(positions)));
  // Built from host values only: made by stock ops in the warm-up's compile-only mode
  // (src/engine/warm-up.ts) its contents would be garbage, and cached for good.
  const { cos, sin } = hostAngles(0, L, D, theta);
  const half = D / 2;
  const packed = new Float32Array(L * D);
  for (let p = 0; p < L; p++) {
    packed.set(cos.subarray(p * D, p * D + half), p * D);
    packed.set(sin.subarray(p * D, p * D + half), p * D + half);
  }
  const table = tf.tidy(() => ({
    cos: tf.keep(tf.tensor2d(cos, [L, D])),
    sin: tf.keep(tf.tensor2d(sin, [L, D])),
    packed: tf.keep(tf.tensor2d(packed, [L, D])),
  }));
  byKey.set(key, table);
  return table;
}

/** Which fused RoPE op this backend runs (with cached tables), or null: the stock ops. */
function fusedRopeOn(): 'webgpu' | 'wasm' | null {
  if (gpuKernelsActive()) return 'webgpu';
  return tf.getBackend() === 'wasm' ? 'wasm' : null;
}

/**
 * Tables for positions offset … offset + T − 1. Per-call tables (stock path) are new tensors for
 * the caller's tidy scope; device tables (webgpu kernels, wasm) are cached and must not be disposed.
 */
export function ropeTables(T: number, D: number, theta: number, offset: number): RopeTables {
  if (fusedRopeOn() !== null) {
    const { cos, sin, packed } = deviceTable(offset + T, D, theta);
    return { cos, sin, packed, start: offset };
  }
  return { ...hostTables(offset, T, D, theta), start: 0 };
}

/** Frees the cached device tables (tests; a model unload). */
export function disposeRopeTables(): void {
  for (const byKey of deviceTables.values()) {
    for (const t of byKey.values()) tf.dispose([t.cos, t.sin, t.packed]);
  }
  for (const t of outgrown) tf.dispose([t.cos, t.sin, t.packed]);
  deviceTables.clear();
  outgrown.length = 0;
}

/**
 * Applies RoPE to x [B, heads, T, D] (or [B, T, heads, D] in layout 'tokens') at the tables'
 * positions; returns a new tensor.
 */
export function applyRope(
  x: tf.Tensor4D,
  tables: RopeTables,
  layout: HeadLayout = 'heads',
): tf.Tensor4D {
  const fused = fusedRopeOn();
  if (fused === 'webgpu') return fusedRope(x, tables.cos, tables.sin, tables.start, layout);
  if (fused === 'wasm') return ropeOp(wasmRotate, x, tables.cos, tables.sin, tables.start, layout);
  return tf.tidy(() => {
    const D = x.shape[3];
    const T = layout === 'heads' ? x.shape[2] : x.shape[1];
    const whole = tables.start === 0 && tables.cos.shape[0] === T;
    const rows = (t: tf.Tensor2D) => {
      const mine = whole ? t : tf.slice(t, [tables.start, 0], [T, D]); // [T, D]
      return layout === 'heads' ? mine : tf.reshape(mine, [T, 1, D]); // broadcast over heads
    };
    const [x1, x2] = tf.split(x, [D / 2, D / 2], 3) as [tf.Tensor4D, tf.Tensor4D]; // [..., D/2] each
    const rotated = tf.concat([tf.neg(x2), x1], 3); // [..., D]
    return tf.add(tf.mul(x, rows(tables.cos)), tf.mul(rotated, rows(tables.sin)));
  });
}
