// GradientBuffer: sums across adds (array and name-keyed forms), zeros where nothing was added,
// zero() resets, bad calls leave it unchanged, and it never leaks. Expected sums are written out.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import { GradientBuffer } from '../../src/optim/gradient-buffer';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';

let a: tf.Variable;
let b: tf.Variable;

beforeAll(async () => {
  await useCpuBackend();
  a = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'gb.a'));
  b = tf.tidy(() => tf.variable(tf.zeros([2, 2]), true, 'gb.b'));
});

afterAll(() => {
  tf.dispose([a, b]);
});

/** The buffer's sums as plain arrays; disposes what get() returned. */
async function read(buffer: GradientBuffer): Promise<number[][]> {
  const sums = buffer.get();
  const out = await Promise.all(sums.map(async (t) => Array.from(await t.data())));
  tf.dispose(sums);
  return out;
}

describe('GradientBuffer', () => {
  it('two adds give the sum; the inputs stay the caller’s', async () => {
    await expectNoLeaks(async () => {
      const buffer = new GradientBuffer([a, b]);
      expect(buffer.isEmpty).toBe(true);
      const g1 = [
        tf.tensor1d([1, 2]),
        tf.tensor2d([
          [1, 0],
          [0, 1],
        ]),
      ];
      const g2 = [
        tf.tensor1d([0.5, -4]),
        tf.tensor2d([
          [2, 3],
          [4, 5],
        ]),
      ];
      buffer.add(g1);
      buffer.add(g2);
      tf.dispose([...g1, ...g2]); // the buffer kept its own copies
      // [1 + 0.5, 2 − 4] and [[1 + 2, 0 + 3], [0 + 4, 1 + 5]]
      expect(await read(buffer)).toEqual([
        [1.5, -2],
        [3, 3, 4, 6],
      ]);
      expect(buffer.isEmpty).toBe(false);
      expect(buffer.numAdds).toBe(2);
      buffer.dispose();
    });
  });

  it('a name-keyed map (as tf.variableGrads returns) adds by name; absent names stay zero', async () => {
    await expectNoLeaks(async () => {
      const buffer = new GradientBuffer([a, b]);
      const onlyA = { 'gb.a': tf.tensor1d([3, 4]) };
      buffer.add(onlyA);
      buffer.add(onlyA);
      tf.dispose(Object.values(onlyA));
      // a: 2·[3, 4]; b: never added ⇒ zeros of its shape
      expect(await read(buffer)).toEqual([
        [6, 8],
        [0, 0, 0, 0],
      ]);
      const shapes = buffer.get();
      expect(shapes.map((t) => t.shape)).toEqual([[2], [2, 2]]);
      tf.dispose(shapes);
      buffer.dispose();
    });
  });

  it('matches the sum of gradients from tf.variableGrads over two losses', async () => {
    await expectNoLeaks(async () => {
      const buffer = new GradientBuffer([a]);
      // f1 = Σ a·[1, 2] ⇒ ∂/∂a = [1, 2];  f2 = Σ 3a ⇒ ∂/∂a = [3, 3];  sum = [4, 5]
      for (const w of [
        [1, 2],
        [3, 3],
      ]) {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(a, w)), [a]);
        buffer.add(grads);
        tf.dispose([value, ...Object.values(grads)]);
      }
      expect(await read(buffer)).toEqual([[4, 5]]);
      buffer.dispose();
    });
  });

  it('zero() resets to empty zeros', async () => {
    await expectNoLeaks(async () => {
      const buffer = new GradientBuffer([a, b]);
      const g = [tf.ones([2]), tf.ones([2, 2])];
      buffer.add(g);
      buffer.zero();
      expect(buffer.isEmpty).toBe(true);
      expect(buffer.numAdds).toBe(0);
      expect(await read(buffer)).toEqual([
        [0, 0],
        [0, 0, 0, 0],
      ]);
      buffer.add(g); // usable again after zero()
      expect(await read(buffer)).toEqual([
        [1, 1],
        [1, 1, 1, 1],
      ]);
      tf.dispose(g);
      buffer.dispose();
    });
  });

  it('bad calls throw a ValidationError naming the variable and leave the sums unchanged', async () => {
    await expectNoLeaks(async () => {
      const buffer = new GradientBuffer([a, b]);
      const good = tf.tensor1d([1, 1]);
      buffer.add({ 'gb.a': good });
      const wrongShape = [tf.tensor1d([5, 5]), tf.zeros([3])];
      expect(() => buffer.add(wrongShape)).toThrow(ValidationError);
      expect(() => buffer.add(wrongShape)).toThrow(/'gb.b' has shape \[3\].*\[2,2\]/);
      expect(() => buffer.add([good])).toThrow(/1 gradients for 2 variables/);
      expect(() => buffer.add({ other: good })).toThrow(/'other', which is not one/);
      // The first entry of wrongShape was valid but must not have been added.
      expect(await read(buffer)).toEqual([
        [1, 1],
        [0, 0, 0, 0],
      ]);
      expect(buffer.numAdds).toBe(1);
      tf.dispose([good, ...wrongShape]);
      buffer.dispose();
    });
  });

  it('rejects two variables with one name', () => {
    expect(() => new GradientBuffer([a, a])).toThrow(/two variables are named 'gb.a'/);
  });
});
