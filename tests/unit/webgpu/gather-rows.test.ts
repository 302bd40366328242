// Rows of a vocab table on our WebGPU kernel (src/runtime/webgpu/kernels/gather-rows.ts) through
// the model's entry (src/model/weight-parts.ts `gatherRows`): float32 and bf16-packed tables, whole
// or in row parts, with and without GPT-2's position rows added, ids outside the vocabulary
// included; against a plain-TypeScript reference and the stock ops (our kernels off, and cpu).
// Two pipelines for all of it (vec4 and single-word rows).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBf16Bits, packBf16Pairs } from '../../../src/io/dtype';
import { gatherRows, type PositionTable, type VocabTable } from '../../../src/model/weight-parts';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';
import { expectClose, onCpu } from '../../helpers/webgpu-parity';

const V = 11;
const POSITIONS = 9;
const B = 2;
const T = 5;
// Ids in [0, V) and two outside it (a zero row, plus the position row when there is one); the
// stock ops are compared on ids inside (cpu's gather rejects the others).
const IDS = Int32Array.from([3, 0, 10, 7, 7, 1, -1, 5, 11, 9]);
const IDS_INSIDE = Int32Array.from([3, 0, 10, 7, 7, 1, 2, 5, 4, 9]);
const FIRST = 3; // positions 3..7

interface Case {
  readonly width: number;
  readonly packed: boolean;
  /** Rows per part. */
  readonly perPart: number;
  readonly positions: boolean;
}

const CASES: Case[] = [
  { width: 8, packed: false, perPart: V, positions: true }, // vec4 float32, GPT-2 (i)-like
  { width: 8, packed: false, perPart: 4, positions: false }, // float32 in 3 parts
  { width: 16, packed: true, perPart: 6, positions: true }, // vec4 bf16 in 2 parts
  { width: 6, packed: true, perPart: V, positions: true }, // single-word bf16
];

const label = (c: Case) =>
  `${c.packed ? 'bf16' : 'float32'} C ${c.width}, ${Math.ceil(V / c.perPart)} part(s)` +
  `${c.positions ? ', + positions' : ''}`;

/** The table's values as the kernel sees them (bf16-rounded when packed). */
function tableValues(c: Case): Float32Array {
  const raw = seededArray(V * c.width, 1, 2);
  return c.packed ? bf16BitsToFloat32(float32ToBf16Bits(raw)) : raw;
}

const positionValues = (c: Case) => seededArray(POSITIONS * c.width, 2, 2);

function reference(c: Case, ids: Int32Array): Float32Array {
  const table = tableValues(c);
  const pos = positionValues(c);
  const out = new Float32Array(ids.length * c.width);
  ids.forEach((id, n) => {
    for (let k = 0; k < c.width; k++) {
      let v = id >= 0 && id < V ? table[id * c.width + k]! : 0;
      if (c.positions) v += pos[(FIRST + (n % T)) * c.width + k]!;
      out[n * c.width + k] = v;
    }
  });
  return out;
}

/** The table as the model holds it: float32 or packed parts of `perPart` rows. */
function makeTable(c: Case): VocabTable {
  const values = tableValues(c);
  const parts: tf.Tensor2D[] = [];
  const starts: number[] = [];
  for (let s = 0; s < V; s += c.perPart) {
    const rows = Math.min(c.perPart, V - s);
    const slice = values.subarray(s * c.width, (s + rows) * c.width);
    starts.push(s);
    parts.push(
      c.packed
        ? tf.tensor2d(packBf16Pairs(float32ToBf16Bits(slice)), [rows, c.width / 2], 'int32')
        : tf.tensor2d(slice, [rows, c.width]),
    );
  }
  return { name: 'embed', parts, starts, rows: V, width: c.width, packed: c.packed };
}

async function run(c: Case, idValues: Int32Array): Promise<Float32Array> {
  const table = makeTable(c);
  const positions: PositionTable | null = c.positions
    ? { table: tf.tensor2d(positionValues(c), [POSITIONS, c.width]), first: FIRST }
    : null;
  const ids = tf.tensor2d(idValues, [B, T], 'int32');
  const rows = gatherRows(table, ids, positions);
  expect(rows.shape).toEqual([B, T, c.width]);
  const out = (await rows.data()) as Float32Array;
  tf.dispose([rows, ids, ...table.parts, positions?.table ?? []]);
  return out;
}

describe('gather rows (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  for (const c of CASES) {
    it(`${label(c)}: = reference and the stock ops, one dispatch per part`, async () => {
      const { result, work } = await countGpuWork(() => expectNoLeaks(() => run(c, IDS)));
      expectClose(result, reference(c, IDS), 1e-6, 'vs reference');
      const inside = await run(c, IDS_INSIDE);
      expectClose(inside, reference(c, IDS_INSIDE), 1e-6, 'ids inside vs reference');
      const stock = await withGpuKernels(false, () => run(c, IDS_INSIDE));
      expectClose(inside, stock, 1e-6, 'vs stock webgpu');
      if (!c.packed) expectClose(inside, await onCpu(() => run(c, IDS_INSIDE)), 1e-6, 'vs cpu');
      expect(work.dispatches).toBe(Math.ceil(V / c.perPart));
      expect(work.stock).toEqual({});
      const names = Object.keys(work.pipelines.ours);
      expect(names.every((n) => n.startsWith('gather-rows'))).toBe(true);
    });
  }

  it('a trainable table keeps the stock gather (its gradient)', async () => {
    const c = CASES[0]!;
    const table = makeTable(c);
    const variable = tf.variable(table.parts[0]!);
    const ids = tf.tensor2d(IDS, [B, T], 'int32');
    const { work } = await countGpuWork(async () => {
      const rows = gatherRows({ ...table, parts: [variable] }, ids);
      await rows.data();
      rows.dispose();
    });
    expect(work.ours).toEqual({});
    tf.dispose([ids, variable, ...table.parts]);
  });
});
