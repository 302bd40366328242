// The wasm row kernels of the chunked target log-probs (src/runtime/wasm-kernels/logits-rows.ts):
// the typed-array loops and the heap wrappers against a float64 plain-TS reference, and
// targetLogprobs on wasm (which takes them, logits-row-ops.ts) against the stock ops, on wasm and
// on cpu: lp and the gradients w.r.t. h, hA and B, with ignored targets, several chunks and
// vocabulary parts. Tolerance: maxRelError (|a − b| / (|b| + 1e-3)) < 1e-5; float32 kernels
// against float64 (or another float32 order of summation) differ by a few ulps at these sizes.
// Against cpu 1e-4, as in wasm-kernels.test.ts: XNNPACK's products round differently (∂h measured
// 1.8e-5 from cpu's with the stock ops and with ours alike).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitsRowOps } from '../../src/model/logits-row-ops';
import { WASM_CHUNK_FLOATS } from '../../src/engine/memory-plan';
import { CHUNK_FLOATS, defaultChunkRows, targetLogprobs } from '../../src/model/target-logprobs';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import {
  LORA_BLOCK_ROWS,
  addLoraInPlace,
  logitsGradInPlace,
  logitsGradValues,
  rowLogSumExp,
  rowLogSumExpValues,
} from '../../src/runtime/wasm-kernels/logits-rows';
import { expectNoLeaks, seededArray } from '../helpers/tf-node';
import { maxRelError } from '../reference/self-check';

const TOL = 1e-5;

/** Float64 logsumexp of each row of l [n, V]. */
function refLse(l: ArrayLike<number>, n: number, V: number): number[] {
  return Array.from({ length: n }, (_, r) => {
    const row = Array.from({ length: V }, (_, j) => l[r * V + j] as number);
    const m = Math.max(...row);
    return m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
  });
}

/** Float64 g_r·([j = t_r − start] − exp(l_rj − lse_r)), rows read at rowOffset + r. */
function refGrad(
  l: ArrayLike<number>,
  n: number,
  V: number,
  lse: ArrayLike<number>,
  g: ArrayLike<number>,
  t: ArrayLike<number>,
  rowOffset: number,
  start: number,
): number[] {
  return Array.from({ length: n * V }, (_, i) => {
    const r = Math.floor(i / V);
    const row = rowOffset + r;
    const hot = (t[row] as number) - start === i % V ? 1 : 0;
    return (g[row] as number) * (hot - Math.exp((l[i] as number) - (lse[row] as number)));
  });
}

/** Float64 a [n, R]·b [V, R]ᵀ. */
function refProductT(a: ArrayLike<number>, b: ArrayLike<number>, n: number, V: number, R: number) {
  return Array.from({ length: n * V }, (_, i) => {
    const [r, j] = [Math.floor(i / V), i % V];
    let s = 0;
    for (let k = 0; k < R; k++) s += (a[r * R + k] as number) * (b[j * R + k] as number);
    return s;
  });
}

describe('wasm logits row loops (typed arrays)', () => {
  const [n, V] = [5, 37];
  const l = seededArray(n * V, 11, 12); // logits in [−6, 6)
  it('row logsumexp matches float64, and an all −∞ row gives −∞', () => {
    const out = new Float32Array(n);
    rowLogSumExpValues(l, n, V, out);
    expect(maxRelError(out, refLse(l, n, V))).toBeLessThan(TOL);
    const empty = new Float32Array(2);
    rowLogSumExpValues(new Float32Array(6).fill(-Infinity), 2, 3, empty);
    expect([...empty]).toEqual([-Infinity, -Infinity]);
  });

  it('the gradient matches float64, targets inside and outside the part', () => {
    const rowOffset = 2;
    const lse = new Float32Array([0, 0, ...refLse(l, n, V)]); // [rowOffset + n]
    const g = new Float32Array([9, 9, 0.5, -1.25, 0, 2, 0.75]);
    const start = 10;
    const t = new Int32Array([0, 0, 10, 46, 3, 20, 47]); // start+0, last column, before, inside, after
    const d = Float32Array.from(l);
    logitsGradValues(d, n, V, lse, g, t, rowOffset, start);
    expect(maxRelError(d, refGrad(l, n, V, lse, g, t, rowOffset, start))).toBeLessThan(TOL);
  });
});

describe('wasm logits row kernels (heap)', () => {
  beforeAll(async () => {
    registerWasmKernels();
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('rowLogSumExp and logitsGradInPlace read and write the heap', async () => {
    const [n, V, N, rowOffset] = [4, 29, 9, 3];
    const l = seededArray(n * V, 5, 10);
    const g = seededArray(N, 6, 2);
    const t = Int32Array.from({ length: N }, (_, i) => (i * 7) % V);
    await expectNoLeaks(async () => {
      const logits = tf.tensor2d(l, [n, V]);
      const lse = rowLogSumExp(logits);
      const lseValues = await lse.data();
      expect(maxRelError(lseValues, refLse(l, n, V))).toBeLessThan(TOL);
      const lseAll = tf.tensor1d(seededArray(N, 7, 1).map((x, i) => x + (lseValues[i] ?? 0)));
      const [gT, tT] = [tf.tensor1d(g), tf.tensor1d(t, 'int32')];
      expect(logitsGradInPlace(logits, lseAll, gT, tT, rowOffset, 0)).toBe(logits);
      const want = refGrad(l, n, V, await lseAll.data(), g, t, rowOffset, 0);
      expect(maxRelError(await logits.data(), want)).toBeLessThan(TOL);
      expect(() => logitsGradInPlace(logits, lseAll, gT, tT, N - 1, 0)).toThrow(RangeError);
      tf.dispose([logits, lse, lseAll, gT, tT]);
    });
  });

  it('addLoraInPlace adds hA·Bᵀ in blocks of rows, in place', async () => {
    const [n, V, R] = [LORA_BLOCK_ROWS * 2 + 5, 23, 3]; // two full blocks and a partial one
    const [l, a, b] = [seededArray(n * V, 1), seededArray(n * R, 2), seededArray(V * R, 3)];
    await expectNoLeaks(async () => {
      const [logits, hA, bT] = [
        tf.tensor2d(l, [n, V]),
        tf.tensor2d(a, [n, R]),
        tf.tensor2d(b, [V, R]),
      ];
      expect(addLoraInPlace(logits, hA, bT)).toBe(logits);
      const want = refProductT(a, b, n, V, R).map((x, i) => x + (l[i] as number));
      expect(maxRelError(await logits.data(), want)).toBeLessThan(TOL);
      tf.dispose([logits, hA, bT]);
    });
  });

  it('the wasm backend takes these kernels', () => {
    expect(logitsRowOps().kind).toBe('wasm');
    expect(defaultChunkRows(49152)).toBe(defaultChunkRows(49152, 'wasm'));
    expect(CHUNK_FLOATS.wasm).toBe(WASM_CHUNK_FLOATS); // memory-plan.ts mirrors it
  });
});

describe('targetLogprobs on wasm (our row kernels) against cpu (stock ops)', () => {
  const [N, C, V, R] = [11, 8, 40, 3];
  const h = seededArray(N * C, 21, 2);
  const w = seededArray(V * C, 22, 2);
  const a = seededArray(N * R, 23, 2); // hA
  const b = seededArray(V * R, 24, 2);
  // −1: ignored; 0 and V − 1 at the edges; 17 and 30 in the second and third part.
  const t = [3, -1, 0, 17, V - 1, 30, -1, 12, 25, 39, 8];
  const dy = seededArray(N, 25, 2);

  /** lp and ∂(Σ dy·lp)/∂(h, hA, B) on the current backend, W in `parts` row parts. */
  async function run(parts: number[], chunkRows: number, stockRows = false): Promise<number[][]> {
    return expectNoLeaks(async () => {
      const out = tf.tidy(() => {
        const wT = tf.tensor2d(w, [V, C]);
        const ws = parts.length > 1 ? tf.split(wT, parts, 0) : wT;
        const [hT, aT, bT] = [
          tf.tensor2d(h, [N, C]),
          tf.tensor2d(a, [N, R]),
          tf.tensor2d(b, [V, R]),
        ];
        const targets = tf.tensor1d(t, 'int32');
        const lpOf = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          targetLogprobs(
            x as tf.Tensor2D,
            ws as tf.Tensor2D,
            targets,
            { hA: y as tf.Tensor2D, b: z as tf.Tensor2D },
            { trainWeight: false, chunkRows, stockRows },
          );
        const lp = lpOf(hT, aT, bT);
        const grads = tf.grads((x, y, z) => tf.sum(tf.mul(lpOf(x, y, z), tf.tensor1d(dy))))([
          hT,
          aT,
          bT,
        ]);
        return [lp, ...grads];
      });
      const values = await Promise.all(out.map(async (x) => [...(await x.data())]));
      tf.dispose(out);
      return values;
    });
  }

  beforeAll(() => {
    registerWasmKernels();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [parts, chunkRows] of [
    [[V], 4],
    [[15, 10, 15], 3],
    [[V], N],
  ] as const) {
    it(`${parts.length} part(s), chunks of ${chunkRows} rows: lp, ∂h, ∂hA, ∂B agree`, async () => {
      await tf.setBackend('cpu');
      const cpu = await run([...parts], chunkRows);
      await tf.setBackend('wasm');
      const stock = await run([...parts], chunkRows, true);
      const ours = await run([...parts], chunkRows);
      expect(ours.map((x) => x.length)).toEqual(cpu.map((x) => x.length));
      expect(Math.abs(ours[0]?.[1] ?? 1)).toBe(0); // an ignored target's lp
      ours.forEach((x, i) => {
        expect(maxRelError(x, stock[i] ?? []), `output ${i} vs stock`).toBeLessThan(TOL);
        expect(maxRelError(x, cpu[i] ?? []), `output ${i} vs cpu`).toBeLessThan(1e-4);
      });
    });
  }
});
