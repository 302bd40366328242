/**
 * Fused causal attention backward, flash-style (Dao 2023, FlashAttention-2, Alg. 2): the
 * probabilities are recomputed per tile from q, k and the forward's logsumexp,
 *   p_ts = exp(q_t·k_s / √D − lse_t)                        (s ≤ offset + t, else 0)
 *   Δ_t = Σ_d dO_td · O_td                                   (= Σ_s p_ts dP_ts)
 *   dS_ts = p_ts (dO_t·v_s − Δ_t)
 *   dq_t = (1/√D) Σ_s dS_ts k_s,  dk_s = (1/√D) Σ_t dS_ts q_t,  dv_s = Σ_t p_ts dO_t,
 * with dk, dv summed over the G query heads that read kv head ⌊h/G⌋. [B, H, T, S] is never stored.
 *
 * Two dispatches: `attention-dq` (one invocation per query row, as the forward, which also writes
 * Δ) and then `attention-dkdv` (one invocation per key row; it loops over the query rows of its
 * kv head's G heads in tiles held in workgroup memory, starting at the first row that can see its
 * keys). dO and O are in the forward's merged layout [B, T, H·D].
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { ropeArgs, type AttentionRope } from './attention-forward';
import {
  constants,
  headDim,
  loader,
  storage,
  storer,
  dimsOf,
  ropeDecl,
  rotateShared,
  stridesOf,
  type HeadDim,
  type HeadLayout,
} from './attention-wgsl';

// T S offset H G K scale, q's and k/v's element strides (batch, head, token), then the element
// offsets of q, k and v rows in their buffers (a packed qkv; 0 otherwise)
const UNIFORMS = [
  ...(['u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'f32'] as const),
  ...(['u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32'] as const),
  ...(['u32', 'u32', 'u32', 'u32'] as const), // B·H·T, rope, qRow0, kRow0
];
const HEADER = `struct U { T: u32, S: u32, offset: u32, H: u32, G: u32, K: u32, scale: f32,
  qBatch: u32, qHead: u32, qTok: u32, kvBatch: u32, kvHead: u32, kvTok: u32,
  qOff: u32, kOff: u32, vOff: u32, bht: u32, rope: u32, qRow0: u32, kRow0: u32 }`;

function dqSource(hd: HeadDim): string {
  return /* wgsl */ `
${constants(hd)}
${HEADER}
${storage(hd, 0, 'q')}
${storage(hd, 1, 'k')}
${storage(hd, 2, 'v')}
${storage(hd, 3, 'dO')}
${storage(hd, 4, 'O')}
@group(0) @binding(5) var<storage, read_write> stats: array<f32>; // [lse | Δ], each [B, H, T]
${storage(hd, 6, 'dq', true)}
${ropeDecl(hd, 7)}
@group(0) @binding(8) var<uniform> u: U;
${loader(hd, 'q')}
${loader(hd, 'k')}
${loader(hd, 'v')}
${loader(hd, 'dO')}
${loader(hd, 'O')}
${storer(hd, 'dq')}

var<workgroup> ks: array<vec4<f32>, ${hd.tile * hd.D4}>;
var<workgroup> vs: array<vec4<f32>, ${hd.tile * hd.D4}>;

@compute @workgroup_size(${64})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.y / u.K;
  let kvh = wg.y % u.K;
  let rows = u.G * u.T;
  let r = wg.x * WG + li;
  let live = r < rows;
  let rr = min(r, rows - 1u);
  let t = rr / u.G;
  let h = kvh * u.G + rr % u.G;
  let row = (b * u.H + h) * u.T + t;
  let qBase = u.qOff + b * u.qBatch + h * u.qHead + t * u.qTok;
  let mBase = ((b * u.T + t) * u.H + h) * D; // merged [B, T, H·D]
  var qr: array<vec4<f32>, D4>;
  var dor: array<vec4<f32>, D4>;
  var dq: array<vec4<f32>, D4>;
  var dl = vec4<f32>(0.0);
  for (var j = 0u; j < D4; j++) {
    qr[j] = ld_q(qBase, j) * u.scale;
    dor[j] = ld_dO(mBase, j);
    dl = fma(dor[j], ld_O(mBase, j), dl);
  }
  let dlt = dl.x + dl.y + dl.z + dl.w;
  if (u.rope != 0u) { rotateRow(&qr, u.qRow0 + t, 1.0); }
  let L = stats[row];
  let kvBase = b * u.kvBatch + kvh * u.kvHead;
  let tLast = min(wg.x * WG + WG - 1u, rows - 1u) / u.G;
  let sEnd = min(u.S, u.offset + tLast + 1u);
  let mine = u.offset + t + 1u;
  for (var s0 = 0u; s0 < sEnd; s0 += TILE) {
    for (var i = li; i < TILE * D4; i += WG) {
      let s = s0 + i / D4;
      var kx = vec4<f32>(0.0);
      var vx = vec4<f32>(0.0);
      if (s < sEnd) {
        kx = ld_k(u.kOff + kvBase + s * u.kvTok, i % D4);
        vx = ld_v(u.vOff + kvBase + s * u.kvTok, i % D4);
      }
      ks[i] = kx;
      vs[i] = vx;
    }
    workgroupBarrier();
    let n = min(TILE, sEnd - s0);
    ${rotateShared('ks', 'n', (c) => `u.kRow0 + s0 + ${c}`)}
    for (var c = 0u; c < n; c++) {
      if (s0 + c < mine) {
        var x4 = vec4<f32>(0.0);
        var dp4 = vec4<f32>(0.0);
        for (var j = 0u; j < D4; j++) {
          x4 = fma(qr[j], ks[c * D4 + j], x4);
          dp4 = fma(dor[j], vs[c * D4 + j], dp4);
        }
        let p = exp(x4.x + x4.y + x4.z + x4.w - L);
        let ds = p * (dp4.x + dp4.y + dp4.z + dp4.w - dlt);
        for (var j = 0u; j < D4; j++) { dq[j] = fma(vec4<f32>(ds), ks[c * D4 + j], dq[j]); }
      }
    }
    workgroupBarrier();
  }
  if (u.rope != 0u) { rotateRow(&dq, u.qRow0 + t, -1.0); } // back to the unrotated q
  if (live) {
    for (var j = 0u; j < D4; j++) { st_dq(qBase, j, dq[j] * u.scale); }
    stats[u.bht + row] = dlt;
  }
}`;
}

/** `packed`: dk and dv go to one buffer (a packed dqkv) at the k and v offsets. */
function dkdvSource(hd: HeadDim, packed: boolean): string {
  const outputs = packed
    ? `${storage(hd, 5, 'dkv', true)}
${ropeDecl(hd, 6)}
@group(0) @binding(7) var<uniform> u: U;
${storer(hd, 'dkv')}`
    : `${storage(hd, 5, 'dk', true)}
${storage(hd, 6, 'dv', true)}
${ropeDecl(hd, 7)}
@group(0) @binding(8) var<uniform> u: U;
${storer(hd, 'dk')}
${storer(hd, 'dv')}`;
  return /* wgsl */ `
${constants(hd)}
${HEADER}
${storage(hd, 0, 'q')}
${storage(hd, 1, 'k')}
${storage(hd, 2, 'v')}
${storage(hd, 3, 'dO')}
@group(0) @binding(4) var<storage, read> stats: array<f32>; // [lse | Δ], each [B, H, T]
${outputs}
${loader(hd, 'q')}
${loader(hd, 'k')}
${loader(hd, 'v')}
${loader(hd, 'dO')}

var<workgroup> qs: array<vec4<f32>, ${hd.tile * hd.D4}>;
var<workgroup> dos: array<vec4<f32>, ${hd.tile * hd.D4}>;
var<workgroup> ls: array<f32, TILE>;
var<workgroup> dls: array<f32, TILE>;

@compute @workgroup_size(${64})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.y / u.K;
  let kvh = wg.y % u.K;
  let s = wg.x * WG + li;
  let live = s < u.S;
  let kvRow = b * u.kvBatch + kvh * u.kvHead + min(s, u.S - 1u) * u.kvTok;
  var kr: array<vec4<f32>, D4>;
  var vr: array<vec4<f32>, D4>;
  var dk: array<vec4<f32>, D4>;
  var dv: array<vec4<f32>, D4>;
  for (var j = 0u; j < D4; j++) {
    kr[j] = ld_k(u.kOff + kvRow, j);
    vr[j] = ld_v(u.vOff + kvRow, j);
  }
  if (u.rope != 0u) { rotateRow(&kr, u.kRow0 + min(s, u.S - 1u), 1.0); }
  let rows = u.G * u.T;
  // Query t sees key s when s ≤ offset + t: the workgroup's first key bounds the first row.
  let sFirst = wg.x * WG;
  let tFirst = select(0u, sFirst - u.offset, sFirst > u.offset);
  for (var r0 = min(tFirst * u.G, rows); r0 < rows; r0 += TILE) {
    for (var i = li; i < TILE * D4; i += WG) {
      let r = r0 + i / D4;
      let j = i % D4;
      var qx = vec4<f32>(0.0);
      var dx = vec4<f32>(0.0);
      if (r < rows) {
        let t = r / u.G;
        let h = kvh * u.G + r % u.G;
        qx = ld_q(u.qOff + b * u.qBatch + h * u.qHead + t * u.qTok, j) * u.scale;
        dx = ld_dO(((b * u.T + t) * u.H + h) * D, j);
      }
      qs[i] = qx;
      dos[i] = dx;
    }
    for (var i = li; i < TILE; i += WG) {
      let r = r0 + i;
      var lx = 0.0;
      var dlx = 0.0;
      if (r < rows) {
        let row = (b * u.H + kvh * u.G + r % u.G) * u.T + r / u.G;
        lx = stats[row];
        dlx = stats[u.bht + row];
      }
      ls[i] = lx;
      dls[i] = dlx;
    }
    workgroupBarrier();
    let n = min(TILE, rows - r0);
    ${rotateShared('qs', 'n', (c) => `u.qRow0 + (r0 + ${c}) / u.G`)}
    for (var c = 0u; c < n; c++) {
      let t = (r0 + c) / u.G;
      if (s <= u.offset + t) {
        var x4 = vec4<f32>(0.0);
        var dp4 = vec4<f32>(0.0);
        for (var j = 0u; j < D4; j++) {
          x4 = fma(qs[c * D4 + j], kr[j], x4);
          dp4 = fma(dos[c * D4 + j], vr[j], dp4);
        }
        let p = exp(x4.x + x4.y + x4.z + x4.w - ls[c]);
        let ds = p * (dp4.x + dp4.y + dp4.z + dp4.w - dls[c]);
        for (var j = 0u; j < D4; j++) {
          dv[j] = fma(vec4<f32>(p), dos[c * D4 + j], dv[j]);
          dk[j] = fma(vec4<f32>(ds), qs[c * D4 + j], dk[j]);
        }
      }
    }
    workgroupBarrier();
  }
  if (u.rope != 0u) { rotateRow(&dk, u.kRow0 + min(s, u.S - 1u), -1.0); } // back to unrotated k
  if (live) {
    for (var j = 0u; j < D4; j++) {
      ${packed ? 'st_dkv' : 'st_dk'}(u.kOff + kvRow, j, dk[j]);
      ${packed ? 'st_dkv' : 'st_dv'}(u.vOff + kvRow, j, dv[j]);
    }
  }
}`;
}

const dqKernels = new Map<number, GpuKernel>();
const dkdvKernels = new Map<string, GpuKernel>();

export function attentionDqKernel(D: number): GpuKernel {
  let kernel = dqKernels.get(D);
  if (!kernel) {
    kernel = { name: `attention-dq-d${D}`, code: dqSource(headDim(D)), uniforms: UNIFORMS };
    dqKernels.set(D, kernel);
  }
  return kernel;
}

export function attentionDkdvKernel(D: number, packed = false): GpuKernel {
  const name = `attention-dkdv${packed ? '-packed' : ''}-d${D}`;
  let kernel = dkdvKernels.get(name);
  if (!kernel) {
    kernel = { name, code: dkdvSource(headDim(D), packed), uniforms: UNIFORMS };
    dkdvKernels.set(name, kernel);
  }
  return kernel;
}

interface BackwardCall {
  readonly B: number;
  readonly H: number;
  readonly K: number;
  readonly T: number;
  readonly S: number;
  readonly D: number;
  readonly qStrides: readonly number[];
  readonly kvStrides: readonly number[];
  readonly offsets: readonly [number, number, number];
  readonly rope?: AttentionRope | null;
}

/**
 * The two dispatches; `stats` is the forward's [lse | Δ] (Δ written here); `dkv` one tensor
 * (packed) or [dk, dv].
 */
function backward(
  c: BackwardCall,
  inputs: [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor3D, tf.Tensor4D, tf.Tensor3D],
  dq: tf.Tensor,
  dkv: tf.Tensor | [tf.Tensor, tf.Tensor],
): void {
  const [q, k, v, o, stats, dO] = inputs;
  const G = c.H / c.K;
  const r = ropeArgs(c.rope, q, c.D);
  const uniforms = [
    ...[c.T, c.S, c.S - c.T, c.H, G, c.K, 1 / Math.sqrt(c.D)],
    ...c.qStrides,
    ...c.kvStrides,
    ...c.offsets,
    c.B * c.H * c.T,
    ...r.uniforms,
  ];
  const rows: [number, number] = [Math.ceil((G * c.T) / 64), c.B * c.K];
  dispatch(attentionDqKernel(c.D), [q, k, v, dO, o, stats, dq, r.table], rows, uniforms);
  const packed = !Array.isArray(dkv);
  dispatch(
    attentionDkdvKernel(c.D, packed),
    [q, k, v, dO, stats, ...(packed ? [dkv] : dkv), r.table],
    [Math.ceil(c.S / 64), c.B * c.K],
    uniforms,
  );
}

/**
 * Gradients of the fused forward. q [B, H, T, D]; k, v [B, K, S, D] in layout 'heads' (or
 * [B, T, H, D], [B, S, K, D] in layout 'tokens'); o and dO [B, T, H·D]; stats the forward's
 * [2, B, H, T] (its second half is overwritten with Δ); `rope` as the forward's. Returns new
 * dq, dk, dv shaped and laid out as q, k, v (the caller owns them), w.r.t. the unrotated q, k.
 */
export function attentionBackward(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  o: tf.Tensor3D,
  stats: tf.Tensor4D,
  dO: tf.Tensor3D,
  layout: HeadLayout = 'heads',
  rope: AttentionRope | null = null,
): { dq: tf.Tensor4D; dk: tf.Tensor4D; dv: tf.Tensor4D } {
  const [B, H, T, D] = dimsOf(q.shape, layout);
  const [, K, S] = dimsOf(k.shape, layout);
  const dq = emptyTensor<tf.Tensor4D>(q.shape);
  const dk = emptyTensor<tf.Tensor4D>(k.shape);
  const dv = emptyTensor<tf.Tensor4D>(v.shape);
  const call: BackwardCall = {
    ...{ B, H, K, T, S, D },
    qStrides: stridesOf(layout, H, T, D),
    kvStrides: stridesOf(layout, K, S, D),
    offsets: [0, 0, 0],
    rope,
  };
  backward(call, [q, k, v, o, stats, dO], dq, [dk, dv]);
  return { dq, dk, dv };
}

/**
 * The backward of `attentionForwardPacked`: qkv [B, T, (H + 2K)·D] as the forward read it; returns
 * a new dqkv of its shape (dq, dk, dv in the q, k and v columns).
 */
export function attentionBackwardPacked(
  qkv: tf.Tensor3D,
  heads: { H: number; K: number; D: number },
  o: tf.Tensor3D,
  stats: tf.Tensor4D,
  dO: tf.Tensor3D,
): tf.Tensor3D {
  const [B, T, W] = qkv.shape;
  const { H, K, D } = heads;
  const dqkv = emptyTensor<tf.Tensor3D>(qkv.shape);
  const strides = [T * W, D, W];
  const call: BackwardCall = {
    ...{ B, H, K, T, S: T, D },
    qStrides: strides,
    kvStrides: strides,
    offsets: [0, H * D, (H + K) * D],
  };
  backward(call, [qkv, qkv, qkv, o, stats, dO], dqkv, dqkv);
  return dqkv;
}
