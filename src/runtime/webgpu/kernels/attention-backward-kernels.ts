/**
 * The WGSL of the fused causal attention backward, flash-style (Dao 2023, FlashAttention-2, Alg. 2): the
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
 * keys). dO and O are in the forward's merged layout [B, T, H·D]. The calls that record them are
 * in attention-backward.ts.
 */
import type { GpuKernel } from '../gpu-runtime';
import {
  ATTN_WG,
  attentionKernel,
  constants,
  headDim,
  probAndDs,
  queryRowMain,
  ropeDecl,
  rotateShared,
  rowInputs,
  rowOperand,
  type HeadDim,
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
${rowInputs(hd, ['q', 'k', 'v', 'dO', 'O'])}
@group(0) @binding(5) var<storage, read_write> stats: array<f32>; // [lse | Δ], each [B, H, T]
${rowOperand(hd, 6, 'dq', true)}
${ropeDecl(hd, 7)}
@group(0) @binding(8) var<uniform> u: U;

${queryRowMain(hd)}
  let row = (b * u.H + h) * u.T + t;
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
        ${probAndDs(
          (j) => `qr[${j}]`,
          (j) => `ks[c * D4 + ${j}]`,
          (j) => `dor[${j}]`,
          (j) => `vs[c * D4 + ${j}]`,
          'L',
          'dlt',
        )}
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
    ? `${rowOperand(hd, 5, 'dkv', true)}
${ropeDecl(hd, 6)}
@group(0) @binding(7) var<uniform> u: U;`
    : `${rowOperand(hd, 5, 'dk', true)}
${rowOperand(hd, 6, 'dv', true)}
${ropeDecl(hd, 7)}
@group(0) @binding(8) var<uniform> u: U;`;
  return /* wgsl */ `
${constants(hd)}
${HEADER}
${rowInputs(hd, ['q', 'k', 'v', 'dO'])}
@group(0) @binding(4) var<storage, read> stats: array<f32>; // [lse | Δ], each [B, H, T]
${outputs}

var<workgroup> qs: array<vec4<f32>, ${hd.tile * hd.D4}>;
var<workgroup> dos: array<vec4<f32>, ${hd.tile * hd.D4}>;
var<workgroup> ls: array<f32, TILE>;
var<workgroup> dls: array<f32, TILE>;

@compute @workgroup_size(${ATTN_WG})
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
        ${probAndDs(
          (j) => `qs[c * D4 + ${j}]`,
          (j) => `kr[${j}]`,
          (j) => `dos[c * D4 + ${j}]`,
          (j) => `vr[${j}]`,
          'ls[c]',
          'dls[c]',
        )}
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

export function attentionDqKernel(D: number): GpuKernel {
  return attentionKernel(`attention-dq-d${D}`, () => dqSource(headDim(D)), UNIFORMS);
}

export function attentionDkdvKernel(D: number, packed = false): GpuKernel {
  const name = `attention-dkdv${packed ? '-packed' : ''}-d${D}`;
  return attentionKernel(name, () => dkdvSource(headDim(D), packed), UNIFORMS);
}
