/**
 * The first half of the global gradient norm over a flat arena of gradients: each workgroup
 * writes the sum of squares of its stretch into `partials`; the AdamW update kernel
 * (kernels/adamw.ts) adds the partials up (every workgroup in the same order, so all agree) and
 * takes the square root. Two dispatches give ‖g‖ for the whole adapter, where stock ops need two
 * kernels per gradient tensor and one add per tensor.
 *
 * The arena is read as vec4 (its length is a multiple of 4, padding zero). Each workgroup covers
 * 256 invocations × `items` vec4s; `items` grows with the arena so that there are at most
 * MAX_PARTIALS partials, which keeps the update kernel's share of the reduction small.
 */
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { foldedGrid } from './norms';

const WG = 256;
/** Upper bound on the number of partial sums (and so on what each update workgroup re-adds). */
export const MAX_PARTIALS = 1024;

export const GRAD_NORM_PARTIALS: GpuKernel = {
  name: 'grad-norm-partials',
  uniforms: ['u32', 'u32', 'u32'],
  code: /* wgsl */ `
    struct U { n4: u32, items: u32, gx: u32 }
    @group(0) @binding(0) var<storage, read> g: array<vec4<f32>>;
    @group(0) @binding(1) var<storage, read_write> partials: array<f32>;
    @group(0) @binding(2) var<uniform> u: U;
    var<workgroup> part: array<f32, ${WG}>;
    @compute @workgroup_size(${WG})
    fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
      let group = wid.y * u.gx + wid.x;
      let base = group * u.items * ${WG}u;
      var s = 0.0;
      for (var j = 0u; j < u.items; j++) {
        let i = base + j * ${WG}u + li;
        if (i < u.n4) { let v = g[i]; s += dot(v, v); }
      }
      part[li] = s;
      workgroupBarrier();
      for (var k = ${WG / 2}u; k > 0u; k = k >> 1u) {
        if (li < k) { part[li] += part[li + k]; }
        workgroupBarrier();
      }
      if (li == 0u) { partials[group] = part[0]; }
    }`,
};

export interface PartialsPlan {
  /** vec4s per invocation. */
  readonly items: number;
  /** Number of partial sums (= workgroups). */
  readonly count: number;
}

/** How `n4` vec4s split into at most MAX_PARTIALS workgroups. */
export function partialsPlan(n4: number): PartialsPlan {
  const items = Math.max(4, Math.ceil(n4 / (WG * MAX_PARTIALS)));
  return { items, count: Math.max(1, Math.ceil(n4 / (WG * items))) };
}

/**
 * Records the partial sums of squares of `grads` (n4 vec4s) into `partials` (≥ plan.count f32).
 * Both are buffers the caller owns.
 */
export function gradNormPartials(
  grads: GPUBuffer,
  n4: number,
  partials: GPUBuffer,
  plan: PartialsPlan,
): void {
  const [gx, gy] = foldedGrid(plan.count);
  dispatch(GRAD_NORM_PARTIALS, [grads, partials], [gx, gy], [n4, plan.items, gx]);
}
