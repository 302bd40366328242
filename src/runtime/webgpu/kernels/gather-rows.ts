/**
 * Rows of a vocab table, widened to float32, optionally plus rows of a position table (GPT-2's
 * learned positions):
 *
 *   out[n, :] = W[ids[n], :] (+ P[p0 + n mod T, :])    W [V, C] in row parts W_p [V_p, C]
 *
 * W's parts are bf16 pairs (src/io/dtype.ts `packBf16Pairs`: int32 [V_p, C / 2], C even, every
 * row whole words, element 2i of a row in the low half of word i) or plain float32 [V_p, C]
 * (C a multiple of 4), P float32 [positions, C]. One dispatch per part, all into the same output:
 * the dispatch of part p (starting at row s_p) writes the rows whose id falls in
 * [s_p, s_p + V_p) and leaves the others alone; the first one also writes zeros (plus the
 * position row) for ids outside [0, V) (as no part holds them), so every row is written once.
 * Widening is exact (bf16 is the top half of a float32).
 *
 * One shader for both table kinds and with or without positions (uniform flags; issue 12: one
 * pipeline, where stock ops took a gather per table and an add). One invocation per vec4<u32> of
 * the table's row (8 bf16 or 4 float32) when C allows (a multiple of 8, of 4 for float32), else
 * (bf16 only) per word (2 values): consecutive invocations read consecutive words of a row. There
 * is no gradient: the tables are frozen and ids are integers (the caller treats the output as a
 * leaf). The model's entry is src/model/weight-parts.ts `gatherRows`.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../backend-internals';
import { dispatch, groupsFor, placeholderBuffer, type GpuKernel } from '../gpu-runtime';

const PER_GROUP = 256;
/** Workgroups per row of the grid (dispatch dimensions stop at 65,535). */
const GRID_X = 32768;

function gatherWgsl(vec: boolean): string {
  const unit = vec ? 'vec4<u32>' : 'u32';
  const out = vec ? 'vec4<f32>' : 'vec2<f32>';
  // bf16: low half first (element 2i is word i's low 16 bits); float32 (vec4 only): the words.
  const write = vec
    ? `if (u.f32Table == 1u) {
        out[i] = bitcast<vec4<f32>>(w) + positionAt(row, col);
      } else {
        let lo = vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u),
                          bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u));
        let hi = vec4<f32>(bitcast<f32>(w.z << 16u), bitcast<f32>(w.z & 0xffff0000u),
                          bitcast<f32>(w.w << 16u), bitcast<f32>(w.w & 0xffff0000u));
        out[2u * i] = lo + positionAt(row, 2u * col);
        out[2u * i + 1u] = hi + positionAt(row, 2u * col + 1u);
      }`
    : `out[i] = vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)) + positionAt(row, col);`;
  const stray = vec
    ? `if (u.f32Table == 1u) {
        out[i] = positionAt(row, col);
      } else {
        out[2u * i] = positionAt(row, 2u * col);
        out[2u * i + 1u] = positionAt(row, 2u * col + 1u);
      }`
    : 'out[i] = positionAt(row, col);';
  return /* wgsl */ `
struct U {
  n: u32, rowUnits: u32, start: i32, rows: i32, vocab: i32, zeroStrays: u32,
  f32Table: u32, withPositions: u32, firstPosition: u32, seq: u32, outRow: u32,
}
@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read> table: array<${unit}>;
@group(0) @binding(2) var<storage, read> positions: array<${out}>;
@group(0) @binding(3) var<storage, read_write> out: array<${out}>;
@group(0) @binding(4) var<uniform> u: U;

// Output unit o of row n's position row (zero without positions).
fn positionAt(n: u32, o: u32) -> ${out} {
  if (u.withPositions == 0u) { return ${out}(); }
  return positions[(u.firstPosition + n % u.seq) * u.outRow + o];
}

@compute @workgroup_size(${PER_GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * ${GRID_X * PER_GROUP}u + gid.x; // unit of the table's row, over all rows
  if (i >= u.n) { return; }
  let row = i / u.rowUnits;
  let col = i % u.rowUnits;
  let id = ids[row];
  let local = id - u.start;
  if (local >= 0 && local < u.rows) {
    let w = table[u32(local) * u.rowUnits + col];
    ${write}
  } else if (u.zeroStrays == 1u && (id < 0 || id >= u.vocab)) {
    ${stray}
  }
}
`;
}

/** The two variants: vec4 words and single words (bf16 only). */
export const GATHER_ROWS_KERNELS: readonly GpuKernel[] = [true, false].map((vec) => ({
  name: vec ? 'gather-rows-vec4' : 'gather-rows',
  code: gatherWgsl(vec),
  uniforms: ['u32', 'u32', 'i32', 'i32', 'i32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32'],
}));

/** Whether a table of width C takes the vec4 kernel (bf16: 8 a word; float32: 4). */
function vectorRows(width: number, packed: boolean): boolean {
  return width % (packed ? 8 : 4) === 0;
}

/** Whether `gatherRowsGpu` takes a table of this kind and width. */
export function gathersRows(width: number, packed: boolean): boolean {
  return packed ? width % 2 === 0 : width % 4 === 0;
}

/** Position rows added to gathered rows: row n gets `table[first + n mod seq]`. */
export interface PositionRows {
  /** float32 [positions, C] */
  readonly table: tf.Tensor;
  readonly first: number;
  /** Rows per sequence: ids' last dimension. */
  readonly seq: number;
}

/**
 * Rows `ids` (int32, any shape S, values in [0, V); others give zero rows) of the table whose row
 * parts are `parts` (in row order, starting at `starts`): int32 [V_p, C / 2] bf16 pairs when
 * `packed`, else float32 [V_p, C]; plus position rows when given. float32 [...S, C]; one dispatch
 * per part. Returns a new tensor.
 */
export function gatherRowsGpu(
  ids: tf.Tensor,
  parts: readonly tf.Tensor[],
  starts: readonly number[],
  width: number,
  packed: boolean,
  positions: PositionRows | null = null,
): tf.Tensor {
  const fail = (why: string): never => {
    throw new Error(`gatherRows: ${why}`);
  };
  if (ids.dtype !== 'int32') fail(`ids must be int32, got ${ids.dtype}.`);
  if (!gathersRows(width, packed)) {
    fail(`width ${width} must be ${packed ? 'even (whole words)' : 'a multiple of 4'}.`);
  }
  const [dtype, cols] = packed ? ['int32', width / 2] : ['float32', width];
  let vocab = 0;
  parts.forEach((p, i) => {
    if (p.dtype !== dtype || p.rank !== 2 || p.shape[1] !== cols || starts[i] !== vocab) {
      fail(
        `part ${i} is ${p.dtype} [${p.shape}] from row ${starts[i]}; expected ` +
          `${dtype} [rows, ${cols}] from row ${vocab}.`,
      );
    }
    vocab += p.shape[0] as number;
  });
  if (positions) {
    const { table, first, seq } = positions;
    const last = ids.shape[ids.rank - 1] ?? 1;
    if (table.dtype !== 'float32' || table.rank !== 2 || table.shape[1] !== width) {
      fail(`positions are ${table.dtype} [${table.shape}], expected float32 [n, ${width}].`);
    }
    if (seq !== last || first < 0 || first + seq > (table.shape[0] as number)) {
      fail(
        `positions ${first}..${first + seq} (ids [${ids.shape}]) outside [0, ${table.shape[0]}).`,
      );
    }
  }
  const out = emptyTensor<tf.Tensor>([...ids.shape, width]);
  const vec = vectorRows(width, packed);
  const kernel = GATHER_ROWS_KERNELS[vec ? 0 : 1] as GpuKernel;
  const rowUnits = vec ? width / (packed ? 8 : 4) : width / 2;
  const outRow = vec ? width / 4 : width / 2;
  const n = ids.size * rowUnits;
  if (n === 0) return out;
  const groups = groupsFor(n, PER_GROUP);
  const grid: [number, number] = [Math.min(groups, GRID_X), groupsFor(groups, GRID_X)];
  const pos = positions ? [1, positions.first, positions.seq] : [0, 0, 1];
  parts.forEach((part, i) => {
    const uniforms = [
      ...[n, rowUnits, starts[i] ?? 0, part.shape[0] as number, vocab, i === 0 ? 1 : 0],
      ...[packed ? 0 : 1, ...pos, outRow],
    ];
    dispatch(kernel, [ids, part, positions?.table ?? placeholderBuffer(), out], grid, uniforms);
  });
  return out;
}

/** Rows of a table of bf16 pairs (`gatherRowsGpu` with `packed`). Returns a new tensor. */
export function gatherBf16Rows(
  ids: tf.Tensor,
  parts: readonly tf.Tensor[],
  starts: readonly number[],
  width: number,
): tf.Tensor {
  return gatherRowsGpu(ids, parts, starts, width, true);
}
