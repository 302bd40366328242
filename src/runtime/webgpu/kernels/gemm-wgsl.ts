/**
 * The WGSL of the tiled GEMM (kernels/gemm.ts wraps it), the scheme described in gemm.ts's header.
 * Separate from the wrapper so the generator can be read (and tested) on its own.
 *
 * One shader per `GemmShader` (vec4 loads, inline low-rank term: what changes the operands' word
 * size and the arithmetic); the other options of a `GemmVariant` (the transpositions, packed B,
 * bias, residual, accumulate, the low-rank term and its R's layout) are bits of the `flags`
 * uniform, tested in uniform control flow, so they share that shader's pipeline (issue 12: every
 * pipeline is a compile before the first step, about 0.75 s for a GEMM on SwiftShader). A
 * transposition or packed B only picks which of the tile-loading loops runs per K step (the same
 * loads, indexed the other way, or bf16 words widened as they are staged; B is bound as u32 words
 * either way, float32 ones bitcast); the inner product is the same code. Optional inputs are always bound
 * (a placeholder buffer when absent). The cost when unused: a uniform branch per K step and per
 * output element, and a low-rank loop of ⌈R / 32⌉ = 0 steps.
 */

/** Output tile edge (rows and columns) of one workgroup. */
export const TILE = 32;
/** Depth of one K step staged in workgroup memory. */
export const TILE_K = 32;

/** What selects a shader: everything that changes the code, not the sizes. */
export interface GemmVariant {
  readonly transA: boolean;
  readonly transB: boolean;
  /** B is bf16 pairs in u32 words instead of float32. */
  readonly packedB: boolean;
  readonly bias: boolean;
  /** C += result (C read, then written), instead of C = result. */
  readonly accumulate: boolean;
  /**
   * The low-rank term s·L·op(R): null for none; transR: R is stored [N, r]. inline: L is not an
   * input but formed in the kernel as L = A·Dᵀ from the factor D [r, K] (bound in L's place), for
   * the tile's rows, while the main K loop has A's tile staged (A not transposed, r ≤ TILE_K).
   */
  readonly lowRank: null | { readonly transR: boolean; readonly inline?: boolean };
  /** C = result + Res, Res a read-only [M, N] input (C a new tensor). */
  readonly residual?: boolean;
  /**
   * A and B are loaded in vec4 words (`vectorLoads`: their contiguous sizes are multiples of 4,
   * of 8 for packed B), instead of one element per load.
   */
  readonly vec4?: boolean;
}

/** What selects a shader (the rest of a `GemmVariant` is uniform flags). */
export interface GemmShader {
  /** The low-rank term's L formed in the kernel (`GemmVariant.lowRank.inline`). */
  readonly inline: boolean;
  readonly vec4: boolean;
}

/** Bits of the `flags` uniform. */
export const GEMM_FLAGS = {
  bias: 1,
  residual: 2,
  accumulate: 4,
  transR: 8,
  transA: 16,
  transB: 32,
  packedB: 64,
} as const;

/** The shader a variant runs. */
export function gemmShader(v: GemmVariant): GemmShader {
  return {
    inline: !!v.lowRank?.inline,
    vec4: !!v.vec4,
  };
}

/** The flags uniform of a variant. */
export function gemmFlags(v: GemmVariant): number {
  return (
    (v.bias ? GEMM_FLAGS.bias : 0) |
    (v.residual ? GEMM_FLAGS.residual : 0) |
    (v.accumulate ? GEMM_FLAGS.accumulate : 0) |
    (v.lowRank?.transR ? GEMM_FLAGS.transR : 0) |
    (v.transA ? GEMM_FLAGS.transA : 0) |
    (v.transB ? GEMM_FLAGS.transB : 0) |
    (v.packedB ? GEMM_FLAGS.packedB : 0)
  );
}

/** Element i < 8 of a vec4<u32> of bf16 pairs, as float32 (low half first). */
const WIDEN = `
fn widen(w: vec4<u32>, i: u32) -> f32 {
  let word = w[i / 2u];
  if ((i & 1u) == 0u) { return bitcast<f32>(word << 16u); }
  return bitcast<f32>(word & 0xffff0000u);
}
`;

/** The WGSL of one shader (all variants sharing it). */
export function gemmWgsl(v: GemmShader): string {
  let binding = 0;
  const decl = (name: string, type: string, access = 'read') =>
    `@group(0) @binding(${binding++}) var<storage, ${access}> ${name}: array<${type}>;`;
  const word = v.vec4 ? (t: string) => `vec4<${t}>` : (t: string) => t;
  const inline = v.inline;
  const lines = [
    decl('a', word('f32')),
    decl('b', word('u32')), // float32 bits or bf16 pairs (flag ${GEMM_FLAGS.packedB})
    decl('bias', 'f32'),
    decl('lo', inline ? word('f32') : 'f32'),
    decl('ro', 'f32'),
    decl('res', 'f32'),
    decl('c', 'f32', 'read_write'),
    `@group(0) @binding(${binding}) var<uniform> u: U;`,
  ];
  return /* wgsl */ `
struct U { M: u32, N: u32, K: u32, R: u32, alpha: f32, s: f32, flags: u32 }
${lines.join('\n')}

const TILE = ${TILE}u;
const TILE_K = ${TILE_K}u;
// Staged tiles, K-major: As[k][m / 4] and Bs[k][n / 4], so the inner loop reads whole vec4s.
var<workgroup> As: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;
${inline ? INLINE_DECLS : ''}
${v.vec4 ? '' : scalarLoaders()}
${v.vec4 ? WIDEN : ''}
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

// Element (j, n) of R: R [r, N], or [N, r] stored transposed (flag ${GEMM_FLAGS.transR}).
fn rIndex(j: u32, n: u32) -> u32 {
  if ((u.flags & ${GEMM_FLAGS.transR}u) != 0u) { return n * u.R + j; }
  return j * u.N + n;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tx = t % 8u;
  let ty = t / 8u;
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  var acc: array<vec4<f32>, 4>;
  ${inline ? 'var accL: array<vec4<f32>, 4>; // L = A·Dᵀ: rows ty·4 + i, columns j = tx·4 + jn' : ''}
  let steps = (u.K + TILE_K - 1u) / TILE_K;
  for (var step = 0u; step < steps; step++) {
    let k0 = step * TILE_K;
${v.vec4 ? vectorTileLoads() : scalarTileLoads()}
${inline ? factorTileLoads(v) : ''}
    workgroupBarrier();
    multiplyTile(tx, ty, &acc);
    ${inline ? 'if (tx * 4u < u.R) { multiplyFactor(tx, ty, &accL); }' : ''}
    workgroupBarrier();
  }
${inline ? INLINE_LOW_RANK_STEP : LOW_RANK_STEPS}
  let withBias = (u.flags & ${GEMM_FLAGS.bias}u) != 0u;
  let withRes = (u.flags & ${GEMM_FLAGS.residual}u) != 0u;
  let accumulate = (u.flags & ${GEMM_FLAGS.accumulate}u) != 0u;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    if (m >= u.M) { break; }
    for (var jn = 0u; jn < 4u; jn++) {
      let n = n0 + tx * 4u + jn;
      if (n >= u.N) { break; }
      var value = acc[i][jn];
      if (withBias) { value += bias[n]; }
      if (withRes) { value += res[m * u.N + n]; }
      if (accumulate) { value += c[m * u.N + n]; }
      c[m * u.N + n] = value;
    }
  }
}
`;
}

const TRANS_A = `(u.flags & ${GEMM_FLAGS.transA}u) != 0u`;
const TRANS_B = `(u.flags & ${GEMM_FLAGS.transB}u) != 0u`;
const PACKED_B = `(u.flags & ${GEMM_FLAGS.packedB}u) != 0u`;

/** Element loaders of the scalar variant: (m, k) of op(A), (k, n) of op(B). */
function scalarLoaders(): string {
  return `
fn loadA(m: u32, k: u32) -> f32 {
  if (${TRANS_A}) { return a[k * u.M + m]; }
  return a[m * u.K + k];
}

fn loadB(k: u32, n: u32) -> f32 {
  var e = k * u.N + n;
  if (${TRANS_B}) { e = n * u.K + k; }
  if (${PACKED_B}) {
    let w = b[e >> 1u];
    if ((e & 1u) == 0u) { return bitcast<f32>(w << 16u); }
    return bitcast<f32>(w & 0xffff0000u);
  }
  return bitcast<f32>(b[e]);
}
`;
}

/** `if (flag) { yes } else { no }`: the two loading loops of a transposition flag. */
const either = (flag: string, yes: string, no: string) => `
    if (${flag}) {${yes}
    } else {${no}
    }`;

/**
 * One K step's tiles, an element per load. The tile coordinate along the operand's contiguous
 * axis varies fastest across invocations, so neighbours load neighbouring words: for A [M, K]
 * that is k, for Aᵀ m; for B [K, N] n, for Bᵀ k.
 */
function scalarTileLoads(): string {
  const perInvocation = (TILE * TILE_K) / 64;
  const aLoop = (transA: boolean) => {
    const [a0, a1] = transA ? ['mm', 'kk'] : ['kk', 'mm'];
    return `
    for (var j = 0u; j < ${perInvocation}u; j++) {
      let idx = j * 64u + t;
      let ${a0} = idx % TILE;
      let ${a1} = idx / TILE;
      var av = 0.0;
      if (m0 + mm < u.M && k0 + kk < u.K) { av = u.alpha * loadA(m0 + mm, k0 + kk); }
      As[kk * (TILE / 4u) + mm / 4u][mm % 4u] = av;
    }`;
  };
  const bLoop = (transB: boolean) => {
    const [b0, b1] = transB ? ['kk', 'nn'] : ['nn', 'kk'];
    return `
    for (var j = 0u; j < ${perInvocation}u; j++) {
      let idx = j * 64u + t;
      let ${b0} = idx % TILE;
      let ${b1} = idx / TILE;
      var bv = 0.0;
      if (n0 + nn < u.N && k0 + kk < u.K) { bv = loadB(k0 + kk, n0 + nn); }
      Bs[kk * (TILE / 4u) + nn / 4u][nn % 4u] = bv;
    }`;
  };
  return either(TRANS_A, aLoop(true), aLoop(false)) + either(TRANS_B, bLoop(true), bLoop(false));
}

/**
 * One K step's tiles in vec4 words along each operand's contiguous axis (`vectorLoads` holds):
 * a word along m or n is stored whole into the K-major tile, one along k is spread over 4 rows.
 * Packed B reads 8 bf16 per vec4<u32>.
 */
function vectorTileLoads(): string {
  const words = (TILE * TILE_K) / 4 / 64; // f32 vec4 loads per invocation and operand
  const aLoad = (transA: boolean) =>
    transA
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
  const aLoop = (transA: boolean) => `
    for (var j = 0u; j < ${words}u; j++) {
      let idx = j * 64u + t;
      ${aLoad(transA)}
    }`;
  const bLoop = (transB: boolean) =>
    either(PACKED_B, packedVectorLoads(transB), floatVectorLoads(transB, words));
  return either(TRANS_A, aLoop(true), aLoop(false)) + either(TRANS_B, bLoop(true), bLoop(false));
}

function floatVectorLoads(transB: boolean, words: number): string {
  const load = transB
    ? `let kq = idx % (TILE_K / 4u);
      let nn = idx / (TILE_K / 4u);
      var w = vec4<f32>();
      if (n0 + nn < u.N && k0 + kq * 4u < u.K) { w = bitcast<vec4<f32>>(b[((n0 + nn) * u.K + k0 + kq * 4u) / 4u]); }
      for (var i = 0u; i < 4u; i++) { Bs[(kq * 4u + i) * (TILE / 4u) + nn / 4u][nn % 4u] = w[i]; }`
    : `let nq = idx % (TILE / 4u);
      let kk = idx / (TILE / 4u);
      var w = vec4<f32>();
      if (n0 + nq * 4u < u.N && k0 + kk < u.K) { w = bitcast<vec4<f32>>(b[((k0 + kk) * u.N + n0 + nq * 4u) / 4u]); }
      Bs[kk * (TILE / 4u) + nq] = w;`;
  return `
    for (var j = 0u; j < ${words}u; j++) {
      let idx = j * 64u + t;
      ${load}
    }`;
}

/** B's tile from bf16 pairs, 8 elements (one vec4<u32>) per load, widened exactly. */
function packedVectorLoads(transB: boolean): string {
  const words = (TILE * TILE_K) / 8 / 64;
  const load = transB
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

/**
 * The low-rank term as extra K steps over j < r: staged s·L [M, r] (rows) and R (columns); none
 * when R = 0 (no term).
 */
const LOW_RANK_STEPS = `
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
      if (n < u.N && j < u.R) { rv = ro[rIndex(j, n)]; }
      Bs[kk * (TILE / 4u) + nn / 4u][nn % 4u] = rv;
    }
    workgroupBarrier();
    multiplyTile(tx, ty, &acc);
    workgroupBarrier();
  }`;

/** The inline low-rank variant's staged factor tile and its product with A's tile. */
const INLINE_DECLS = `
// D's tile, K-major like Bs: Ds[k][j / 4], j < r ≤ TILE_K.
var<workgroup> Ds: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;

// L's 4×4 block of this invocation += A's staged tile · D's, over one K step.
fn multiplyFactor(tx: u32, ty: u32, accL: ptr<function, array<vec4<f32>, 4>>) {
  for (var kk = 0u; kk < TILE_K; kk++) {
    let av = As[kk * (TILE / 4u) + ty];
    let dv = Ds[kk * (TILE / 4u) + tx];
    (*accL)[0] += av.x * dv;
    (*accL)[1] += av.y * dv;
    (*accL)[2] += av.z * dv;
    (*accL)[3] += av.w * dv;
  }
}
`;

/**
 * D's tile [j < r, k0 + kk] for one K step, zero outside D: in vec4 words along k when A is
 * (D's rows are K long too), else an element per load with k fastest across invocations.
 */
function factorTileLoads(v: GemmShader): string {
  if (v.vec4) {
    return `
    for (var j = 0u; j < ${(TILE * TILE_K) / 4 / 64}u; j++) {
      let idx = j * 64u + t;
      let kq = idx % (TILE_K / 4u);
      let jj = idx / (TILE_K / 4u);
      var w = vec4<f32>();
      if (jj < u.R && k0 + kq * 4u < u.K) { w = lo[(jj * u.K + k0 + kq * 4u) / 4u]; }
      for (var i = 0u; i < 4u; i++) { Ds[(kq * 4u + i) * (TILE / 4u) + jj / 4u][jj % 4u] = w[i]; }
    }`;
  }
  return `
    for (var j = 0u; j < ${(TILE * TILE_K) / 64}u; j++) {
      let idx = j * 64u + t;
      let kk = idx % TILE_K;
      let jj = idx / TILE_K;
      var dv = 0.0;
      if (jj < u.R && k0 + kk < u.K) { dv = lo[jj * u.K + k0 + kk]; }
      Ds[kk * (TILE / 4u) + jj / 4u][jj % 4u] = dv;
    }`;
}

/**
 * The inline low-rank term as one more K step over j < r ≤ TILE_K: each invocation writes its
 * block of s·L (L = A·Dᵀ, accumulated in the main loop; zero for j ≥ r and rows ≥ M) into As,
 * K-major (k = j), and R's rows are staged into Bs. u.s is s / α, As having held α·A.
 */
const INLINE_LOW_RANK_STEP = `
  for (var i = 0u; i < 4u; i++) {
    for (var jn = 0u; jn < 4u; jn++) {
      As[(tx * 4u + jn) * (TILE / 4u) + ty][i] = u.s * accL[i][jn];
    }
  }
  for (var q = 0u; q < ${(TILE * TILE_K) / 64}u; q++) {
    let idx = q * 64u + t;
    let nn = idx % TILE;
    let kk = idx / TILE;
    let n = n0 + nn;
    let j = kk;
    var rv = 0.0;
    if (n < u.N && j < u.R) { rv = ro[rIndex(j, n)]; }
    Bs[kk * (TILE / 4u) + nn / 4u][nn % 4u] = rv;
  }
  workgroupBarrier();
  multiplyTile(tx, ty, &acc);`;
