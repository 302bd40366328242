/**
 * Tiled matrix product on WebGPU, with the extras the LoRA projection needs in the same dispatch:
 *
 *   C[M, N] = α·op(A)·op(B) (+ bias[N]) (+ s·L·op(R)) (+ C, when accumulating)
 *
 * op(X) is X or Xᵀ (row-major storage either way). B may be float32 or packed bf16 pairs (a u32 /
 * int32 buffer, two bf16 per word along the flattened array: element 2i in the low half of word i,
 * src/io/dtype.ts `packBf16Pairs`), unpacked as it is loaded: bf16 is the top half of a float32,
 * so the low half widens as `bitcast<f32>(w << 16)` and the high half as
 * `bitcast<f32>(w & 0xffff0000)`, exactly. The low-rank term L [M, r] · R ([r, N], or [N, r]
 * transposed) runs as extra K-tiles through the same accumulator: [α·A | s·L] · [B ; R].
 *
 * Tiling (the scheme of published WebGPU matmul work, e.g. TF.js's `matmul_packed`): a workgroup
 * of 8×8 invocations computes a 32×32 output tile, each invocation a 4×4 block held in registers;
 * per 32-deep K step both operand tiles are staged in workgroup memory, K-major, so the inner loop
 * reads one vec4 of A and one of B for 16 FMAs. Global loads are coalesced along whichever axis
 * is contiguous for the operand's transposition. Edges are zero-filled, so any M, N, K works.
 *
 * Shader variants differ by the flags of `GemmVariant` (each one compiles once per device); the
 * sizes, α and s are uniforms. Returns fresh tensors (or writes the caller's C when accumulating);
 * differentiation is the op layer's job (ops/lora-projection.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, type GpuKernel } from '../gpu-runtime';

/** Output tile edge (rows and columns) of one workgroup. */
const TILE = 32;
/** Depth of one K step staged in workgroup memory. */
const TILE_K = 32;

/** WebGPU's default maxComputeWorkgroupsPerDimension. */
const MAX_GROUPS = 65535;

/** What selects a shader: everything that changes the code, not the sizes. */
export interface GemmVariant {
  readonly transA: boolean;
  readonly transB: boolean;
  /** B is bf16 pairs in u32 words instead of float32. */
  readonly packedB: boolean;
  readonly bias: boolean;
  /** C += result (C read, then written), instead of C = result. */
  readonly accumulate: boolean;
  /** The low-rank term s·L·op(R): null for none; transR: R is stored [N, r]. */
  readonly lowRank: null | { readonly transR: boolean };
  /**
   * A and B are loaded in vec4 words (`vectorLoads`: their contiguous sizes are multiples of 4,
   * of 8 for packed B), instead of one element per load.
   */
  readonly vec4?: boolean;
}

/** A matrix of bf16 pairs: `words` (int32, ⌈rows·cols / 2⌉) holding the row-major [rows, cols]. */
export interface PackedBf16Matrix {
  readonly words: tf.Tensor;
  readonly shape: readonly [number, number];
}

export interface GemmOptions {
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** α, multiplying op(A)·op(B) (not the bias nor the low-rank term). Default 1. */
  readonly alpha?: number;
  /** [N] */
  readonly bias?: tf.Tensor1D | null;
  /** s·L·op(R): L [M, r]; R [r, N], or [N, r] with transR. */
  readonly lowRank?: {
    readonly l: tf.Tensor2D;
    readonly r: tf.Tensor2D;
    readonly transR: boolean;
    readonly scale: number;
  } | null;
  /** Add into this [M, N] tensor (written in place; the caller must own it) and return it. */
  readonly accumulate?: tf.Tensor2D | null;
}

const kernels = new Map<string, GpuKernel>();

/** The kernel of one variant (cached: same object, same pipeline). */
export function gemmKernel(variant: GemmVariant): GpuKernel {
  const key = variantName(variant);
  let kernel = kernels.get(key);
  if (!kernel) {
    kernel = {
      name: key,
      code: gemmWgsl(variant),
      uniforms: ['u32', 'u32', 'u32', 'u32', 'f32', 'f32'],
    };
    kernels.set(key, kernel);
  }
  return kernel;
}

function variantName(v: GemmVariant): string {
  const ops = `${v.transA ? 't' : 'n'}${v.transB ? 't' : 'n'}`;
  const parts = [`gemm-${ops}`];
  if (v.packedB) parts.push('bf16');
  if (v.bias) parts.push('bias');
  if (v.lowRank) parts.push(v.lowRank.transR ? 'lrt' : 'lr');
  if (v.accumulate) parts.push('acc');
  if (v.vec4) parts.push('vec4');
  return parts.join('-');
}

/**
 * C = α·op(A)·op(B) (+ bias) (+ s·L·op(R)) (+ C): one dispatch. A is float32 [M, K] ([K, M] with
 * transA); B is float32 [K, N] ([N, K] with transB) or the same layout packed as bf16 pairs.
 * Returns a new [M, N] tensor (the caller disposes it), or `accumulate` itself.
 */
export function gemm(
  a: tf.Tensor2D,
  b: tf.Tensor2D | PackedBf16Matrix,
  options: GemmOptions = {},
): tf.Tensor2D {
  const { bias, lowRank, accumulate } = options;
  const packed = !(b instanceof tf.Tensor);
  const { M, N, K, rank } = checkOperands(a, b, options);
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const variant: GemmVariant = {
    transA,
    transB,
    packedB: packed,
    bias: !!bias,
    accumulate: !!accumulate,
    lowRank: lowRank ? { transR: lowRank.transR } : null,
    vec4: vectorLoads(M, N, K, transA, transB, packed),
  };
  const c = accumulate ?? emptyTensor<tf.Tensor2D>([M, N]);
  const bindings: tf.TensorInfo[] = [a, packed ? b.words : b];
  if (bias) bindings.push(bias);
  if (lowRank) bindings.push(lowRank.l, lowRank.r);
  bindings.push(c);
  const uniforms = [M, N, K, rank, options.alpha ?? 1, lowRank?.scale ?? 0];
  dispatch(gemmKernel(variant), bindings, [groupsFor(N, TILE), groupsFor(M, TILE)], uniforms);
  return c;
}

/**
 * Whether A and B can be read in aligned vec4 words: the size along each one's contiguous axis
 * (A: K, or M when transposed; B: N, or K when transposed) a multiple of 4, of 8 for packed B
 * (a vec4 of u32 is 8 bf16). Tiles start at multiples of 32, so such a word is wholly inside the
 * matrix or wholly outside.
 */
export function vectorLoads(
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  packedB: boolean,
): boolean {
  const aRun = transA ? M : K;
  const bRun = transB ? K : N;
  return aRun % 4 === 0 && bRun % (packedB ? 8 : 4) === 0;
}

/** M, N, K and the low-rank r of a call; throws with the sizes when the operands do not fit. */
function checkOperands(
  a: tf.Tensor2D,
  b: tf.Tensor2D | PackedBf16Matrix,
  options: GemmOptions,
): { M: number; N: number; K: number; rank: number } {
  const { bias, lowRank, accumulate } = options;
  const packed = !(b instanceof tf.Tensor);
  const bShape = packed ? b.shape : (b.shape as [number, number]);
  const [M, K] = options.transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [kB, N] = options.transB ? [bShape[1], bShape[0]] : bShape;
  const fail = (why: string): never => {
    throw new Error(`gemm: ${why}`);
  };
  if (kB !== K) fail(`op(A) is [${M}, ${K}] but op(B) is [${kB}, ${N}]; inner sizes must match.`);
  if (packed) checkPacked(b);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== N)) {
    fail(`bias has shape [${bias.shape}], expected [${N}].`);
  }
  const rank = lowRank ? lowRank.l.shape[1] : 0;
  if (lowRank) {
    const want = lowRank.transR ? [N, rank] : [rank, N];
    if (lowRank.l.shape[0] !== M || lowRank.r.shape.join() !== want.join()) {
      fail(
        `low-rank term L [${lowRank.l.shape}] · R [${lowRank.r.shape}] does not give [${M}, ${N}] ` +
          `(R must be ${lowRank.transR ? '[N, r]' : '[r, N]'}).`,
      );
    }
  }
  if (accumulate && (accumulate.shape[0] !== M || accumulate.shape[1] !== N)) {
    fail(`accumulate target is [${accumulate.shape}], expected [${M}, ${N}].`);
  }
  const operands = [a, packed ? null : b, bias, lowRank?.l, lowRank?.r];
  for (const t of [...operands, accumulate]) {
    if (t && t.dtype !== 'float32') fail(`float32 operands only, got ${t.dtype}.`);
  }
  if (
    accumulate &&
    [...operands, packed ? b.words : null].some((t) => t?.dataId === accumulate.dataId)
  ) {
    fail('the accumulate target is also an operand; pass a copy.');
  }
  if (groupsFor(N, TILE) > MAX_GROUPS || groupsFor(M, TILE) > MAX_GROUPS) {
    fail(`[${M}, ${N}] needs more than WebGPU's ${MAX_GROUPS} workgroups per dimension; split it.`);
  }
  return { M, N, K, rank };
}

function checkPacked(b: PackedBf16Matrix): void {
  const words = Math.ceil((b.shape[0] * b.shape[1]) / 2);
  if (b.words.dtype !== 'int32' || b.words.size !== words) {
    throw new Error(
      `gemm: packed B [${b.shape}] needs ${words} int32 words, got ${b.words.size} ${b.words.dtype}.`,
    );
  }
}

/** Element i < 8 of a vec4<u32> of bf16 pairs, as float32 (low half first). */
const WIDEN = `
fn widen(w: vec4<u32>, i: u32) -> f32 {
  let word = w[i / 2u];
  if ((i & 1u) == 0u) { return bitcast<f32>(word << 16u); }
  return bitcast<f32>(word & 0xffff0000u);
}
`;

/** The WGSL of one variant. */
function gemmWgsl(v: GemmVariant): string {
  let binding = 0;
  const decl = (name: string, type: string, access = 'read') =>
    `@group(0) @binding(${binding++}) var<storage, ${access}> ${name}: array<${type}>;`;
  const word = v.vec4 ? (t: string) => `vec4<${t}>` : (t: string) => t;
  const lines = [decl('a', word('f32')), decl('b', word(v.packedB ? 'u32' : 'f32'))];
  if (v.bias) lines.push(decl('bias', 'f32'));
  if (v.lowRank) lines.push(decl('lo', 'f32'), decl('ro', 'f32'));
  lines.push(decl('c', 'f32', 'read_write'));
  lines.push(`@group(0) @binding(${binding}) var<uniform> u: U;`);
  const rIndex = v.lowRank?.transR ? 'n * u.R + j' : 'j * u.N + n';
  return /* wgsl */ `
struct U { M: u32, N: u32, K: u32, R: u32, alpha: f32, s: f32 }
${lines.join('\n')}

const TILE = ${TILE}u;
const TILE_K = ${TILE_K}u;
// Staged tiles, K-major: As[k][m / 4] and Bs[k][n / 4], so the inner loop reads whole vec4s.
var<workgroup> As: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;

${v.vec4 ? '' : scalarLoaders(v)}
${v.vec4 && v.packedB ? WIDEN : ''}
// 16 FMAs per (vec4 of A, vec4 of B) pair, over one staged K step.
fn multiplyTile(tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
  for (var kk = 0u; kk < TILE_K; kk++) {
    let av = As[kk * (TILE / 4u) + ty];
    let bv = Bs[kk * (TILE / 4u) + tx];
    (*acc)[0] += av.x * bv;
    (*acc)[1] += av.y * bv;
    (*acc)[2] += av.z * bv;
    (*acc)[3] += av.w * bv;
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tx = t % 8u;
  let ty = t / 8u;
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  var acc: array<vec4<f32>, 4>;
  let steps = (u.K + TILE_K - 1u) / TILE_K;
  for (var step = 0u; step < steps; step++) {
    let k0 = step * TILE_K;
${v.vec4 ? vectorTileLoads(v) : scalarTileLoads(v)}
    workgroupBarrier();
    multiplyTile(tx, ty, &acc);
    workgroupBarrier();
  }
${v.lowRank ? lowRankSteps(rIndex) : ''}
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    if (m >= u.M) { break; }
    for (var jn = 0u; jn < 4u; jn++) {
      let n = n0 + tx * 4u + jn;
      if (n >= u.N) { break; }
      var value = acc[i][jn];
      ${v.bias ? 'value += bias[n];' : ''}
      ${v.accumulate ? 'value += c[m * u.N + n];' : ''}
      c[m * u.N + n] = value;
    }
  }
}
`;
}

/** Element loaders of the scalar variant: (m, k) of op(A), (k, n) of op(B). */
function scalarLoaders(v: GemmVariant): string {
  const bIndex = v.transB ? 'n * u.K + k' : 'k * u.N + n';
  const loadB = v.packedB
    ? `let e = ${bIndex};
  let w = b[e >> 1u];
  if ((e & 1u) == 0u) { return bitcast<f32>(w << 16u); }
  return bitcast<f32>(w & 0xffff0000u);`
    : `return b[${bIndex}];`;
  return `
fn loadA(m: u32, k: u32) -> f32 {
  return a[${v.transA ? 'k * u.M + m' : 'm * u.K + k'}];
}

fn loadB(k: u32, n: u32) -> f32 {
  ${loadB}
}
`;
}

/**
 * One K step's tiles, an element per load. The tile coordinate along the operand's contiguous
 * axis varies fastest across invocations, so neighbours load neighbouring words: for A [M, K]
 * that is k, for Aᵀ m; for B [K, N] n, for Bᵀ k.
 */
function scalarTileLoads(v: GemmVariant): string {
  const [a0, a1] = v.transA ? ['mm', 'kk'] : ['kk', 'mm'];
  const [b0, b1] = v.transB ? ['kk', 'nn'] : ['nn', 'kk'];
  const perInvocation = (TILE * TILE_K) / 64;
  return `
    for (var j = 0u; j < ${perInvocation}u; j++) {
      let idx = j * 64u + t;
      let ${a0} = idx % TILE;
      let ${a1} = idx / TILE;
      var av = 0.0;
      if (m0 + mm < u.M && k0 + kk < u.K) { av = u.alpha * loadA(m0 + mm, k0 + kk); }
      As[kk * (TILE / 4u) + mm / 4u][mm % 4u] = av;
    }
    for (var j = 0u; j < ${perInvocation}u; j++) {
      let idx = j * 64u + t;
      let ${b0} = idx % TILE;
      let ${b1} = idx / TILE;
      var bv = 0.0;
      if (n0 + nn < u.N && k0 + kk < u.K) { bv = loadB(k0 + kk, n0 + nn); }
      Bs[kk * (TILE / 4u) + nn / 4u][nn % 4u] = bv;
    }`;
}

/**
 * One K step's tiles in vec4 words along each operand's contiguous axis (`vectorLoads` holds):
 * a word along m or n is stored whole into the K-major tile, one along k is spread over 4 rows.
 * Packed B reads 8 bf16 per vec4<u32>.
 */
function vectorTileLoads(v: GemmVariant): string {
  const words = (TILE * TILE_K) / 4 / 64; // f32 vec4 loads per invocation and operand
  const aLoad = v.transA
    ? `let mq = idx % (TILE / 4u);
      let kk = idx / (TILE / 4u);
      var w = vec4<f32>();
      if (m0 + mq * 4u < u.M && k0 + kk < u.K) { w = u.alpha * a[((k0 + kk) * u.M + m0 + mq * 4u) / 4u]; }
      As[kk * (TILE / 4u) + mq] = w;`
    : `let kq = idx % (TILE_K / 4u);
      let mm = idx / (TILE_K / 4u);
      var w = vec4<f32>();
      if (m0 + mm < u.M && k0 + kq * 4u < u.K) { w = u.alpha * a[((m0 + mm) * u.K + k0 + kq * 4u) / 4u]; }
      for (var i = 0u; i < 4u; i++) { As[(kq * 4u + i) * (TILE / 4u) + mm / 4u][mm % 4u] = w[i]; }`;
  return `
    for (var j = 0u; j < ${words}u; j++) {
      let idx = j * 64u + t;
      ${aLoad}
    }
${v.packedB ? packedVectorLoads(v) : floatVectorLoads(v, words)}`;
}

function floatVectorLoads(v: GemmVariant, words: number): string {
  const load = v.transB
    ? `let kq = idx % (TILE_K / 4u);
      let nn = idx / (TILE_K / 4u);
      var w = vec4<f32>();
      if (n0 + nn < u.N && k0 + kq * 4u < u.K) { w = b[((n0 + nn) * u.K + k0 + kq * 4u) / 4u]; }
      for (var i = 0u; i < 4u; i++) { Bs[(kq * 4u + i) * (TILE / 4u) + nn / 4u][nn % 4u] = w[i]; }`
    : `let nq = idx % (TILE / 4u);
      let kk = idx / (TILE / 4u);
      var w = vec4<f32>();
      if (n0 + nq * 4u < u.N && k0 + kk < u.K) { w = b[((k0 + kk) * u.N + n0 + nq * 4u) / 4u]; }
      Bs[kk * (TILE / 4u) + nq] = w;`;
  return `
    for (var j = 0u; j < ${words}u; j++) {
      let idx = j * 64u + t;
      ${load}
    }`;
}

/** B's tile from bf16 pairs, 8 elements (one vec4<u32>) per load, widened exactly. */
function packedVectorLoads(v: GemmVariant): string {
  const words = (TILE * TILE_K) / 8 / 64;
  const load = v.transB
    ? `let kq = idx % (TILE_K / 8u);
      let nn = idx / (TILE_K / 8u);
      var w = vec4<u32>();
      if (n0 + nn < u.N && k0 + kq * 8u < u.K) { w = b[((n0 + nn) * u.K + k0 + kq * 8u) / 8u]; }
      for (var i = 0u; i < 8u; i++) {
        Bs[(kq * 8u + i) * (TILE / 4u) + nn / 4u][nn % 4u] = widen(w, i);
      }`
    : `let nq = idx % (TILE / 8u);
      let kk = idx / (TILE / 8u);
      var w = vec4<u32>();
      if (n0 + nq * 8u < u.N && k0 + kk < u.K) { w = b[((k0 + kk) * u.N + n0 + nq * 8u) / 8u]; }
      Bs[kk * (TILE / 4u) + nq * 2u] = vec4<f32>(widen(w, 0u), widen(w, 1u), widen(w, 2u), widen(w, 3u));
      Bs[kk * (TILE / 4u) + nq * 2u + 1u] = vec4<f32>(widen(w, 4u), widen(w, 5u), widen(w, 6u), widen(w, 7u));`;
  return `
    for (var j = 0u; j < ${words}u; j++) {
      let idx = j * 64u + t;
      ${load}
    }`;
}

/** The low-rank term as extra K steps over j < r: staged s·L [M, r] (rows) and R (columns). */
function lowRankSteps(rIndex: string): string {
  return `
  let lrSteps = (u.R + TILE_K - 1u) / TILE_K;
  for (var step = 0u; step < lrSteps; step++) {
    let j0 = step * TILE_K;
    for (var q = 0u; q < ${(TILE * TILE_K) / 64}u; q++) {
      let idx = q * 64u + t;
      let kk = idx % TILE;
      let mm = idx / TILE;
      var lv = 0.0;
      if (m0 + mm < u.M && j0 + kk < u.R) { lv = u.s * lo[(m0 + mm) * u.R + j0 + kk]; }
      As[kk * (TILE / 4u) + mm / 4u][mm % 4u] = lv;
    }
    for (var q = 0u; q < ${(TILE * TILE_K) / 64}u; q++) {
      let idx = q * 64u + t;
      let nn = idx % TILE;
      let kk = idx / TILE;
      let n = n0 + nn;
      let j = j0 + kk;
      var rv = 0.0;
      if (n < u.N && j < u.R) { rv = ro[${rIndex}]; }
      Bs[kk * (TILE / 4u) + nn / 4u][nn % 4u] = rv;
    }
    workgroupBarrier();
    multiplyTile(tx, ty, &acc);
    workgroupBarrier();
  }`;
}
