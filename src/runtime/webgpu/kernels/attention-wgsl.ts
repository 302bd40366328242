/**
 * WGSL pieces the attention kernels share: the head-dim constants, vec4 loads and stores over
 * rows of D floats, and the tile sizes. Rows are handled as ⌈D/4⌉ vec4s; when D is a multiple
 * of 4 every row starts on a vec4 boundary and buffers are bound as `array<vec4<f32>>`,
 * otherwise as `array<f32>` with the missing lanes read as 0 and never written.
 */
import type { GpuKernel, ScalarType } from '../gpu-runtime';

/** Invocations per workgroup of every attention kernel (one per query row or key row). */
export const ATTN_WG = 64;

/** Bytes of workgroup memory a kernel may take: WebGPU's default limit, which every adapter gives. */
const SHARED_BYTES = 16384;

/** Head-dim facts a kernel is generated for. */
export interface HeadDim {
  readonly D: number;
  /** vec4s per row */
  readonly D4: number;
  /** rows are whole vec4s */
  readonly aligned: boolean;
  /** rows per shared tile: two tiles of TILE × D4 vec4s and two of TILE floats fit 16 KiB */
  readonly tile: number;
}

export function headDim(D: number): HeadDim {
  if (!Number.isInteger(D) || D < 1)
    throw new RangeError(`head dim ${D} must be a positive integer`);
  const D4 = Math.ceil(D / 4);
  const tile = Math.max(1, Math.min(32, Math.floor(SHARED_BYTES / (2 * 16 * D4 + 2 * 4))));
  return { D, D4, aligned: D % 4 === 0, tile };
}

/** `var<storage, …> name: array<…>` at `binding`. */
function storage(hd: HeadDim, binding: number, name: string, write = false): string {
  const access = write ? 'read_write' : 'read';
  const type = hd.aligned ? 'vec4<f32>' : 'f32';
  return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${type}>;`;
}

/** `fn ld_<name>(base, j) -> vec4<f32>`: the j-th vec4 of the row starting at element `base`. */
function loader(hd: HeadDim, name: string): string {
  if (hd.aligned) {
    return `fn ld_${name}(base: u32, j: u32) -> vec4<f32> { return ${name}[base / 4u + j]; }`;
  }
  return `fn ld_${name}(base: u32, j: u32) -> vec4<f32> {
    var r = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
      let d = 4u * j + c;
      if (d < D) { r[c] = ${name}[base + d]; }
    }
    return r;
  }`;
}

/** `fn st_<name>(base, j, x)`: writes the j-th vec4 of the row starting at element `base`. */
function storer(hd: HeadDim, name: string): string {
  if (hd.aligned) {
    return `fn st_${name}(base: u32, j: u32, x: vec4<f32>) { ${name}[base / 4u + j] = x; }`;
  }
  return `fn st_${name}(base: u32, j: u32, x: vec4<f32>) {
    for (var c = 0u; c < 4u; c++) {
      let d = 4u * j + c;
      if (d < D) { ${name}[base + d] = x[c]; }
    }
  }`;
}

/**
 * A row operand at `binding`: its storage declaration and its `ld_<name>` or, when written,
 * `st_<name>` (no kernel both reads and writes one).
 */
export function rowOperand(hd: HeadDim, binding: number, name: string, write = false): string {
  return `${storage(hd, binding, name, write)}
${write ? storer(hd, name) : loader(hd, name)}`;
}

/** Read-only row operands `names` at bindings 0, 1, …, as `rowOperand`. */
export function rowInputs(hd: HeadDim, names: readonly string[]): string {
  return names.map((name, binding) => rowOperand(hd, binding, name)).join('\n');
}

const built = new Map<string, GpuKernel>();

/** The attention kernel `name` (one pipeline per variant), its WGSL generated on first use. */
export function attentionKernel(
  name: string,
  code: () => string,
  uniforms: readonly ScalarType[],
): GpuKernel {
  let kernel = built.get(name);
  if (!kernel) {
    kernel = { name, code: code(), uniforms };
    built.set(name, kernel);
  }
  return kernel;
}

/**
 * WGSL: the key/value tiles in workgroup memory and the start of `main` for the kernels with one
 * invocation per query row (the forward and dq). Workgroup (wg.x, wg.y) takes rows
 * r = t·G + g of batch b = ⌊wg.y/K⌋ and kv head kvh; h is the row's query head. `live` is false
 * past the last row (such an invocation works on the last row and writes nothing). The causal
 * limits: the workgroup's rows see keys s < sEnd, this row keys s < mine.
 */
export function queryRowMain(hd: HeadDim): string {
  return `var<workgroup> ks: array<vec4<f32>, ${hd.tile * hd.D4}>;
var<workgroup> vs: array<vec4<f32>, ${hd.tile * hd.D4}>;

@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.y / u.K;
  let kvh = wg.y % u.K;
  let rows = u.G * u.T;
  let r = wg.x * WG + li;
  let live = r < rows;
  let rr = min(r, rows - 1u);
  let t = rr / u.G;
  let h = kvh * u.G + rr % u.G;
  let qBase = u.qOff + b * u.qBatch + h * u.qHead + t * u.qTok;
  let tLast = min(wg.x * WG + WG - 1u, rows - 1u) / u.G;
  let sEnd = min(u.S, u.offset + tLast + 1u);
  let mine = u.offset + t + 1u;`;
}

/**
 * WGSL: for the (query, key) pair whose rows' vec4 j are `q(j)`, `k(j)` (q scaled by 1/√D),
 * dO's `dO(j)` and v's `v(j)`, the probability p = exp(q·k − lse) and dS = p (dO·v − Δ)
 * (see attention-backward.ts), as `let p` and `let ds`.
 */
export function probAndDs(
  q: (j: string) => string,
  k: (j: string) => string,
  dO: (j: string) => string,
  v: (j: string) => string,
  lse: string,
  delta: string,
): string {
  return `var x4 = vec4<f32>(0.0);
        var dp4 = vec4<f32>(0.0);
        for (var j = 0u; j < D4; j++) {
          x4 = fma(${q('j')}, ${k('j')}, x4);
          dp4 = fma(${dO('j')}, ${v('j')}, dp4);
        }
        let p = exp(x4.x + x4.y + x4.z + x4.w - ${lse});
        let ds = p * (dp4.x + dp4.y + dp4.z + dp4.w - ${delta});`;
}

/** The constants every attention shader starts with. */
export function constants(hd: HeadDim): string {
  return `const D = ${hd.D}u;
const D4 = ${hd.D4}u;
const TILE = ${hd.tile}u;
const WG = ${ATTN_WG}u;`;
}

/**
 * How an operand of `heads` heads × `tokens` rows of D is laid out: 'heads' is [B, h, T, D] (what
 * `splitHeads` makes), 'tokens' is [B, T, h, D] (a projection's [B, T, h·D] output as it is).
 */
export type HeadLayout = 'heads' | 'tokens';

/** Element strides (batch, head, token) of a row of D in that layout. */
export function stridesOf(
  layout: HeadLayout,
  heads: number,
  tokens: number,
  D: number,
): [number, number, number] {
  return layout === 'heads'
    ? [heads * tokens * D, tokens * D, D]
    : [tokens * heads * D, D, heads * D];
}

/** [B, heads, tokens, D] of a 4-D operand's shape in `layout`. */
export function dimsOf(
  shape: readonly number[],
  layout: HeadLayout,
): [number, number, number, number] {
  const [B, a, b, D] = shape as [number, number, number, number];
  return layout === 'heads' ? [B, a, b, D] : [B, b, a, D];
}

/**
 * RoPE inside the attention kernels (RoFormer rotate-half; see kernels/rope.ts): the packed table
 * `cs` [L, D] (row p: cos of the D/2 angles of position p, then their sin) at `binding`, and
 * `rotateRow`, which rotates a row held in registers by the angles of table row `at` (sgn −1:
 * by their negatives, the transpose).
 */
export function ropeDecl(hd: HeadDim, binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read> cs: array<f32>;
const HALF = ${Math.floor(hd.D / 2)}u;
fn rotateRow(x: ptr<function, array<vec4<f32>, D4>>, at: u32, sgn: f32) {
  var y = *x;
  for (var i = 0u; i < HALF; i++) {
    let c = cs[at * D + i];
    let s = cs[at * D + HALF + i] * sgn;
    let j = i + HALF;
    let a = y[i / 4u][i % 4u];
    let b = y[j / 4u][j % 4u];
    (*x)[i / 4u][i % 4u] = a * c - b * s;
    (*x)[j / 4u][j % 4u] = b * c + a * s;
  }
}`;
}

/**
 * WGSL that rotates the `n` rows of a shared tile `tile` in place (one invocation per pair),
 * row c by table row `rowOf(c)`, then waits for the workgroup; only when `u.rope` is set.
 */
export function rotateShared(tile: string, n: string, rowOf: (c: string) => string): string {
  return `if (u.rope != 0u) {
      for (var i = li; i < TILE * HALF; i += WG) {
        let c = i / HALF;
        let e = i % HALF;
        let f = e + HALF;
        if (c < ${n}) {
          let at = (${rowOf('c')}) * D;
          let cc = cs[at + e];
          let sn = cs[at + HALF + e];
          let a = ${tile}[c * D4 + e / 4u][e % 4u];
          let b = ${tile}[c * D4 + f / 4u][f % 4u];
          ${tile}[c * D4 + e / 4u][e % 4u] = a * cc - b * sn;
          ${tile}[c * D4 + f / 4u][f % 4u] = b * cc + a * sn;
        }
      }
      workgroupBarrier();
    }`;
}
