/**
 * Widens a matrix of bf16 pairs (kernels/gemm.ts `PackedBf16Matrix`) to a float32 tensor, exactly,
 * in one dispatch. Only for the stock-op path on webgpu (our kernels switched off after weights
 * were loaded packed): the GEMM kernels read packed weights directly and never call this.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, type GpuKernel } from '../gpu-runtime';
import type { PackedBf16Matrix } from './gemm';

const PER_GROUP = 256;
/** Workgroups per row of the grid (dispatch dimensions stop at 65,535). */
const GRID_X = 32768;

const UNPACK_BF16: GpuKernel = {
  name: 'gemm-unpack-bf16',
  uniforms: ['u32'],
  code: /* wgsl */ `
    struct U { n: u32 }
    @group(0) @binding(0) var<storage, read> words: array<u32>;
    @group(0) @binding(1) var<storage, read_write> out: array<f32>;
    @group(0) @binding(2) var<uniform> u: U;
    @compute @workgroup_size(${PER_GROUP})
    fn main(@builtin(global_invocation_id) id: vec3<u32>) {
      let i = id.y * ${GRID_X * PER_GROUP}u + id.x;
      if (i >= u.n) { return; }
      let w = words[i >> 1u];
      if ((i & 1u) == 0u) { out[i] = bitcast<f32>(w << 16u); }
      else { out[i] = bitcast<f32>(w & 0xffff0000u); }
    }`,
};

/** The float32 [rows, cols] matrix of `m`. Returns a new tensor. */
export function unpackBf16Matrix(m: PackedBf16Matrix): tf.Tensor2D {
  const n = m.shape[0] * m.shape[1];
  const out = emptyTensor<tf.Tensor2D>([...m.shape]);
  const groups = groupsFor(n, PER_GROUP);
  dispatch(UNPACK_BF16, [m.words, out], [Math.min(groups, GRID_X), groupsFor(groups, GRID_X)], [n]);
  return out;
}
