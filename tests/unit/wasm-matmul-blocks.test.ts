// The wasm product's block-wise paths against the plain-TypeScript float64 reference
// (tests/reference/wasm-kernel-matmul.ts): the sum over blocks of a long K (split-k.ts), the tiled
// transposition of the last two axes (wasm-heap.ts), and the scope that prepares a large B once
// for a run of products (weight-reuse.ts). Tolerance: max relative error < 1e-4 (maxRelError).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoraAdapter, targetsFor } from '../../src/lora/adapter';
import { CausalLM } from '../../src/model/causal-lm';
import { parseModelConfig } from '../../src/model/config';
import { KNOWN_CONFIGS } from '../../src/model/known-configs';
import { generateRandomWeights } from '../../src/model/random-weights';
import { registerWasmKernels } from '../../src/runtime/wasm-kernels';
import { planMatMul, UNCACHED_B_MIN_BYTES } from '../../src/runtime/wasm-kernels/batch-mat-mul';
import { K_BLOCK, SPLIT_K_MIN, splitsK } from '../../src/runtime/wasm-kernels/split-k';
import { transposeLastTwo, transposeTiles } from '../../src/runtime/wasm-kernels/wasm-heap';
import {
  keptOperandCount,
  reusingWeights,
  reusingWeightsNow,
} from '../../src/runtime/wasm-kernels/weight-reuse';
import { expectNoLeaks, seededArray } from '../helpers/tf-node';
import { maxRelError } from '../reference/self-check';
import { referenceMatMul, type MatMulCase } from '../reference/wasm-kernel-matmul';

beforeAll(async () => {
  registerWasmKernels();
  await tf.setBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

function dataIds(): number {
  return (tf.backend() as unknown as BackendWasm).numDataIds();
}

/** op(A)·op(B) on wasm against float64, for a case with seeded values. */
async function expectProduct(c: MatMulCase, seed: number): Promise<number> {
  const aShape = [c.batchA, ...(c.transposeA ? [c.k, c.m] : [c.m, c.k])];
  const bShape = [c.batchB, ...(c.transposeB ? [c.n, c.k] : [c.k, c.n])];
  const a = seededArray(tf.util.sizeFromShape(aShape), seed);
  const b = seededArray(tf.util.sizeFromShape(bShape), seed + 1);
  const got = await expectNoLeaks(async () => {
    const y = tf.tidy(() =>
      tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), c.transposeA, c.transposeB),
    );
    const values = await y.data();
    y.dispose();
    return values;
  });
  const error = maxRelError(Array.from(got), referenceMatMul(c, a, b));
  expect(error).toBeLessThan(1e-4);
  return error;
}

describe('the sum over blocks of a long K', () => {
  it('is taken from SPLIT_K_MIN, for untransposed B and shared B only', () => {
    expect(splitsK(SPLIT_K_MIN)).toBe(true);
    expect(splitsK(SPLIT_K_MIN - 1)).toBe(false);
    expect(planMatMul([3, SPLIT_K_MIN], [SPLIT_K_MIN, 8], false, false).route).toBe('fold');
  });

  it('matches float64 with a last block shorter than K_BLOCK, folded rows and a transposed A', async () => {
    const k = SPLIT_K_MIN + K_BLOCK / 2 + 3; // 4 whole blocks and a short one
    const base = { batchB: 1, k, n: 7, transposeB: false };
    await expectProduct({ ...base, batchA: 1, m: 5, transposeA: false }, 1);
    await expectProduct({ ...base, batchA: 2, m: 3, transposeA: false }, 3); // [2, 3, K]·[K, 7]
    await expectProduct({ ...base, batchA: 1, m: 4, transposeA: true }, 5); // Aᵀ·B
  });
});

describe('the tiled transposition', () => {
  it('swaps the last two axes of every matrix, for edges off the tile size', () => {
    const [batch, rows, cols] = [2, 45, 70];
    const src = new Float32Array(seededArray(batch * rows * cols, 7));
    const dst = new Float32Array(src.length);
    transposeTiles(src, dst, batch, rows, cols);
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          expect(dst[b * rows * cols + j * rows + i]).toBe(src[b * rows * cols + i * cols + j]);
        }
  });

  it('runs on large tensors (tiles), small ones and wide ones of few rows (the package) alike', async () => {
    for (const shape of [
      [2, 700, 801],
      [30, 50],
      [300, 3500], // ≥ TILED_MIN_ELEMENTS, rows ≤ STRIDED_ROWS_MAX
    ]) {
      const x = tf.tensor(seededArray(tf.util.sizeFromShape(shape), 9), shape);
      const backend = tf.backend() as unknown as BackendWasm;
      const info = transposeLastTwo(backend, {
        dataId: x.dataId,
        shape: x.shape,
        dtype: 'float32',
      });
      const got = tf.engine().makeTensorFromTensorInfo(info);
      const want = tf.transpose(
        x,
        [...shape.keys()].slice(0, -2).concat([shape.length - 1, shape.length - 2]),
      );
      expect(got.shape).toEqual(want.shape);
      expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
      tf.dispose([x, got, want]);
    }
  });

  it('gives the products that transpose A, B or the output the float64 values', async () => {
    const base = { batchA: 1, batchB: 1 };
    // A·Bᵀ swapped ((B·Aᵀ)ᵀ: Aᵀ and the output transposed), then folded with Bᵀ materialised.
    expect(planMatMul([37, 70], [300, 70], false, true).route).toBe('swap');
    await expectProduct({ ...base, m: 37, k: 70, n: 300, transposeA: false, transposeB: true }, 11);
    expect(planMatMul([300, 70], [37, 70], false, true).route).toBe('fold');
    await expectProduct({ ...base, m: 300, k: 70, n: 37, transposeA: false, transposeB: true }, 13);
    await expectProduct({ ...base, m: 33, k: 65, n: 40, transposeA: true, transposeB: false }, 17);
  });
});

describe('reusingWeights', () => {
  // B of 256 × 256 float32: exactly UNCACHED_B_MIN_BYTES, the size from which B is prepared.
  const k = 256;
  const n = UNCACHED_B_MIN_BYTES / 4 / k;

  it('prepares a large B once per orientation, gives the same values, and frees all at the end', async () => {
    const w = tf.tensor(seededArray(k * n, 21), [n, k]); // a weight [N, K]
    const xs = [0, 1, 2].map((i) => tf.tensor(seededArray(512 * k, 30 + i), [512, k]));
    const dys = [0, 1, 2].map((i) => tf.tensor(seededArray(512 * n, 40 + i), [512, n]));
    expect(planMatMul([512, k], [n, k], false, true).route).toBe('fold'); // Wᵀ materialised
    const run = () =>
      xs.map((x, i) => [tf.matMul(x, w, false, true), tf.matMul(dys[i]!, w)]).flat();
    const plain = run();
    const idsBefore = dataIds();
    let kept = -1;
    const scoped = reusingWeights(() => {
      expect(reusingWeightsNow()).toBe(true);
      const out = run();
      kept = keptOperandCount(); // Wᵀ for x·Wᵀ, an alias of W for ∂y·W
      return out;
    });
    expect(kept).toBe(2);
    expect(reusingWeightsNow()).toBe(false);
    expect(keptOperandCount()).toBe(0);
    expect(dataIds()).toBe(idsBefore + scoped.length); // only the outputs are left
    for (let i = 0; i < plain.length; i++) {
      expect(Array.from(await scoped[i]!.data())).toEqual(Array.from(await plain[i]!.data()));
    }
    tf.dispose([...plain, ...scoped, w, ...xs, ...dys]);
  });

  it('folds A·Bᵀ for a large B instead of swapping it (B is transposed once for the scope)', () => {
    expect(planMatMul([64, k], [n, k], false, true).route).toBe('swap');
    reusingWeights(() => expect(planMatMul([64, k], [n, k], false, true).route).toBe('fold'));
    reusingWeights(() => expect(planMatMul([12, 32], [40, 32], false, true).route).toBe('swap')); // small B
  });

  it('keeps a B from its second use, joins an outer scope, and releases all when f throws', () => {
    const w = tf.tensor(seededArray(k * n, 51), [k, n]);
    const x = tf.ones([4, k]);
    const idsBefore = dataIds();
    expect(() =>
      reusingWeights(() => {
        tf.matMul(x, w).dispose();
        expect(keptOperandCount()).toBe(0); // used once: prepared for that product only
        reusingWeights(() => tf.matMul(x, w).dispose()); // seen again: kept by the outer scope
        expect(keptOperandCount()).toBe(1);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(dataIds()).toBe(idsBefore);
    tf.dispose([w, x]);
  });
});

describe('a checkpointed step whose weights and vocabulary take these paths', () => {
  // Weights of 512 × 256 (512 KiB ≥ UNCACHED_B_MIN_BYTES: kept by the block scopes) and a tied
  // vocabulary of SPLIT_K_MIN + 100 rows (∂h = ∂logits·W summed over blocks of K), two groups of
  // one sequence per block.
  const raw = {
    ...KNOWN_CONFIGS['HuggingFaceTB/SmolLM2-135M'],
    hidden_size: 256,
    intermediate_size: 512,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: SPLIT_K_MIN + 100,
  };
  const [B, T] = [2, 8];

  async function step(backend: 'cpu' | 'wasm') {
    await tf.setBackend(backend);
    const config = parseModelConfig(raw, 'blocks');
    expect(512 * 256 * 4).toBeGreaterThan(UNCACHED_B_MIN_BYTES);
    const weights = new Map<string, tf.Tensor>();
    for (const t of generateRandomWeights(config, 3)) {
      weights.set(t.name, tf.tensor(t.data, t.shape, 'float32'));
    }
    const targets = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
    const adapter = LoraAdapter.create(config, { rank: 4, alpha: 8, targets, seed: 5 });
    for (const [i, m] of [...adapter.modules.values()].entries()) {
      const noise = tf.tensor2d(seededArray(m.b.size, 60 + i, 0.5), m.b.shape);
      m.b.assign(noise);
      noise.dispose();
    }
    const model = new CausalLM(config, weights, adapter, {
      checkpointLayers: true,
      checkpointChunkTokens: T,
    });
    const ids = Array.from({ length: B * T }, (_, i) => (i * 7919) % config.vocabSize);
    const { value, grads } = tf.variableGrads(() => {
      const lp = model.targetLogprobs(
        tf.tensor2d(ids, [B, T], 'int32'),
        tf.tensor2d(
          ids.map((x) => (x * 31 + 5) % config.vocabSize),
          [B, T],
          'int32',
        ),
      );
      return tf.sum(lp) as tf.Scalar;
    }, adapter.variables);
    const out = {
      loss: (await value.data())[0]!,
      grads: await Promise.all(
        adapter.variables.map(async (v) => Array.from(await grads[v.name]!.data())),
      ),
    };
    tf.dispose([value, ...Object.values(grads)]);
    adapter.dispose();
    tf.dispose([...weights.values()]);
    return out;
  }

  it('gives the cpu backend loss and LoRA gradients on wasm', async () => {
    const cpu = await step('cpu');
    const wasm = await step('wasm');
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-4 * Math.abs(cpu.loss));
    // float32 on both sides over 16k-wide sums: 3.3e-3 with the block paths turned off, 2.6e-3 on;
    // a block dropped or added twice gives errors of order 1.
    const worst = Math.max(...cpu.grads.map((g, i) => maxRelError(wasm.grads[i]!, g)));
    expect(worst).toBeLessThan(1e-2);
  });
});
