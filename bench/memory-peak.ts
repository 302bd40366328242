/**
 * Who holds tensor memory at the high-water mark of one LoRA training step (issue 16's peak
 * memory target): the step's peak of distinct buffers against the float32 weights, as
 * `npm run bench:real` measures it, and the buffers alive at that moment grouped by shape.
 *
 *   npm run bench:peak -- [--model smollm2-135m] [--layers 30] [--grid 8x256] [--backend wasm]
 *     [--chunk-rows N]
 *
 * Seeded random weights of a known config (`--layers` overrides its depth: a shallower model
 * shows the same per-layer and unembedding terms in a fraction of the time), LoRA r8 on attention,
 * MLP and lm_head (as bench:real). One untimed step first, then the measured one. Prints a table
 * and writes bench/results/<date>-peak-memory.json.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../src/lora/adapter';
import { CausalLM } from '../src/model/causal-lm';
import { parseModelConfig } from '../src/model/config';
import { KNOWN_CONFIGS, type KnownModelId } from '../src/model/known-configs';
import { selectBackend } from '../src/runtime/backend';
import { registerWasmKernels } from '../src/runtime/wasm-kernels';
import { randomTokens } from './lib/lora-step';
import { trackPeak } from './lib/peak-memory';
import { buildRandomWeights, disposeWeights } from './lib/random-model';
import { machineInfo, writeResults } from './lib/results';
import { formatTable, mib } from './lib/table';

const MODELS: Readonly<Record<string, KnownModelId>> = {
  'smollm2-135m': 'HuggingFaceTB/SmolLM2-135M',
  gpt2: 'openai-community/gpt2',
  'qwen2.5-0.5b': 'Qwen/Qwen2.5-0.5B',
};

const { values: v } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m' },
    layers: { type: 'string' },
    grid: { type: 'string', default: '8x256' },
    backend: { type: 'string', default: 'wasm' },
    'chunk-rows': { type: 'string' },
  },
});
const id = MODELS[v.model];
if (!id) throw new Error(`--model "${v.model}": choose from ${Object.keys(MODELS).join(', ')}.`);
const [B, T] = v.grid.split('x').map(Number) as [number, number];
if (!(B >= 1 && T >= 1)) throw new Error(`--grid "${v.grid}" is not BxT (for example 8x256).`);
if (v.backend !== 'wasm' && v.backend !== 'cpu') throw new Error('--backend: wasm or cpu.');

await selectBackend(v.backend);
if (v.backend === 'wasm') registerWasmKernels();
const raw = KNOWN_CONFIGS[id];
const config = parseModelConfig(
  v.layers ? { ...raw, num_hidden_layers: Number(v.layers), n_layer: Number(v.layers) } : raw,
  id,
);
const built = buildRandomWeights(config, 1234);
const targets = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
const adapter = LoraAdapter.create(config, {
  rank: 8,
  alpha: DEFAULT_LORA_ALPHA,
  targets,
  seed: 1,
});
const options = v['chunk-rows'] ? { chunkRows: Number(v['chunk-rows']) } : {};
const model = new CausalLM(config, built.weights, adapter, options);
const ids = randomTokens(B * (T + 1), config.vocabSize, 1234);
const rows = (from: number) =>
  Array.from({ length: B }, (_, b) => ids.slice(b * (T + 1) + from, b * (T + 1) + from + T));
const tokens = tf.tensor2d(rows(0), [B, T], 'int32');
const next = tf.tensor2d(rows(1), [B, T], 'int32');
const step = async () => {
  const { value, grads } = tf.variableGrads(
    () => tf.sum(model.targetLogprobs(tokens, next)) as tf.Scalar,
    adapter.variables,
  );
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
};

await step();
const before = tf.memory().numBytes;
const peak = await trackPeak(step, { holders: true });
const weights = built.float32Bytes;
const result = {
  model: v.model,
  layers: config.numLayers,
  batch: B,
  seq: T,
  backend: v.backend,
  checkpointed: model.checkpoints(B, T),
  chunkRows: model.chunkRows,
  weightBytes: weights,
  bytesBefore: before,
  peakBufferBytes: peak.peakBufferBytes,
  peakOverWeights: peak.peakBufferBytes / weights,
  holders: peak.holders ?? [],
};
console.log(
  `${v.model}, ${config.numLayers} layers, ${B}×${T}, ${v.backend}: weights ${mib(weights).toFixed(1)} MiB, ` +
    `before the step ${mib(before).toFixed(1)} MiB, peak ${mib(peak.peakBufferBytes).toFixed(1)} MiB ` +
    `(${result.peakOverWeights.toFixed(2)}× the weights; checkpointed ${result.checkpointed}, ` +
    `${model.chunkRows} unembedding rows a chunk)\n`,
);
console.log(
  formatTable(
    [
      { key: 'shape', title: 'alive at the peak (made during the step)' },
      { key: 'count', digits: 0 },
      { key: 'MiB' },
    ],
    result.holders.slice(0, 15).map((h) => ({ shape: h.shape, count: h.count, MiB: mib(h.bytes) })),
  ),
);
console.log(`\nwrote ${writeResults('peak-memory', { machine: machineInfo(), run: result })}`);
tf.dispose([tokens, next]);
adapter.dispose();
disposeWeights(built.weights);
