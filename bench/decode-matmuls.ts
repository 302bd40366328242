/**
 * The products one decode step makes, on wasm in Node: C = A·Wᵀ with A one row per sequence and W
 * each weight of a real model (q, k, v, o, gate, up, down per layer, and the tied unembedding),
 * timed two ways in the same run, interleaved: our SIMD kernel (src/runtime/wasm-kernels/
 * skinny-gemm.ts) and XNNPACK's swapped product (W·Aᵀ)ᵀ that the engine used before it. Per
 * shape the fastest of `--reps` calls (the machine is shared: the minimum is the least disturbed),
 * and a per-token total over the model's layers. Prints a table and writes
 * bench/results/<date>-decode-matmuls.json.
 *
 *   node --import tsx bench/decode-matmuls.ts [--model HuggingFaceTB/SmolLM2-135M] [--rows 1,2,4,8]
 *     [--reps 9]
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';
import { parseModelConfig } from '../src/model/config';
import { KNOWN_CONFIGS, type KnownModelId } from '../src/model/known-configs';
import { selectBackend } from '../src/runtime/backend';
import { skinnyGemm } from '../src/runtime/wasm-kernels/skinny-gemm';
import { machineInfo, writeResults } from './lib/results';
import { formatTable } from './lib/table';

interface Shape {
  readonly name: string;
  /** Rows of W (outputs) and its columns (inputs). */
  readonly n: number;
  readonly k: number;
  /** How many of it one token runs through. */
  readonly count: number;
}

function decodeShapes(id: KnownModelId): Shape[] {
  const c = parseModelConfig(KNOWN_CONFIGS[id]);
  const kv = c.numKvHeads * c.headDim;
  const layers = c.numLayers;
  return [
    { name: 'q', n: c.numHeads * c.headDim, k: c.hiddenSize, count: layers },
    { name: 'k, v', n: kv, k: c.hiddenSize, count: 2 * layers },
    { name: 'o', n: c.hiddenSize, k: c.numHeads * c.headDim, count: layers },
    { name: 'gate, up', n: c.intermediateSize, k: c.hiddenSize, count: 2 * layers },
    { name: 'down', n: c.hiddenSize, k: c.intermediateSize, count: layers },
    { name: 'unembedding', n: c.vocabSize, k: c.hiddenSize, count: 1 },
  ];
}

function fastest(reps: number, run: () => void): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string', default: 'HuggingFaceTB/SmolLM2-135M' },
      rows: { type: 'string', default: '1,2,4,8' },
      reps: { type: 'string', default: '9' },
    },
  });
  const model = v.model as KnownModelId;
  if (!(model in KNOWN_CONFIGS)) throw new Error(`--model: one of ${Object.keys(KNOWN_CONFIGS)}`);
  await selectBackend('wasm');
  const backend = tf.backend() as unknown as BackendWasm;
  const reps = Number(v.reps);
  const rows = [];
  for (const m of v.rows.split(',').map(Number)) {
    let oursTotal = 0;
    let swapTotal = 0;
    for (const s of decodeShapes(model)) {
      const a = tf.randomNormal([m, s.k]) as tf.Tensor2D; // [M, K]
      const w = tf.randomNormal([s.n, s.k]) as tf.Tensor2D; // [N, K]
      const out = backend.makeOutput([m, s.n], 'float32'); // [M, N]
      const ours = fastest(reps, () => {
        if (!skinnyGemm(backend, a, w, out, m, s.n, s.k)) throw new Error('kernel declined');
      });
      const swap = fastest(reps, () => {
        const c = tf.tidy(() => tf.transpose(tf.matMul(w, a, false, true))); // [M, N]
        c.dataSync();
        c.dispose();
      });
      tf.dispose([a, w, tf.engine().makeTensorFromTensorInfo(out)]);
      oursTotal += ours * s.count;
      swapTotal += swap * s.count;
      rows.push({
        m,
        shape: `${s.name} ${s.n}×${s.k}`,
        count: s.count,
        ours,
        swap,
        x: swap / ours,
      });
    }
    rows.push({
      m,
      shape: 'per token, all layers',
      count: null,
      ours: oursTotal,
      swap: swapTotal,
      x: swapTotal / oursTotal,
    });
  }
  const columns = [
    { key: 'm', title: 'rows of A', digits: 0 },
    { key: 'shape', title: 'W (N×K)' },
    { key: 'count', title: 'per token', digits: 0 },
    { key: 'ours', title: 'skinny ms', digits: 2 },
    { key: 'swap', title: 'XNNPACK swap ms', digits: 2 },
    { key: 'x', title: 'swap / skinny', digits: 2 },
  ];
  console.log(`\nDecode products of ${model} on wasm (Node), fastest of ${reps}\n`);
  console.log(formatTable(columns, rows));
  console.log(
    `\nwrote ${writeResults('decode-matmuls', { machine: machineInfo(), model, reps, rows })}`,
  );
}

await main();
