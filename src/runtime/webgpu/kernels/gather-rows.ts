/**
 * Rows of a vocab table held as bf16 pairs (src/io/dtype.ts `packBf16Pairs`), widened to float32:
 *
 *   out[n, :] = W[ids[n], :]      W [V, C] in row parts W_p [V_p, C], part p starting at row s_p
 *
 * A part is an int32 tensor [V_p, C / 2] (C even, so every row is whole words; element 2i of a
 * row in the low half of word i). One dispatch per part, all into the same output: the dispatch
 * of part p writes the rows whose id falls in [s_p, s_p + V_p) and leaves the others alone; the
 * first one also writes zeros for ids outside [0, V) (as no part holds them), so every row is
 * written once. Widening is exact (bf16 is the top half of a float32).
 *
 * One invocation per vec4<u32> of output row (8 bf16 → two vec4<f32>) when C is a multiple of 8,
 * else per word (2 values): consecutive invocations read consecutive words of a row. There is no
 * gradient: the table is frozen and ids are integers (the caller's op treats the output as a leaf).
 * The model's entry is src/model/packed-vocab.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, type GpuKernel } from '../gpu-runtime';

const PER_GROUP = 256;
/** Workgroups per row of the grid (dispatch dimensions stop at 65,535). */
const GRID_X = 32768;

function gatherWgsl(vec: boolean): string {
  const unit = vec ? 'vec4<u32>' : 'u32';
  const out = vec ? 'vec4<f32>' : 'vec2<f32>';
  // Low half first: element 2i is word i's low 16 bits.
  const widen = vec
    ? `let lo = vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u),
                        bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u));
      let hi = vec4<f32>(bitcast<f32>(w.z << 16u), bitcast<f32>(w.z & 0xffff0000u),
                        bitcast<f32>(w.w << 16u), bitcast<f32>(w.w & 0xffff0000u));
      out[2u * i] = lo;
      out[2u * i + 1u] = hi;`
    : `out[i] = vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));`;
  const zero = vec
    ? 'out[2u * i] = vec4<f32>(); out[2u * i + 1u] = vec4<f32>();'
    : 'out[i] = vec2<f32>();';
  return /* wgsl */ `
struct U { n: u32, rowUnits: u32, start: i32, rows: i32, vocab: i32, zeroStrays: u32 }
@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read> table: array<${unit}>;
@group(0) @binding(2) var<storage, read_write> out: array<${out}>;
@group(0) @binding(3) var<uniform> u: U;

@compute @workgroup_size(${PER_GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * ${GRID_X * PER_GROUP}u + gid.x; // unit of the output
  if (i >= u.n) { return; }
  let row = i / u.rowUnits;
  let col = i % u.rowUnits;
  let id = ids[row];
  let local = id - u.start;
  if (local >= 0 && local < u.rows) {
    let w = table[u32(local) * u.rowUnits + col];
    ${widen}
  } else if (u.zeroStrays == 1u && (id < 0 || id >= u.vocab)) {
    ${zero}
  }
}
`;
}

/** The two variants: vec4 words (C a multiple of 8) and single words. */
export const GATHER_ROWS_KERNELS: readonly GpuKernel[] = [true, false].map((vec) => ({
  name: vec ? 'gather-rows-bf16-vec4' : 'gather-rows-bf16',
  code: gatherWgsl(vec),
  uniforms: ['u32', 'u32', 'i32', 'i32', 'i32', 'u32'],
}));

/** The kernel variant for width C. */
export function gatherRowsKernel(width: number): GpuKernel {
  return GATHER_ROWS_KERNELS[width % 8 === 0 ? 0 : 1] as GpuKernel;
}

/**
 * Rows `ids` (int32, any shape S, values in [0, V); others give zero rows) of the table whose row
 * parts are `parts` (int32 [V_p, C / 2] each, in row order, starting at `starts`), as float32
 * [...S, C]. One dispatch per part. Returns a new tensor.
 */
export function gatherBf16Rows(
  ids: tf.Tensor,
  parts: readonly tf.Tensor[],
  starts: readonly number[],
  width: number,
): tf.Tensor {
  if (ids.dtype !== 'int32')
    throw new Error(`gatherBf16Rows: ids must be int32, got ${ids.dtype}.`);
  if (width % 2 !== 0)
    throw new Error(`gatherBf16Rows: width ${width} must be even (whole words).`);
  let vocab = 0;
  parts.forEach((p, i) => {
    if (p.dtype !== 'int32' || p.rank !== 2 || p.shape[1] !== width / 2 || starts[i] !== vocab) {
      throw new Error(
        `gatherBf16Rows: part ${i} is ${p.dtype} [${p.shape}] from row ${starts[i]}; expected ` +
          `int32 [rows, ${width / 2}] from row ${vocab}.`,
      );
    }
    vocab += p.shape[0] as number;
  });
  const out = emptyTensor<tf.Tensor>([...ids.shape, width]);
  const kernel = gatherRowsKernel(width);
  const rowUnits = width % 8 === 0 ? width / 8 : width / 2;
  const n = ids.size * rowUnits;
  if (n === 0) return out;
  const groups = groupsFor(n, PER_GROUP);
  const grid: [number, number] = [Math.min(groups, GRID_X), groupsFor(groups, GRID_X)];
  parts.forEach((part, i) => {
    const uniforms = [n, rowUnits, starts[i] ?? 0, part.shape[0] as number, vocab, i === 0 ? 1 : 0];
    dispatch(kernel, [ids, part, out], grid, uniforms);
  });
  return out;
}
