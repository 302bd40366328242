// The private TF.js internals the engine touches: `engine.state.activeTape`, which activation
// checkpointing (src/model/checkpoint.ts, `withOuterTapeKept`) saves and restores around the
// gradient it takes inside a gradient function, and the tape methods src/model/tape-backprop.ts
// records with (`startTape`, `endTape`, `scopedRun`, tape nodes' `gradient` and `saved`). TF.js is pinned (package.json: exactly 4.22.0);
// these tests fail loudly if the internal changes under a new version: the property must exist
// and hold the tape while a gradient records, and taking a gradient inside a gradFunc must still
// break the outer gradient without the restore (when TF.js fixes that, the workaround can go).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { withOuterTapeKept } from '../../src/model/checkpoint';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';

beforeAll(useCpuBackend);

const state = () => (tf.engine() as unknown as { state: Record<string, unknown> }).state;

/** d/dx of sum(f(x)) where f's gradFunc takes a nested gradient of x² (= 2x), restored or not. */
function nestedGradient(restore: boolean): number[] {
  const x = tf.tensor1d([1, 2, 3]);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    save([input]);
    return {
      value: tf.square(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const inner = () => {
          const { value, grads } = tf
            .engine()
            .gradients(() => tf.square(saved[0]!), [saved[0]!], dy);
          value.dispose();
          return grads;
        };
        return restore ? withOuterTapeKept(inner) : inner();
      },
    };
  });
  const g = tf.grad((t: tf.Tensor) => tf.sum(f(t) as tf.Tensor))(x);
  const out = Array.from(g.dataSync());
  tf.dispose([x, g]);
  return out;
}

describe('TF.js internals used by activation checkpointing', () => {
  it('runs the pinned TF.js version', () => {
    expect(tf.version_core).toBe('4.22.0');
  });

  it('the engine records with startTape / endTape / scopedRun, and tape nodes carry gradient and saved', () => {
    const engine = tf.engine() as unknown as Record<string, unknown>;
    for (const name of ['startTape', 'endTape', 'scopedRun']) {
      expect(typeof engine[name], name).toBe('function');
    }
    let nodes: Record<string, unknown>[] = [];
    const x = tf.scalar(3);
    const g = tf.grad((t: tf.Tensor) => {
      const y = tf.square(t);
      nodes = [...(state().activeTape as Record<string, unknown>[])];
      return y;
    })(x);
    expect(nodes.length).toBeGreaterThan(0);
    expect(typeof nodes[0]!.gradient).toBe('function');
    expect(Array.isArray(nodes[0]!.saved)).toBe(true);
    tf.dispose([x, g]);
  });

  it('engine.state.activeTape is the recording tape during a gradient, null after it', () => {
    let during: unknown;
    const g = tf.grad((x: tf.Tensor) => {
      during = state().activeTape;
      return tf.sum(tf.square(x));
    })(tf.scalar(3));
    expect(Array.isArray(during)).toBe(true);
    expect(Object.hasOwn(state(), 'activeTape')).toBe(true);
    expect(state().activeTape).toBeNull();
    expect(g.dataSync()[0]).toBe(6); // d(x²)/dx at 3
    g.dispose();
  });

  it('a gradient inside a gradFunc breaks the outer one unless the outer tape is restored', async () => {
    expect(() => nestedGradient(false)).toThrow();
    await expectNoLeaks(() => {
      // The nested gradient of x² with dy = 1 is 2x: [2, 4, 6].
      expect(nestedGradient(true)).toEqual([2, 4, 6]);
    });
  });
});
