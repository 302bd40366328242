// gradientsFreeing (src/model/tape-backprop.ts): the engine's gradients, from the same tape and
// gradient functions, holding each intermediate gradient and saved tensor only while needed.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { trackPeak } from '../../bench/lib/peak-memory';
import { gradientsFreeing } from '../../src/model/tape-backprop';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';

beforeAll(useCpuBackend);

const [N, C, DEPTH] = [32, 24, 10];

/** A residual chain with shared and frozen weights, a softmax and a broadcast: y = f(x; ws, frozen). */
function chain(x: tf.Tensor2D, ws: tf.Tensor2D[], frozen: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  for (const [i, w] of ws.entries()) {
    const z = tf.matMul(tf.tanh(h), i % 2 ? w : frozen); // [N, C]
    h = tf.add(h, tf.mul(tf.softmax(z), tf.sigmoid(tf.sum(h, 1, true)))) as tf.Tensor2D;
  }
  return tf.mul(h, h) as tf.Tensor2D;
}

function inputs() {
  const x = tf.randomNormal([N, C], 0, 1, 'float32', 1) as tf.Tensor2D;
  const ws = Array.from(
    { length: DEPTH },
    (_, i) => tf.randomNormal([C, C], 0, 0.3, 'float32', i + 2) as tf.Tensor2D,
  );
  const frozen = tf.randomNormal([C, C], 0, 0.3, 'float32', 99) as tf.Tensor2D;
  const dy = tf.randomNormal([N, C], 0, 1, 'float32', 100);
  return { x, ws, frozen, dy };
}

it('gives the engine gradients, bit for bit, and frees what it held', async () => {
  const { x, ws, frozen, dy } = inputs();
  try {
    const xs = [x, ws[1]!, ws[3]!];
    const read = async (r: { value: tf.Tensor; grads: tf.Tensor[] }) => {
      const out = await Promise.all([r.value, ...r.grads].map((t) => t.data()));
      tf.dispose([r.value, ...r.grads]);
      return out.map((a) => Array.from(a));
    };
    const engine = await read(tf.engine().gradients(() => chain(x, ws, frozen), xs, dy));
    const ours = await expectNoLeaks(() =>
      read(gradientsFreeing(() => chain(x, ws, frozen), xs, dy)),
    );
    expect(ours).toEqual(engine);
    expect((tf.engine() as unknown as { state: { activeTape: unknown } }).state.activeTape).toBe(
      null,
    );
  } finally {
    tf.dispose([x, ...ws, frozen, dy]);
  }
});

it('holds less at its peak than the engine, which keeps every gradient to the end', async () => {
  const { x, ws, frozen, dy } = inputs();
  try {
    const peak = async (take: typeof gradientsFreeing) => {
      const before = tf.memory().numBytes;
      const p = await trackPeak(async () => {
        const { value, grads } = take(() => chain(x, ws, frozen), [x, ...ws], dy);
        tf.dispose([value, ...grads]);
      });
      return p.peakBufferBytes - before;
    };
    const engine = await peak((f, xs, d) => tf.engine().gradients(f, [...xs], d));
    const ours = await peak(gradientsFreeing);
    expect(ours).toBeLessThan(0.6 * engine);
  } finally {
    tf.dispose([x, ...ws, frozen, dy]);
  }
});

it('refuses to run under a recording tape', () => {
  const x = tf.scalar(2);
  expect(() =>
    tf.grad((t: tf.Tensor) => gradientsFreeing(() => tf.square(t), [t], tf.scalar(1)).value)(x),
  ).toThrow(/outer gradient tape/);
  x.dispose();
});
