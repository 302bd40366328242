// The engine's deferred results, on cpu: an op that returns a Later frees its queue slot at once
// and its promise follows the Later; a ReadBatch reads everything queued in one flush, in order,
// and a failed read rejects every waiter of that flush (src/engine/op-queue.ts,
// src/runtime/webgpu/read-together.ts). The webgpu side (one transfer) is readback.test.ts.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Later, OpQueue } from '../../../src/engine/op-queue';
import { ReadBatch } from '../../../src/runtime/webgpu/read-together';
import { expectNoLeaks, useCpuBackend } from '../../helpers/tf-node';

describe('deferred op results', () => {
  beforeAll(useCpuBackend);

  it('a Later frees the queue: the next op runs before the first result arrives', async () => {
    const queue = new OpQueue();
    const log: string[] = [];
    let release: (v: number) => void = () => undefined;
    const first = queue.submit('k', () => {
      log.push('first ran');
      return new Later(new Promise<number>((resolve) => (release = resolve)));
    });
    const second = queue.submit('k', () => {
      log.push('second ran');
      return 2;
    });
    expect(queue.isIdle('k')).toBe(false);
    expect(await second).toBe(2);
    expect(queue.isIdle('k')).toBe(true);
    expect(log).toEqual(['first ran', 'second ran']);
    release(1);
    expect(await first).toBe(1);
  });

  it('a rejected Later rejects its own op only', async () => {
    const queue = new OpQueue();
    const bad = queue.submit('k', () => new Later(Promise.reject(new Error('read failed'))));
    const next = queue.submit('k', () => 'ok');
    await expect(bad).rejects.toThrow('read failed');
    expect(await next).toBe('ok');
  });

  it('a ReadBatch answers each add after one flush, in order', async () => {
    await expectNoLeaks(async () => {
      const batch = new ReadBatch();
      const a = tf.tensor1d([1, 2, 3]);
      const b = tf.scalar(4);
      const c = tf.tensor1d([5, 6], 'int32');
      let settled = false;
      const first = batch.add([a, b]).then((x) => ((settled = true), x));
      const second = batch.add([c]);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(settled, 'nothing is read before the flush').toBe(false);
      expect(batch.waiting).toBe(true);
      await batch.flush();
      const [[fa, fb], [fc]] = await Promise.all([first, second]);
      expect(Array.from(new Float32Array(fa!))).toEqual([1, 2, 3]);
      expect(Array.from(new Float32Array(fb!))).toEqual([4]);
      expect(Array.from(new Int32Array(fc!))).toEqual([5, 6]);
      expect(batch.waiting).toBe(false);
      tf.dispose([a, b, c]);
    });
  });
});
