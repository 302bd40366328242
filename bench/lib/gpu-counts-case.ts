/**
 * One case of bench/gpu-counts.ts, run in its own process: a model on random weights, loaded the
 * engine's way on TF.js's webgpu backend (Dawn in Node), with our kernels on or off, and the work
 * of its first step (pipelines created from the load to the first `optim_step`), of one counted
 * `forward_backward` + `optim_step` and of one decode step, counted by `countGpuWork`.
 */
import * as tf from '@tensorflow/tfjs';
import type { TextTokenizer } from '../../src/core/tokenizer';
import type { LoadedModel } from '../../src/engine/model-registry';
import { Run } from '../../src/engine/run';
import { Sampler } from '../../src/engine/sampler';
import { compileOnlyWindow } from '../../src/engine/warm-up';
import type { FloatDtype } from '../../src/io/dtype';
import { writeSafetensors } from '../../src/io/safetensors-writer';
import { SINGLE_FILE, loadWeights } from '../../src/io/weights-loader';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../../src/lora/adapter';
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import { KNOWN_CONFIGS, type HfConfigJson } from '../../src/model/known-configs';
import { generateRandomWeights } from '../../src/model/random-weights';
import { ADAM_DEFAULTS } from '../../src/optim/adamw';
import type { WireDatum } from '../../src/protocol/wire-types';
import { currentGpuDevice } from '../../src/runtime/backend';
import { webgpuBackend } from '../../src/runtime/webgpu/backend-internals';
import { countGpuWork, type GpuWork } from '../../src/runtime/webgpu/counters';
import { gpuKernelsActive, setGpuKernelsEnabled } from '../../src/runtime/webgpu-kernels';
import { FIXTURE_CONFIG } from '../../tests/helpers/fixture-model-dir';
import { startDawnWebGpu } from './dawn';
import { randomTokens } from './lora-step';
import { PEER_CONFIGS, peerGpt2Config } from './peer-configs';
import { disposeWeights } from './random-model';

export const RANK = 8;
export const BATCH = 4;
export const SEQ = 64;
export const PROMPT = 16;
/** Decode steps counted per sampling call (max_tokens DECODE + 1 against max_tokens 1). */
export const DECODE = 4;
const SEED = 7;
const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M';

/** fixture: the tiny Llama; smollm2: SmolLM2-135M's shape; peer-i: bench:peer's config (i). */
export const MODELS = ['fixture', 'smollm2', 'peer-i'] as const;
export type ModelName = (typeof MODELS)[number];

export interface CaseSpec {
  readonly model: ModelName;
  readonly layers: number;
  readonly kernels: boolean;
  /** Counted in TF.js's compile-only mode (nothing runs; see bench/gpu-counts.ts) instead of for real. */
  readonly compileOnly: boolean;
}

export interface DecodeCounts {
  readonly batch: number;
  /** Decode steps the difference covers (each makes `batch` tokens). */
  readonly steps: number;
  /** (work of max_tokens steps + 1) − (work of max_tokens 1), divided by steps. */
  readonly perStep: GpuWork;
  readonly earlyStops: number;
}

export interface CaseResult extends CaseSpec {
  readonly adapter: string;
  readonly config: { hidden: number; vocab: number; layers: number; fullLayers: number };
  /** Stored dtype of the random checkpoint (bench:peer serves F32; the Hub's models are BF16). */
  readonly checkpointDtype: FloatDtype;
  /**
   * From the backend's start to the first step's end: the model load, the adapter, the first
   * `forward_backward` and `optim_step` (cold process). Its `pipelines` are the figure of issue 12's
   * time to first step: every one is a shader compile before the first step's loss.
   */
  readonly firstStep: GpuWork;
  /**
   * Seconds spent in synchronous `createComputePipeline` calls (ours and TF.js's) during the first
   * step, on this adapter (in compile-only mode pipelines are created asynchronously: not timed).
   */
  readonly firstStepCompileSeconds: number;
  readonly forwardBackward: GpuWork;
  readonly optimStep: GpuWork;
  readonly decode: DecodeCounts[];
  readonly weightsFloat32Bytes: number;
  /** TF.js webgpu buffer pool after the counted step (its high-water mark so far). */
  readonly gpuBytesAllocatedAfterStep: number;
  /** Bytes held by live tensors after the step. */
  readonly gpuBytesInUseAfterStep: number;
  readonly wallSeconds: number;
}

function baseConfig(model: ModelName): HfConfigJson {
  if (model === 'fixture') return FIXTURE_CONFIG;
  if (model === 'smollm2') return KNOWN_CONFIGS[SMOLLM2] as HfConfigJson;
  return peerGpt2Config(PEER_CONFIGS.i!) as unknown as HfConfigJson;
}

/** The model's layer count when not reduced. */
export function fullLayers(model: ModelName): number {
  const base = baseConfig(model);
  return (base.num_hidden_layers ?? base.n_layer) as number;
}

function rawConfig(model: ModelName, layers: number): HfConfigJson {
  const base = baseConfig(model);
  const key = model === 'peer-i' ? 'n_layer' : 'num_hidden_layers';
  return { ...base, [key]: layers };
}

function batchData(config: ModelConfig): WireDatum[] {
  return Array.from({ length: BATCH }, (_, b) => {
    const ids = randomTokens(SEQ + 1, config.vocabSize, SEED + b);
    return {
      tokens: Int32Array.from(ids.slice(0, SEQ)),
      inputs: { target_tokens: Int32Array.from(ids.slice(1)) },
    };
  });
}

const minus = (a: GpuWork, b: GpuWork, k: number): GpuWork => {
  const names = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(
      [...new Set([...Object.keys(x), ...Object.keys(y)])]
        .map((n) => [n, ((x[n] ?? 0) - (y[n] ?? 0)) / k] as const)
        .filter(([, v]) => v !== 0),
    );
  return {
    dispatches: (a.dispatches - b.dispatches) / k,
    ours: names(a.ours, b.ours),
    stock: names(a.stock, b.stock),
    uploads: (a.uploads - b.uploads) / k,
    uploadBytes: (a.uploadBytes - b.uploadBytes) / k,
    readbacks: (a.readbacks - b.readbacks) / k,
    pipelines: {
      ours: names(a.pipelines.ours, b.pipelines.ours),
      stock: names(a.pipelines.stock, b.pipelines.stock),
    },
  };
};

/** Decoding needs no text: the counts never look at it. */
const NO_TEXT = { decode: () => '' } as unknown as TextTokenizer;

async function decodeCounts(sampler: Sampler, config: ModelConfig, batch: number) {
  const prompt = Int32Array.from(randomTokens(PROMPT, config.vocabSize, SEED));
  const request = (maxTokens: number) => ({
    samplerId: sampler.id,
    prompt,
    numSamples: batch,
    params: { max_tokens: maxTokens, temperature: 1, top_p: 1, top_k: -1, seed: SEED, stop: null },
    includePromptLogprobs: false,
    topkPromptLogprobs: 0,
  });
  await sampler.sample(request(2)); // first call: pipelines, first allocations
  const one = await countGpuWork(() => sampler.sample(request(1)));
  const full = await countGpuWork(() => sampler.sample(request(DECODE + 1)));
  const lengths = full.result.sequences.map((s) => s.tokens.length);
  const steps = Math.max(...lengths) - 1;
  return {
    batch,
    steps,
    perStep: minus(full.work, one.work, Math.max(1, steps)),
    earlyStops: lengths.filter((n) => n < DECODE + 1).length,
  };
}

/**
 * Random weights stored as `dtype` and loaded the engine's way: `loadWeights` with the device's
 * limits, BF16 projections kept as bf16 pairs when our kernels are on (model-registry.ts does the
 * same).
 */
async function loadRandomWeights(config: ModelConfig, dtype: FloatDtype) {
  let parameters = 0;
  const tensors = [...generateRandomWeights(config, SEED)].map((t) => {
    parameters += t.data.length;
    return { ...t, dtype };
  });
  const bytes = writeSafetensors(tensors);
  tensors.length = 0;
  const weights = await loadWeights({
    config,
    readFile: async () => bytes,
    hasFile: async (name) => name === SINGLE_FILE,
    limits: currentGpuDevice()?.limits ?? null,
    packProjections: gpuKernelsActive() ? 'bf16' : false,
  });
  return { weights, float32Bytes: parameters * 4 };
}

/** Sums the wall time of synchronous pipeline creations on the backend's device until `stop`. */
function timeCompiles(): { stop(): number } {
  const device = webgpuBackend()?.device as unknown as Record<string, unknown> | undefined;
  if (!device) return { stop: () => 0 };
  const create = device.createComputePipeline as (d: unknown) => unknown;
  let ms = 0;
  device.createComputePipeline = function (this: unknown, d: unknown) {
    const t0 = performance.now();
    try {
      return create.call(this, d);
    } finally {
      ms += performance.now() - t0;
    }
  };
  return {
    stop: () => {
      delete device.createComputePipeline; // the prototype's again
      return ms / 1000;
    },
  };
}

/** One case, in this process. */
export async function runCase(spec: CaseSpec, log: (line: string) => void): Promise<CaseResult> {
  const t0 = performance.now();
  const adapterName = await startDawnWebGpu();
  setGpuKernelsEnabled(spec.kernels);
  const config = parseModelConfig(rawConfig(spec.model, spec.layers));
  const dtype: FloatDtype = spec.model === 'peer-i' ? 'F32' : 'BF16';
  const window = <T>(fn: () => Promise<T>) => (spec.compileOnly ? compileOnlyWindow(fn) : fn());
  const adam = { ...ADAM_DEFAULTS, learning_rate: 1e-3 };
  const data = batchData(config);
  log('load and first step…');
  const compile = timeCompiles();
  const first = await countGpuWork(async () => {
    const built = await loadRandomWeights(config, dtype);
    // Every weight on the device, as after any real step (compile-only dispatches of our kernels
    // bind nothing, so they would not upload the weights they read).
    const backend = webgpuBackend();
    for (const t of built.weights.values()) backend?.uploadToGPU(t.dataId);
    const base: LoadedModel = {
      name: `${spec.model}-${spec.layers}`,
      config,
      weights: built.weights,
      tokenizer: { tokenizerJson: {}, tokenizerConfig: {} },
    };
    const lora = {
      rank: RANK,
      alpha: DEFAULT_LORA_ALPHA,
      targets: targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: false }),
      seed: SEED,
    };
    const run = new Run(
      'counts',
      base,
      LoraAdapter.create(config, lora),
      config.maxPositions,
      SEED,
    );
    await window(async () => {
      await run.forwardBackward(data, 'cross_entropy', {}, true);
      await run.optimStep(adam);
    });
    return { built, base, run };
  });
  const compileSeconds = compile.stop();
  const { built, base, run } = first.result;
  try {
    return await window(async () => {
      log('counted step…');
      const fb = await countGpuWork(() => run.forwardBackward(data, 'cross_entropy', {}, true));
      const opt = await countGpuWork(() => run.optimStep(adam));
      const memory = tf.memory() as tf.MemoryInfo & {
        numBytesInGPU?: number;
        numBytesAllocatedInGPU?: number;
      };
      log('decoding…');
      const sampler = new Sampler('counts', base, run.adapter.snapshot(), 1, NO_TEXT);
      const decode: DecodeCounts[] = [];
      try {
        for (const batch of [1, 8]) decode.push(await decodeCounts(sampler, config, batch));
      } finally {
        sampler.dispose();
      }
      return {
        ...spec,
        adapter: adapterName,
        config: {
          hidden: config.hiddenSize,
          vocab: config.vocabSize,
          layers: config.numLayers,
          fullLayers: fullLayers(spec.model),
        },
        checkpointDtype: dtype,
        firstStep: first.work,
        firstStepCompileSeconds: compileSeconds,
        forwardBackward: fb.work,
        optimStep: opt.work,
        decode,
        weightsFloat32Bytes: built.float32Bytes,
        gpuBytesAllocatedAfterStep: memory.numBytesAllocatedInGPU ?? Number.NaN,
        gpuBytesInUseAfterStep: memory.numBytesInGPU ?? Number.NaN,
        wallSeconds: (performance.now() - t0) / 1000,
      };
    });
  } finally {
    run.dispose();
    disposeWeights(built.weights);
  }
}
