/**
 * The MLP activations, forward and backward, one elementwise dispatch each way.
 *
 *   SwiGLU:    y = silu(a)·u,  silu(a) = a·σ(a)
 *              da = dy·u·σ(a)·(1 + a·(1 − σ(a))),   du = dy·silu(a)
 *   GELU-tanh: y = ½x(1 + tanh(z)),  z = √(2/π)(x + 0.044715x³)
 *              dx = dy·(½(1 + tanh z) + ½x(1 − tanh²z)·√(2/π)(1 + 3·0.044715x²))
 * Sources: Shazeer 2020, "GLU Variants Improve Transformer" (SwiGLU, as Llama's MLP);
 * Hendrycks & Gimpel 2016, "GELUs" (the tanh approximation, HF `gelu_new`).
 *
 * Tensors whose size is a multiple of 4 are processed as vec4 (the same WGSL with `V` =
 * vec4<f32>). tanh is written as (1 − e^{−2|z|}) / (1 + e^{−2|z|}) with the sign put back, which
 * cannot overflow. The differentiable ops are src/runtime/webgpu/ops/activations.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, type GpuKernel } from '../gpu-runtime';
import { foldedGrid } from './norms';

const WG = 256;
const GELU_C = Math.sqrt(2 / Math.PI);

/** The WGSL of one elementwise kernel over `inputs` → `outputs`, body given per element. */
function elementwise(
  vec4: boolean,
  inputs: readonly string[],
  outputs: readonly string[],
  body: string,
): string {
  const decls = [
    ...inputs.map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}_: array<V>;`),
    ...outputs.map(
      (n, i) =>
        `@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${n}_: array<V>;`,
    ),
  ];
  return `
    alias V = ${vec4 ? 'vec4<f32>' : 'f32'};
    struct U { n: u32, gx: u32 }
    ${decls.join('\n')}
    @group(0) @binding(${inputs.length + outputs.length}) var<uniform> u: U;
    fn sigmoid(a: V) -> V { return V(1.0) / (V(1.0) + exp(-a)); }
    fn tanh_safe(z: V) -> V {
      let e = exp(V(-2.0) * abs(z));
      return sign(z) * (V(1.0) - e) / (V(1.0) + e);
    }
    @compute @workgroup_size(${WG})
    fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
      let i = (wid.y * u.gx + wid.x) * ${WG}u + li;
      if (i >= u.n) { return; }
      ${inputs.map((n) => `let ${n} = ${n}_[i];`).join('\n')}
      ${body}
    }`;
}

const SWIGLU_FORWARD = 'y_[i] = (a * sigmoid(a)) * up;';
const SWIGLU_BACKWARD = `
  let s = sigmoid(a);
  da_[i] = dy * up * s * (V(1.0) + a * (V(1.0) - s));
  dup_[i] = dy * (a * s);`;
const GELU_FORWARD = `
  let t = tanh_safe(V(${GELU_C}) * (x + V(0.044715) * x * x * x));
  y_[i] = V(0.5) * x * (V(1.0) + t);`;
const GELU_BACKWARD = `
  let t = tanh_safe(V(${GELU_C}) * (x + V(0.044715) * x * x * x));
  let dz = V(${GELU_C}) * (V(1.0) + V(${3 * 0.044715}) * x * x);
  dx_[i] = dy * (V(0.5) * (V(1.0) + t) + V(0.5) * x * (V(1.0) - t * t) * dz);`;

function pair(name: string, inputs: string[], outputs: string[], body: string) {
  const make = (vec4: boolean): GpuKernel => ({
    name: `${name}${vec4 ? '-vec4' : ''}`,
    code: elementwise(vec4, inputs, outputs, body),
    uniforms: ['u32', 'u32'],
  });
  return { scalar: make(false), vec4: make(true) };
}

const KERNELS = {
  swigluForward: pair('swiglu-forward', ['a', 'up'], ['y'], SWIGLU_FORWARD),
  swigluBackward: pair('swiglu-backward', ['a', 'up', 'dy'], ['da', 'dup'], SWIGLU_BACKWARD),
  geluForward: pair('gelu-tanh-forward', ['x'], ['y'], GELU_FORWARD),
  geluBackward: pair('gelu-tanh-backward', ['x', 'dy'], ['dx'], GELU_BACKWARD),
};

/** Every activation kernel, for `precompile`. */
export const ACTIVATION_KERNELS: readonly GpuKernel[] = Object.values(KERNELS).flatMap((p) => [
  p.scalar,
  p.vec4,
]);

function run(
  kernels: { scalar: GpuKernel; vec4: GpuKernel },
  inputs: readonly tf.Tensor[],
  outputs: number,
): tf.Tensor[] {
  const first = inputs[0] as tf.Tensor;
  inputs.forEach((t) => {
    if (!tf.util.arraysEqual(t.shape, first.shape)) {
      throw new Error(
        `${kernels.scalar.name}: inputs have shapes [${first.shape}] and [${t.shape}]; they must be equal.`,
      );
    }
  });
  const vec4 = first.size % 4 === 0;
  const n = vec4 ? first.size / 4 : first.size;
  const outs = Array.from({ length: outputs }, () => emptyTensor(first.shape));
  const [gx, gy] = foldedGrid(Math.ceil(n / WG));
  dispatch(vec4 ? kernels.vec4 : kernels.scalar, [...inputs, ...outs], [gx, gy], [n, gx]);
  return outs;
}

/** silu(a)·up, a new tensor shaped like a (= up's shape). */
export function swigluForward<T extends tf.Tensor>(a: T, up: T): T {
  return run(KERNELS.swigluForward, [a, up], 1)[0] as T;
}

/** [da, dup] for dy; new tensors. */
export function swigluBackward<T extends tf.Tensor>(a: T, up: T, dy: T): [T, T] {
  const [da, dup] = run(KERNELS.swigluBackward, [a, up, dy], 2);
  return [da as T, dup as T];
}

/** GELU-tanh of x, a new tensor. */
export function geluForward<T extends tf.Tensor>(x: T): T {
  return run(KERNELS.geluForward, [x], 1)[0] as T;
}

/** dx for dy; a new tensor. */
export function geluBackward<T extends tf.Tensor>(x: T, dy: T): T {
  return run(KERNELS.geluBackward, [x, dy], 1)[0] as T;
}
