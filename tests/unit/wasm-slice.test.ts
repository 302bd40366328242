// Slice and SplitV on wasm (src/runtime/wasm-kernels/slice.ts): the box copy against an
// index-by-index reference, the registered kernels against the cpu backend (exact: a slice moves
// values), and that a slice no longer reads its whole input out of the heap.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import { copyBox } from '../../src/runtime/wasm-kernels/slice';
import { outputsOn, seededArray } from '../helpers/tf-node';

/** The box at `from` of extent `extent` of a row-major array of `shape`, one index at a time. */
function referenceBox(
  src: ArrayLike<number>,
  shape: number[],
  from: number[],
  extent: number[],
): number[] {
  const out: number[] = [];
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const walk = (d: number, offset: number): void => {
    if (d === shape.length) {
      out.push(src[offset] as number);
      return;
    }
    for (let i = 0; i < (extent[d] as number); i++)
      walk(d + 1, offset + ((from[d] as number) + i) * (strides[d] as number));
  };
  walk(0, 0);
  return out;
}

/** A deterministic pseudo-random integer in [0, n) from a counter. */
const pick = (seed: number, n: number) =>
  Math.floor(Math.abs(Math.sin(seed * 12.9898) * 43758.5453) % n);

async function expectSameAsCpu(build: () => tf.Tensor[]): Promise<void> {
  expect(await outputsOn('wasm', build)).toEqual(await outputsOn('cpu', build));
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmKernels();
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('copyBox', () => {
  it('copies every box of random shapes of rank 1 to 5 as the index-by-index reference does', () => {
    let seed = 1;
    for (let c = 0; c < 200; c++) {
      const rank = 1 + pick(seed++, 5);
      const shape = Array.from({ length: rank }, () => 1 + pick(seed++, 6));
      // Some dimensions whole, so that runs of several dimensions and short runs both occur.
      const from = shape.map((n) => (pick(seed++, 3) === 0 ? 0 : pick(seed++, n)));
      const extent = shape.map((n, d) =>
        from[d] === 0 && pick(seed++, 2) === 0 ? n : 1 + pick(seed++, n - (from[d] as number)),
      );
      const size = shape.reduce((a, b) => a * b, 1);
      const src = Float32Array.from({ length: size }, (_, i) => i);
      const dst = new Float32Array(extent.reduce((a, b) => a * b, 1));
      copyBox(src, shape, from, extent, dst);
      expect([...dst], `shape ${shape} from ${from} extent ${extent}`).toEqual(
        referenceBox(src, shape, from, extent),
      );
    }
  });

  it('copies long runs (one `set`) and whole trailing dimensions as one run', () => {
    const shape = [3, 4, 40];
    const src = Float32Array.from({ length: 480 }, (_, i) => i * 0.5);
    const cases: [number[], number[]][] = [
      [
        [1, 0, 0],
        [1, 4, 40],
      ], // one contiguous block
      [
        [0, 1, 0],
        [3, 2, 40],
      ], // runs of 80
      [
        [0, 0, 3],
        [3, 4, 30],
      ], // runs of 30
      [
        [2, 3, 39],
        [1, 1, 1],
      ], // one element
    ];
    for (const [from, extent] of cases) {
      const dst = new Float32Array(extent.reduce((a, b) => a * b, 1));
      copyBox(src, shape, from, extent, dst);
      expect([...dst]).toEqual(referenceBox(src, shape, from, extent));
    }
  });
});

describe('Slice and SplitV kernels on wasm', () => {
  it('give what cpu gives for float32, int32 and bool, sizes of −1 and empty slices', async () => {
    const x = () => tf.tensor(seededArray(2 * 5 * 6 * 3, 7), [2, 5, 6, 3]);
    await expectSameAsCpu(() => [
      tf.slice(x(), [1, 0, 0, 0], [1, -1, -1, -1]),
      tf.slice(x(), [0, 2, 1, 0], [2, 3, 4, 3]),
      tf.slice(x(), [0, 0, 0, 1], [-1, -1, -1, 2]),
      tf.slice(x(), [1, 4, 5, 2], [1, 1, 1, 1]),
      tf.slice(x(), [0, 1, 0, 0], [2, 0, 6, 3]),
      tf.slice(tf.tensor1d([3, 1, 4, 1, 5, 9], 'int32'), [2], [3]),
      tf.slice(tf.tensor2d([1, 0, 1, 1, 0, 0], [2, 3], 'bool'), [0, 1], [2, 2]),
      tf.slice(
        tf.tensor(seededArray(2 * 3 * 2 * 2 * 4, 3), [2, 3, 2, 2, 4]),
        [1, 1, 0, 1, 1],
        [1, 2, 2, 1, 3],
      ),
    ]);
  });

  it('SplitV gives what cpu gives: equal parts, given sizes, a −1 size, any axis', async () => {
    const x = () => tf.tensor(seededArray(2 * 4 * 6, 11), [2, 4, 6]);
    await expectSameAsCpu(() => [
      ...tf.split(x(), 2, -1),
      ...tf.split(x(), [1, 3], 1),
      ...tf.split(x(), [2, -1, 1], 2),
      ...tf.split(x(), 2, 0),
      ...tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [1, 2], 1),
    ]);
  });

  it('gives slice and split gradients equal to cpu (RoPE-style rotate-half)', async () => {
    const x = () => tf.tensor(seededArray(2 * 3 * 8, 5), [2, 3, 8]);
    const w = () => tf.tensor(seededArray(2 * 3 * 8, 6), [2, 3, 8]);
    await expectSameAsCpu(() => {
      const f = (v: tf.Tensor) => {
        const [l, r] = tf.split(v, 2, -1) as [tf.Tensor, tf.Tensor];
        const rotated = tf.concat([tf.neg(r), l], -1);
        return tf.sum(tf.mul(tf.add(rotated, tf.slice(v, [1, 0, 0], [1, 3, 8])), w()));
      };
      return [tf.grad(f)(x())];
    });
  });

  it('reads only the slice: the whole input is never copied out of the heap', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    const x = tf.tensor(seededArray(8 * 16 * 32, 2), [8, 16, 32]);
    const expected = [...(await x.data())].slice(3 * 512, 4 * 512);
    const readSync = vi.spyOn(backend, 'readSync');
    try {
      const part = tf.slice(x, [3, 0, 0], [1, 16, 32]);
      const halves = tf.split(x, 2, -1);
      expect(readSync).not.toHaveBeenCalled();
      expect([...(await part.data())]).toEqual(expected);
      tf.dispose([part, ...halves]);
    } finally {
      readSync.mockRestore();
      x.dispose();
    }
  });
});
