/**
 * RMSNorm and LayerNorm over the last dimension, forward and backward, one dispatch each way
 * (one workgroup per row; rows fold into x and y past 65,535).
 *
 *   RMSNorm:   r = 1/√(Σx²/C + ε),        y = (x·r)·w
 *              dx = r·g − x·r³·Σ(g·x)/C,            g = dy·w
 *   LayerNorm: μ = Σx/C, r = 1/√(Σ(x−μ)²/C + ε), x̂ = (x−μ)·r,  y = x̂·w + b
 *              dx = r·(g − Σg/C − x̂·Σ(g·x̂)/C),     g = dy·w
 *   weights:   dw = Σ_rows dy·x̂,  db = Σ_rows dy   (x̂ = x·r for RMSNorm)
 * Sources: Zhang & Sennrich 2019 (RMSNorm); Ba et al. 2016 (LayerNorm); the backward is the
 * chain rule through the row statistics (as in llm.c's layernorm_backward).
 *
 * The backward writes dx and each row's (μ, r) — μ = 0 for RMSNorm — so the weight gradient, when
 * one is wanted (pretraining; LoRA keeps the norms frozen), is a second dispatch over columns
 * that does not recompute the statistics. Rows whose length is a multiple of 4 are read as vec4.
 * Forward and backward are one shader per (kind, vec4), the direction a `mode` uniform (issue 12:
 * one pipeline, a compile before the first step, instead of two); each direction binds what the
 * other reads or writes to placeholder buffers.
 * The differentiable ops are src/runtime/webgpu/ops/norms.ts; the stock-op reference is
 * src/model/layers.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, placeholderBuffer, type GpuKernel } from '../gpu-runtime';

export type NormKind = 'rms' | 'layer';

/** Invocations per workgroup (one workgroup per row). */
const WG = 128;
/** WebGPU's limit on workgroups per grid dimension. */
const MAX_GROUPS = 65535;

/** A grid of `n` workgroups folded into x and y; kernels recover the index as y·gx + x. */
export function foldedGrid(n: number): [number, number] {
  const gx = Math.max(1, Math.min(n, MAX_GROUPS));
  return [gx, Math.ceil(n / gx)];
}

/** `V` is f32 or vec4<f32>; `hsum` adds a V's lanes. */
function prelude(vec4: boolean): string {
  return vec4
    ? `alias V = vec4<f32>;
       fn hsum(v: V) -> f32 { return v.x + v.y + v.z + v.w; }`
    : `alias V = f32;
       fn hsum(v: V) -> f32 { return v; }`;
}

/** Shared header: uniforms, the row index, a 4-way workgroup sum. */
function header(vec4: boolean): string {
  return `${prelude(vec4)}
    struct U { rows: u32, n: u32, cols: f32, eps: f32, gx: u32, mode: u32 }
    const WG: u32 = ${WG}u;
    var<workgroup> part: array<vec4<f32>, ${WG}>;
    fn reduce4(v: vec4<f32>, li: u32) -> vec4<f32> {
      part[li] = v;
      workgroupBarrier();
      for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (li < s) { part[li] = part[li] + part[li + s]; }
        workgroupBarrier();
      }
      let total = part[0];
      workgroupBarrier();
      return total;
    }`;
}

/**
 * The start of `main`, one workgroup per row: `row`, `base` (its first element) and the
 * row's `mean` (LayerNorm's μ; 0 for RMSNorm).
 */
function rowMain(layer: boolean): string {
  return `@compute @workgroup_size(${WG})
    fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
      let row = wid.y * u.gx + wid.x;
      if (row >= u.rows) { return; }
      let base = row * u.n;
      var mean = 0.0;
      ${
        layer
          ? `var s = 0.0;
             for (var c = li; c < u.n; c += WG) { s += hsum(x[base + c]); }
             mean = reduce4(vec4<f32>(s, 0.0, 0.0, 0.0), li).x / u.cols;`
          : ''
      }`;
}

/**
 * Both directions, `u.mode` choosing (uniform control flow):
 * forward (0): x [rows, n] (n = C or C/4 vec4s), w [n] (, b [n]) → out = y;
 * backward (1): x, w, dy → out = dx and per-row stats (μ, r).
 */
function normCode(kind: NormKind, vec4: boolean): string {
  const layer = kind === 'layer';
  let binding = 0;
  const decl = (name: string, type: string, access = 'read') =>
    `@group(0) @binding(${binding++}) var<storage, ${access}> ${name}: array<${type}>;`;
  const bindings = [
    decl('x', 'V'),
    decl('w', 'V'),
    ...(layer ? [decl('b', 'V')] : []),
    decl('dy', 'V'),
    decl('out', 'V', 'read_write'),
    decl('stats', 'vec2<f32>', 'read_write'),
    `@group(0) @binding(${binding}) var<uniform> u: U;`,
  ];
  return `${header(vec4)}
    ${bindings.join('\n    ')}
    ${rowMain(layer)}
      if (u.mode == ${FORWARD}u) {
        var q = 0.0;
        for (var c = li; c < u.n; c += WG) { let d = x[base + c] - V(mean); q += hsum(d * d); }
        let r = 1.0 / sqrt(reduce4(vec4<f32>(q, 0.0, 0.0, 0.0), li).x / u.cols + u.eps);
        for (var c = li; c < u.n; c += WG) {
          out[base + c] = ((x[base + c] - V(mean)) * r) * w[c]${layer ? ' + b[c]' : ''};
        }
        return;
      }
      // Σ(x−μ)², Σg, Σg·(x−μ) in one reduction.
      var acc = vec4<f32>(0.0);
      for (var c = li; c < u.n; c += WG) {
        let d = x[base + c] - V(mean);
        let g = dy[base + c] * w[c];
        acc += vec4<f32>(hsum(d * d), hsum(g), hsum(g * d), 0.0);
      }
      let sums = reduce4(acc, li);
      let r = 1.0 / sqrt(sums.x / u.cols + u.eps);
      let meanG = ${layer ? 'sums.y / u.cols' : '0.0'};
      let k = r * r * sums.z / u.cols; // Σ(g·x̂)/C divided by r, times r once more below
      for (var c = li; c < u.n; c += WG) {
        let d = x[base + c] - V(mean);
        let g = dy[base + c] * w[c];
        out[base + c] = r * (g - V(meanG) - d * k);
      }
      if (li == 0u) { stats[row] = vec2<f32>(mean, r); }
    }`;
}

/** Weight (and bias) gradient: one invocation per column, summing over rows. */
function weightGradCode(kind: NormKind): string {
  const layer = kind === 'layer';
  return `
    struct U { rows: u32, cols: u32 }
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read> dy: array<f32>;
    @group(0) @binding(2) var<storage, read> stats: array<vec2<f32>>;
    @group(0) @binding(3) var<storage, read_write> dw: array<f32>;
    ${layer ? '@group(0) @binding(4) var<storage, read_write> db: array<f32>;' : ''}
    @group(0) @binding(${layer ? 5 : 4}) var<uniform> u: U;
    @compute @workgroup_size(64)
    fn main(@builtin(global_invocation_id) id: vec3<u32>) {
      let c = id.x;
      if (c >= u.cols) { return; }
      var sw = 0.0;
      var sb = 0.0;
      for (var row = 0u; row < u.rows; row++) {
        let s = stats[row];
        let g = dy[row * u.cols + c];
        sw += g * (x[row * u.cols + c] - s.x) * s.y;
        sb += g;
      }
      dw[c] = sw;
      ${layer ? 'db[c] = sb;' : ''}
    }`;
}

const NORM_UNIFORMS = ['u32', 'u32', 'f32', 'f32', 'u32', 'u32'] as const;
const FORWARD = 0;
const BACKWARD = 1;

function kernelSet(kind: NormKind) {
  const make = (vec4: boolean) => {
    const code = normCode(kind, vec4);
    const shader = `${kind}-norm${vec4 ? '-vec4' : ''}`;
    return {
      forward: {
        name: `${kind}-norm-forward${vec4 ? '-vec4' : ''}`,
        shader,
        code,
        uniforms: NORM_UNIFORMS,
      },
      backward: {
        name: `${kind}-norm-backward${vec4 ? '-vec4' : ''}`,
        shader,
        code,
        uniforms: NORM_UNIFORMS,
      },
    };
  };
  return {
    scalar: make(false),
    vec4: make(true),
    weightGrad: {
      name: `${kind}-norm-weight-grad`,
      code: weightGradCode(kind),
      uniforms: ['u32', 'u32'],
    } satisfies GpuKernel,
  };
}

const KERNELS: Record<NormKind, ReturnType<typeof kernelSet>> = {
  rms: kernelSet('rms'),
  layer: kernelSet('layer'),
};

/** Every norm kernel, for `precompile`. */
export const NORM_KERNELS: readonly GpuKernel[] = (['rms', 'layer'] as const).flatMap((k) => [
  KERNELS[k].scalar.forward,
  KERNELS[k].scalar.backward,
  KERNELS[k].vec4.forward,
  KERNELS[k].vec4.backward,
  KERNELS[k].weightGrad,
]);

interface RowShape {
  readonly rows: number;
  readonly cols: number;
}

function rowShape(x: tf.TensorInfo, weight: tf.TensorInfo, what: string): RowShape {
  const cols = x.shape[x.shape.length - 1] ?? 0;
  const rows = cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / cols;
  if (weight.shape.length !== 1 || weight.shape[0] !== cols) {
    throw new Error(
      `${what}: the weight has shape [${weight.shape}] but x's last dimension is ${cols}; ` +
        'they must match.',
    );
  }
  return { rows, cols };
}

function variant(kind: NormKind, cols: number) {
  return cols % 4 === 0 ? KERNELS[kind].vec4 : KERNELS[kind].scalar;
}

function uniforms({ rows, cols }: RowShape, eps: number, gx: number, mode: number): number[] {
  return [rows, cols % 4 === 0 ? cols / 4 : cols, cols, eps, gx, mode];
}

/**
 * y = norm(x)·w (+ b) over x's last dimension, any rank: a new tensor shaped like x.
 * `bias` is required for LayerNorm and ignored for RMSNorm.
 */
export function normForward<T extends tf.Tensor>(
  kind: NormKind,
  x: T,
  weight: tf.Tensor1D,
  bias: tf.Tensor1D | null,
  eps: number,
): T {
  const shape = rowShape(x, weight, `${kind}-norm`);
  const y = emptyTensor<T>(x.shape);
  const [gx, gy] = foldedGrid(shape.rows);
  const inputs = kind === 'layer' ? [x, weight, requireBias(bias)] : [x, weight];
  const unused = [placeholderBuffer(), placeholderBuffer(true)]; // dy, stats
  dispatch(
    variant(kind, shape.cols).forward,
    [...inputs, unused[0]!, y, unused[1]!],
    [gx, gy],
    uniforms(shape, eps, gx, FORWARD),
  );
  return y;
}

export interface NormBackward<T extends tf.Tensor> {
  /** dL/dx, shaped like x. */
  readonly dx: T;
  /** [rows, 2]: each row's μ (0 for RMSNorm) and r, for `normWeightGrad`. */
  readonly stats: tf.Tensor2D;
}

/** dx for dy (both shaped like x) in one dispatch, plus the row statistics; caller disposes. */
export function normBackward<T extends tf.Tensor>(
  kind: NormKind,
  x: T,
  weight: tf.Tensor1D,
  dy: T,
  eps: number,
): NormBackward<T> {
  const shape = rowShape(x, weight, `${kind}-norm backward`);
  const dx = emptyTensor<T>(x.shape);
  const stats = emptyTensor<tf.Tensor2D>([shape.rows, 2]);
  const [gx, gy] = foldedGrid(shape.rows);
  const unusedBias = kind === 'layer' ? [placeholderBuffer()] : [];
  dispatch(
    variant(kind, shape.cols).backward,
    [x, weight, ...unusedBias, dy, dx, stats],
    [gx, gy],
    uniforms(shape, eps, gx, BACKWARD),
  );
  return { dx, stats };
}

/** dw (and db for LayerNorm) summed over rows, from `normBackward`'s stats; new [C] tensors. */
export function normWeightGrad(
  kind: NormKind,
  x: tf.Tensor,
  dy: tf.Tensor,
  stats: tf.Tensor2D,
): { dw: tf.Tensor1D; db: tf.Tensor1D | null } {
  const cols = x.shape[x.shape.length - 1] ?? 0;
  const rows = cols === 0 ? 0 : x.size / cols;
  const dw = emptyTensor<tf.Tensor1D>([cols]);
  const db = kind === 'layer' ? emptyTensor<tf.Tensor1D>([cols]) : null;
  const outputs = db ? [dw, db] : [dw];
  dispatch(KERNELS[kind].weightGrad, [x, dy, stats, ...outputs], Math.ceil(cols / 64), [
    rows,
    cols,
  ]);
  return { dw, db };
}

function requireBias(bias: tf.Tensor1D | null): tf.Tensor1D {
  if (!bias) throw new Error('layer-norm needs a bias');
  return bias;
}
