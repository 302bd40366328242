/**
 * Writes a step's keys and values into a preallocated KV cache, in place, in one dispatch:
 *   kDst[b, h, pos + t, :] = k[b, h, t, :],  vDst likewise,
 * for k, v [B, K, T, D] (or [B, T, K, D], a projection as it comes) and cache buffers
 * [B, K, cap, D]. No concat and no copy of the positions already cached: a decode step moves only
 * its own B·K·D floats per tensor.
 *
 * The RoPE variant (`appendKvCacheRope`) also rotates, in the same dispatch: k on its way into the
 * cache, and q into a new tensor of q's shape (RoFormer rotate-half, as kernels/rope.ts), so a
 * Llama-family decode step's attention takes two dispatches: this one and the attention kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, type GpuKernel, type ScalarType } from '../gpu-runtime';
import { dimsOf, stridesOf, type HeadLayout } from './attention-wgsl';

const WG = 64;
const ROW = 4096;

/** Workgroups for `n` invocations, rows of ROW (the kernels recover idx as (y·ROW + x)·WG + li). */
function grid(n: number): [number, number] {
  const groups = Math.ceil(n / WG);
  return [Math.min(groups, ROW), Math.ceil(groups / ROW)];
}

/** `n` u32 uniforms: every uniform of these kernels is a count, a position or a stride. */
const u32s = (n: number): ScalarType[] => Array.from({ length: n }, () => 'u32' as const);

/**
 * WGSL: the first element of token t's row of D in head row bh = b·heads + h of a source read
 * through element strides (batch, head, token).
 */
const SOURCE_ROW = /* wgsl */ `
fn sourceRow(bh: u32, heads: u32, batch: u32, head: u32, tok: u32, t: u32) -> u32 {
  return (bh / heads) * batch + (bh % heads) * head + t * tok;
}`;

export const KV_CACHE_WRITE_KERNEL: GpuKernel = {
  name: 'kv-cache-write',
  // n, T, D, cap, pos, K, the source's element strides (batch, head, token), k's and v's offsets
  uniforms: u32s(11),
  code: /* wgsl */ `
struct U { n: u32, T: u32, D: u32, cap: u32, pos: u32, K: u32, sBatch: u32, sHead: u32, sTok: u32,
           kOff: u32, vOff: u32 }
@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> kDst: array<f32>;
@group(0) @binding(3) var<storage, read_write> vDst: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
${SOURCE_ROW}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.y * ${ROW}u + wg.x) * ${WG}u + li;
  if (idx >= u.n) { return; }
  let d = idx % u.D;
  let row = idx / u.D;          // (b·K + h)·T + t
  let t = row % u.T;
  let bh = row / u.T;
  let at = (bh * u.cap + u.pos + t) * u.D + d;
  let src = sourceRow(bh, u.K, u.sBatch, u.sHead, u.sTok, t) + d;
  kDst[at] = k[u.kOff + src];
  vDst[at] = v[u.vOff + src];
}`,
};

/**
 * Records the write of k, v ([B, K, T, D], or [B, T, K, D] in layout 'tokens') into kDst, vDst
 * [B, K, cap, D] at position `pos`.
 */
export function writeKvCache(
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  kDst: tf.Tensor4D,
  vDst: tf.Tensor4D,
  pos: number,
  layout: HeadLayout = 'heads',
): void {
  const [, K, T, D] = dimsOf(k.shape, layout);
  write([k, v, kDst, vDst], pos, { K, T, D }, stridesOf(layout, K, T, D), [0, 0]);
}

/**
 * The write for a packed projection qkv [B, T, (H + 2K)·D] ([q | k | v] per token): its k and v
 * columns go into the cache as they are, no split.
 */
export function writeKvCachePacked(
  qkv: tf.Tensor3D,
  heads: { H: number; K: number; D: number },
  kDst: tf.Tensor4D,
  vDst: tf.Tensor4D,
  pos: number,
): void {
  const [, T, W] = qkv.shape;
  const { H, K, D } = heads;
  write([qkv, qkv, kDst, vDst], pos, { K, T, D }, [T * W, D, W], [H * D, (H + K) * D]);
}

function write(
  [k, v, kDst, vDst]: [tf.Tensor, tf.Tensor, tf.Tensor4D, tf.Tensor4D],
  pos: number,
  { K, T, D }: { K: number; T: number; D: number },
  strides: readonly number[],
  offsets: [number, number],
): void {
  const B = k.shape[0]!;
  const [Bd, Kd, cap, Dd] = kDst.shape;
  if (Bd !== B || Kd !== K || Dd !== D || pos + T > cap) {
    throw new RangeError(
      `kv-cache write of ${B}×${K} heads × ${T} positions × ${D} at position ${pos} does not ` +
        `fit a cache of ${JSON.stringify(kDst.shape)}`,
    );
  }
  const n = B * K * T * D;
  dispatch(KV_CACHE_WRITE_KERNEL, [k, v, kDst, vDst], grid(n), [
    n,
    T,
    D,
    cap,
    pos,
    K,
    ...strides,
    ...offsets,
  ]);
}

export const KV_CACHE_ROPE_KERNEL: GpuKernel = {
  name: 'kv-cache-write-rope',
  // nq, nkv, T, D, cap, pos, H, K, q strides (batch, head, token), k/v strides, table row of pos
  uniforms: u32s(15),
  code: /* wgsl */ `
struct U { nq: u32, nkv: u32, T: u32, D: u32, cap: u32, pos: u32, H: u32, K: u32,
           qBatch: u32, qHead: u32, qTok: u32, sBatch: u32, sHead: u32, sTok: u32, start: u32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> cosT: array<f32>;
@group(0) @binding(4) var<storage, read> sinT: array<f32>;
@group(0) @binding(5) var<storage, read_write> qOut: array<f32>;
@group(0) @binding(6) var<storage, read_write> kDst: array<f32>;
@group(0) @binding(7) var<storage, read_write> vDst: array<f32>;
@group(0) @binding(8) var<uniform> u: U;
${SOURCE_ROW}

// Element d of a row, given its rotate-half partner, rotated to table row at.
fn rotated(x: f32, partner: f32, d: u32, at: u32) -> f32 {
  let half = u.D / 2u;
  let sgn = select(1.0, -1.0, d < half);
  return x * cosT[at * u.D + d] + sgn * partner * sinT[at * u.D + d];
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.y * ${ROW}u + wg.x) * ${WG}u + li;
  let half = u.D / 2u;
  let d = idx % u.D;
  let t = (idx / u.D) % u.T;
  let partner = select(d - half, d + half, d < half);
  let at = u.start + t;
  if (idx < u.nq) {              // q: [B, H, T, D] enumerated, read and written in q's layout
    let bh = idx / (u.D * u.T);
    let row = sourceRow(bh, u.H, u.qBatch, u.qHead, u.qTok, t);
    qOut[row + d] = rotated(q[row + d], q[row + partner], d, at);
  }
  if (idx < u.nkv) {             // k (rotated) and v into the cache at pos + t
    let bh = idx / (u.D * u.T);
    let row = sourceRow(bh, u.K, u.sBatch, u.sHead, u.sTok, t);
    let dst = (bh * u.cap + u.pos + t) * u.D + d;
    kDst[dst] = rotated(k[row + d], k[row + partner], d, at);
    vDst[dst] = v[row + d];
  }
}`,
};

/**
 * Records the RoPE variant: k, v (layout as q's) into kDst, vDst [B, K, cap, D] at `pos`, k
 * rotated to table rows start … start + T − 1 of `cos`/`sin` [L, D]; returns q rotated the same
 * way, a new tensor of q's shape the caller owns.
 */
export function appendKvCacheRope(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  kDst: tf.Tensor4D,
  vDst: tf.Tensor4D,
  pos: number,
  tables: { cos: tf.Tensor2D; sin: tf.Tensor2D; start: number },
  layout: HeadLayout,
): tf.Tensor4D {
  const [, H, T, D] = dimsOf(q.shape, layout);
  const [, K] = dimsOf(k.shape, layout);
  const cap = kDst.shape[2];
  if (pos + T > cap || tables.start + T > tables.cos.shape[0] || tables.cos.shape[1] !== D) {
    throw new RangeError(
      `kv-cache rope write of T ${T} at position ${pos} does not fit a cache of ${cap} ` +
        `positions or tables ${JSON.stringify(tables.cos.shape)} from row ${tables.start}`,
    );
  }
  const qOut = emptyTensor<tf.Tensor4D>(q.shape);
  dispatch(
    KV_CACHE_ROPE_KERNEL,
    [q, k, v, tables.cos, tables.sin, qOut, kDst, vDst],
    grid(q.size),
    [
      q.size,
      k.size,
      T,
      D,
      cap,
      pos,
      H,
      K,
      ...stridesOf(layout, H, T, D),
      ...stridesOf(layout, K, T, D),
      tables.start,
    ],
  );
  return qOut;
}
