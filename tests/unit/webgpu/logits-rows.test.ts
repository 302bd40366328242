// The row-wise steps of the chunked target log-probs on webgpu (src/runtime/webgpu/kernels/
// logits-rows.ts): the row logsumexp and the in-place softmax cross-entropy gradient, against a
// float64 plain-TypeScript reference. Rows wider than the 256-invocation workgroup (V 300), a
// row offset into the whole arrays, a part that starts past row 0, targets inside and outside it;
// the log-probs finished in the logsumexp's dispatch over a table in two parts; ignored targets.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  logitsGradInPlace,
  lseAndPick,
  rowLogSumExp,
} from '../../../src/runtime/webgpu/kernels/logits-rows';
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

  it('lse, target logits and lp over two parts, rows at an offset; ignored targets give 0', async () => {
    // The [n, V] logits as a table of two parts, columns 0…119 and 120…299; whole arrays of 5
    // rows, this chunk rows 2…4. Targets: 130 (second part), 7 (first), −100 (ignored).
    const offset = 2;
    const split = 120;
    const targets = [0, 0, 130, 7, -100];
    const lseAll = [0, 1, 2].map(lseRef);
    const cols = (from: number, to: number) =>
      Float32Array.from({ length: n * (to - from) }, (_, i) => {
        const r = Math.floor(i / (to - from));
        return logits[r * V + from + (i % (to - from))]!;
      });
    await expectNoLeaks(async () => {
      const parts = [
        tf.tensor2d(cols(0, split), [n, split]),
        tf.tensor2d(cols(split, V), [n, V - split]),
      ];
      const out = {
        lse: tf.zeros<tf.Rank.R1>([5]),
        lp: tf.zeros<tf.Rank.R1>([5]),
        targets: tf.tensor1d(targets, 'int32'),
        rowOffset: offset,
      };
      lseAndPick(parts[0]!, { ...out, start: 0, first: true, last: false });
      lseAndPick(parts[1]!, { ...out, start: split, first: false, last: true });
      const [lse, lp] = [await out.lse.data(), await out.lp.data()];
      expect(Array.from(lse.subarray(0, offset))).toEqual([0, 0]); // rows before: untouched
      for (let r = 0; r < n; r++) {
        const row = offset + r;
        const t = targets[row]!;
        const want = t < 0 ? 0 : logits[r * V + t]! - lseAll[r]!;
        expect(Math.abs(lse[row]! - lseAll[r]!) / Math.abs(lseAll[r]!), `lse ${r}`).toBeLessThan(
          1e-6,
        );
        expect(Math.abs(lp[row]! - want), `lp ${r}`).toBeLessThan(1e-4);
      }
      expect(lp[offset + 2]).toBe(0);
      tf.dispose([...parts, out.lse, out.lp, out.targets]);
    });
  });

  it('gradient in place: a row whose target is < 0 (ignored) gets zeros whatever its g', async () => {
    await expectNoLeaks(async () => {
      const d = tf.tensor2d(logits, [n, V]);
      const lse = tf.tensor1d([0, 1, 2].map(lseRef));
      const g = tf.tensor1d([1, -2, 3]);
      const t = tf.tensor1d([5, -100, 299], 'int32');
      logitsGradInPlace(d, lse, g, t, 0, 0);
      const got = await d.data();
      expect(got.subarray(V, 2 * V).every((x) => x === 0)).toBe(true);
      expect(got.subarray(0, V).some((x) => x !== 0)).toBe(true);
      expect(got.subarray(2 * V).some((x) => x !== 0)).toBe(true);
      tf.dispose([d, lse, g, t]);
    });
  });
});
