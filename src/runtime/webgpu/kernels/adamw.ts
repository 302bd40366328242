/**
 * AdamW over a whole adapter in one dispatch: parameters, gradients and both moments each live
 * in one flat arena (src/optim/adamw-arena.ts lays them out), and every workgroup first adds up
 * the gradient-norm partials (kernels/grad-norm.ts) to get the global norm and the clip
 * coefficient, then updates its stretch. Workgroup 0 writes the norm (before clipping) out.
 *
 *   coef = min(max_norm / (‖g‖ + 1e-6), 1)        (only when max_norm > 0)
 *   g ← coef·g;   p ← p·(1 − γλ)
 *   m ← lerp(m, g, 1 − β1);   v ← β2·v + ((1 − β2)·g)·g
 *   p ← p − (m / (√v / √(1 − β2ᵗ) + ε))·(γ / (1 − β1ᵗ))
 * in float32, operation for operation as src/optim/adamw.ts (torch's _single_tensor_adamw and
 * clip_grad_norm_); the bias corrections come from the host in float64. With `zero_grads` the
 * gradient arena is zeroed as it is read, ready for the next accumulation.
 */
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { foldedGrid } from './norms';

const WG = 256;
/** vec4s per invocation. */
const ITEMS = 4;

export const ADAMW_UPDATE: GpuKernel = {
  name: 'adamw-update',
  uniforms: [
    'u32', // n4
    'u32', // partials
    'u32', // gx
    'u32', // zero_grads
    'u32', // lerp_high: 1 − β1 ≥ 0.5
    'f32', // decay = 1 − γλ
    'f32', // w = 1 − β1
    'f32', // 1 − w
    'f32', // β2
    'f32', // 1 − β2
    'f32', // step size γ / (1 − β1ᵗ)
    'f32', // √(1 − β2ᵗ)
    'f32', // ε
    'f32', // max_norm (≤ 0: no clipping)
  ],
  code: /* wgsl */ `
    struct U {
      n4: u32, partials: u32, gx: u32, zero_grads: u32, lerp_high: u32,
      decay: f32, w: f32, one_minus_w: f32, beta2: f32, one_minus_beta2: f32,
      step_size: f32, bc2_sqrt: f32, eps: f32, max_norm: f32,
    }
    @group(0) @binding(0) var<storage, read_write> p: array<vec4<f32>>;
    @group(0) @binding(1) var<storage, read_write> g: array<vec4<f32>>;
    @group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
    @group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
    @group(0) @binding(4) var<storage, read> partials: array<f32>;
    @group(0) @binding(5) var<storage, read_write> norm_out: array<f32>;
    @group(0) @binding(6) var<uniform> u: U;
    var<workgroup> part: array<f32, ${WG}>;
    @compute @workgroup_size(${WG})
    fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
      var s = 0.0;
      for (var i = li; i < u.partials; i += ${WG}u) { s += partials[i]; }
      part[li] = s;
      workgroupBarrier();
      for (var k = ${WG / 2}u; k > 0u; k = k >> 1u) {
        if (li < k) { part[li] += part[li + k]; }
        workgroupBarrier();
      }
      let norm = sqrt(part[0]);
      let group = wid.y * u.gx + wid.x;
      if (group == 0u && li == 0u) { norm_out[0] = norm; }
      var coef = 1.0;
      if (u.max_norm > 0.0) { coef = min(u.max_norm / (norm + 1e-6), 1.0); }
      let base = group * ${ITEMS * WG}u;
      for (var j = 0u; j < ${ITEMS}u; j++) {
        let i = base + j * ${WG}u + li;
        if (i >= u.n4) { break; }
        let gi = g[i] * coef;
        if (u.zero_grads != 0u) { g[i] = vec4<f32>(0.0); }
        let decayed = p[i] * u.decay;
        let mi = m[i];
        let diff = gi - mi;
        var m1: vec4<f32>;
        if (u.lerp_high != 0u) { m1 = gi - diff * u.one_minus_w; } else { m1 = mi + diff * u.w; }
        let v1 = v[i] * u.beta2 + (gi * u.one_minus_beta2) * gi;
        let denom = sqrt(v1) / u.bc2_sqrt + u.eps;
        p[i] = decayed - (m1 / denom) * u.step_size;
        m[i] = m1;
        v[i] = v1;
      }
    }`,
};

export interface AdamWUniforms {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxNorm: number;
  /** The step number t ≥ 1 of the bias corrections. */
  readonly t: number;
}

export interface AdamWBuffers {
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  readonly partials: GPUBuffer;
  /** A one-element tensor or buffer that receives the global norm before clipping. */
  readonly normOut: Parameters<typeof dispatch>[1][number];
}

/** Records the update of `n4` vec4s of every arena; `partials` holds `numPartials` sums. */
export function adamwUpdate(
  buffers: AdamWBuffers,
  n4: number,
  numPartials: number,
  hp: AdamWUniforms,
  zeroGrads: boolean,
): void {
  const w = 1 - hp.beta1;
  const [gx, gy] = foldedGrid(Math.max(1, Math.ceil(n4 / (ITEMS * WG))));
  const { params, grads, m, v, partials, normOut } = buffers;
  dispatch(
    ADAMW_UPDATE,
    [params, grads, m, v, partials, normOut],
    [gx, gy],
    [
      n4,
      numPartials,
      gx,
      zeroGrads ? 1 : 0,
      w < 0.5 ? 0 : 1,
      1 - hp.lr * hp.weightDecay,
      w,
      1 - w,
      hp.beta2,
      1 - hp.beta2,
      hp.lr / (1 - hp.beta1 ** hp.t),
      Math.sqrt(1 - hp.beta2 ** hp.t),
      hp.eps,
      hp.maxNorm,
    ],
  );
}

/** a ← a + b over `n4` vec4s: gradient accumulation into an arena in place. */
export const ARENA_ADD: GpuKernel = {
  name: 'arena-add',
  uniforms: ['u32', 'u32'],
  code: /* wgsl */ `
    struct U { n4: u32, gx: u32 }
    @group(0) @binding(0) var<storage, read_write> a: array<vec4<f32>>;
    @group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
    @group(0) @binding(2) var<uniform> u: U;
    @compute @workgroup_size(${WG})
    fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
      let i = (wid.y * u.gx + wid.x) * ${WG}u + li;
      if (i < u.n4) { a[i] = a[i] + b[i]; }
    }`,
};

/** Records a += b for two arenas of `n4` vec4s. */
export function arenaAdd(a: GPUBuffer, b: GPUBuffer, n4: number): void {
  const [gx, gy] = foldedGrid(Math.max(1, Math.ceil(n4 / WG)));
  dispatch(ARENA_ADD, [a, b], [gx, gy], [n4, gx]);
}
