// The row-wise steps of the chunked target log-probs on webgpu (src/runtime/webgpu/kernels/
// logits-rows.ts): the row logsumexp and the in-place softmax cross-entropy gradient, against a
// float64 plain-TypeScript reference. Rows wider than the 256-invocation workgroup (V 300), a
// row offset into the whole arrays, a part that starts past row 0, targets inside and outside it.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitsGradInPlace, rowLogSumExp } from '../../../src/runtime/webgpu/kernels/logits-rows';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const [n, V] = [3, 300];
// Logits spread ±8, one row shifted by +60 (a max-subtracting logsumexp must not overflow).
const logits = Float32Array.from(seededArray(n * V, 21, 8), (x, i) => (i < V ? x + 60 : x));

function lseRef(row: number): number {
  const xs = Array.from(logits.subarray(row * V, (row + 1) * V));
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

describe('logits rows (Dawn)', () => {
  beforeAll(useWebGpuBackend, 120_000);
  afterAll(useCpuAgain);

  it('row logsumexp: the float64 reference to 1e-6 relative', async () => {
    await expectNoLeaks(async () => {
      const l = tf.tensor2d(logits, [n, V]);
      const lse = rowLogSumExp(l);
      const got = await lse.data();
      for (let r = 0; r < n; r++) {
        expect(Math.abs(got[r]! - lseRef(r)) / Math.abs(lseRef(r)), `row ${r}`).toBeLessThan(1e-6);
      }
      tf.dispose([l, lse]);
    });
  });

  it('gradient in place: g·(onehot(t − start) − softmax), rows read at an offset', async () => {
    // Whole arrays of 5 rows; this chunk is rows 2…4; the part starts at vocabulary row 100, so
    // targets 150 and 399 are in it (columns 50 and 299) and 7 is not (no one-hot in that row).
    const offset = 2;
    const start = 100;
    const targets = [0, 0, 150, 7, 399];
    const g = [0, 0, 0.5, -1.5, 2];
    // lse over the whole vocabulary: this part's plus 1.0 for the rows before it (any value works).
    const lseAll = [0, 0, ...[0, 1, 2].map((r) => lseRef(r) + 1)];
    await expectNoLeaks(async () => {
      const d = tf.tensor2d(logits, [n, V]);
      const lse = tf.tensor1d(lseAll);
      const gT = tf.tensor1d(g);
      const t = tf.tensor1d(targets, 'int32');
      expect(logitsGradInPlace(d, lse, gT, t, offset, start)).toBe(d);
      const got = await d.data();
      let worst = 0;
      for (let r = 0; r < n; r++) {
        const row = offset + r;
        for (let j = 0; j < V; j++) {
          const p = Math.exp(logits[r * V + j]! - lseAll[row]!);
          const hot = targets[row]! - start === j ? 1 : 0;
          worst = Math.max(worst, Math.abs(got[r * V + j]! - g[row]! * (hot - p)));
        }
      }
      expect(worst).toBeLessThan(1e-6);
      expect(got[0 * V + 50]).toBeCloseTo(0.5 * (1 - Math.exp(logits[50]! - lseAll[2]!)), 5);
      tf.dispose([d, lse, gT, t]);
    });
  });
});
