/**
 * The GPU memory plan of a LoRA run, from the model config alone, before anything is downloaded:
 * the base weights as they will be held (float32, or bf16 pairs for what the webgpu loader packs:
 * frozen projections and vocab tables, io/weights-loader.ts), the adapter, AdamW's moments and one
 * training step; and why such a plan will not run on a device (`planProblems`). The lab shows it
 * and refuses a model that will not fit (src/app/model-catalog.ts). Per-request checks are
 * memory-budget.ts.
 */
import type { ModelConfig } from '../model/config';
import { expectedTensors, layerProjections } from '../model/weight-names';
import type { ProjectionName } from '../model/weight-names';
import {
  adapterBytes,
  ELEMENT_BYTES,
  gib,
  trainingStepBytes,
  type MemoryBudget,
} from './memory-budget';

/** The buffer limits of a WebGPU device, as the backend report gives them (bytes). */
export interface DeviceBufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** What `modelMemoryPlan` needs to know of the run. */
export interface ModelPlanOptions {
  /** LoRA rank and targets (`targetsFor`). */
  readonly rank: number;
  readonly targets: readonly ProjectionName[];
  /** A training step of `batch` sequences of `seq` tokens. */
  readonly batch: number;
  readonly seq: number;
  /**
   * Frozen weights held as packed bf16 pairs (webgpu with our kernels, a BF16 file: 2 bytes per
   * element instead of 4): the projection weights, and the vocab tables (embedding, untied
   * lm_head) when the hidden size is even; norms, biases and GPT-2's positions stay float32.
   */
  readonly packedProjections: boolean;
  /**
   * The run is on the wasm backend, whose row kernels (runtime/wasm-kernels/logits-rows.ts) hold
   * one [n, V] logits tensor a chunk, in chunks of WASM_CHUNK_FLOATS. Default false.
   */
  readonly wasm?: boolean;
}

/** target-logprobs.ts's CHUNK_FLOATS.wasm (mirrored: this module stays free of TF.js). */
export const WASM_CHUNK_FLOATS = 2 ** 23;

/** GPU bytes a model needs, by part, before anything is loaded. */
export interface ModelMemoryPlan {
  /** Base weights as they are held (float32, or packed bf16 projections and vocab tables). */
  readonly weights: number;
  /** LoRA A and B, float32. */
  readonly adapter: number;
  /** AdamW's moments m and v. */
  readonly optimizer: number;
  /**
   * One training step at batch × seq: the checkpointed activations (`trainingStepBytes`), the
   * adapter's gradients, and the unembedding's chunked logits (six [n, V] tensors at once on
   * stock ops; one with our kernels: in chunks of half the rows on webgpu, as packing implies, and
   * of WASM_CHUNK_FLOATS on wasm).
   */
  readonly step: number;
  readonly total: number;
  /** The largest tensor that cannot be split (every one but the vocab tables), and its bytes. */
  readonly largestTensor: { readonly name: string; readonly bytes: number };
  /** lm_head's LoRA B [V, r] (0 when lm_head is not a target): one buffer. */
  readonly unembedLoraBytes: number;
  /** One row of a vocab table as held (C·4, or C·2 packed): the smallest part there can be. */
  readonly vocabRowBytes: number;
}

/**
 * Bytes of the base weights: `expectedTensors` at 4 bytes each, or 2 for the frozen projection
 * weights and vocab tables when they are packed (`packedProjections`).
 */
export function heldWeightBytes(config: ModelConfig, packedProjections: boolean): number {
  const packed = packedProjections ? packedWeightNames(config) : new Set<string>();
  return expectedTensors(config).reduce(
    (sum, t) => sum + (packed.has(t.name) ? 2 : 4) * t.shape.reduce((a, b) => a * b, 1),
    0,
  );
}

/**
 * The GPU bytes a LoRA run on `config` needs, estimated from the config before any download.
 * Sources of each term: weights and adapter count their tensors; the optimizer is AdamW's two
 * moments; the step is `trainingStepBytes` (its lower bound with checkpointed blocks) + the
 * adapter's gradients + target-logprobs.ts's chunk: min(B·T, chunk rows) × V floats, six at once
 * (one packed or on wasm).
 */
export function modelMemoryPlan(config: ModelConfig, options: ModelPlanOptions): ModelMemoryPlan {
  const { rank, targets, batch, seq, packedProjections } = options;
  const weights = heldWeightBytes(config, packedProjections);
  const adapter = adapterBytes(config, rank, targets);
  const optimizer = 2 * adapter;
  const V = config.vocabSize;
  // target-logprobs.ts defaultChunkRows: six [n, V] tensors at once on stock ops; with our
  // kernels one: on webgpu (what packing implies) in chunks of half the rows.
  const floats = packedProjections ? 2 ** 21 : options.wasm ? WASM_CHUNK_FLOATS : 2 ** 22;
  const chunkRows = Math.max(1, Math.floor(floats / V));
  const ours = packedProjections || options.wasm === true;
  const logits = (ours ? 1 : 6) * ELEMENT_BYTES * Math.min(batch * seq, chunkRows) * V;
  const step = trainingStepBytes(config, batch, seq).bytes + adapter + logits;
  const tables = new Set(vocabNames(config));
  const packed = packedProjections ? packedWeightNames(config) : new Set<string>();
  let largestTensor = { name: '', bytes: 0 };
  for (const t of expectedTensors(config)) {
    if (tables.has(t.name)) continue;
    const bytes = (packed.has(t.name) ? 2 : 4) * t.shape.reduce((a, b) => a * b, 1);
    if (bytes > largestTensor.bytes) largestTensor = { name: t.name, bytes };
  }
  const unembedLoraBytes = targets.includes('lm_head') ? ELEMENT_BYTES * V * rank : 0;
  return {
    weights,
    adapter,
    optimizer,
    step,
    total: weights + adapter + optimizer + step,
    largestTensor,
    unembedLoraBytes,
    vocabRowBytes: (packed.has(vocabNames(config)[0] ?? '') ? 2 : 4) * config.hiddenSize,
  };
}

/**
 * Why `plan` will not run under `budget` and the device's buffer `limits` (null: none, as on
 * wasm and cpu), in words with the figures and the fix; empty when it fits. A vocab-table row
 * wider than the limit, any other tensor over it, lm_head's LoRA B over it, or the total over the
 * budget.
 */
export function planProblems(
  config: ModelConfig,
  plan: ModelMemoryPlan,
  budget: MemoryBudget,
  limits: DeviceBufferLimits | null,
): string[] {
  const problems: string[] = [];
  if (limits) {
    const cap = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
    const row = plan.vocabRowBytes;
    if (row > cap) {
      problems.push(
        `one row of the ${config.vocabSize}-token embedding is ${gib(row)}, over this ` +
          `device's largest buffer of ${gib(cap)}, so it cannot be split to fit; use the wasm backend.`,
      );
    }
    if (plan.largestTensor.bytes > cap) {
      problems.push(
        `tensor ${plan.largestTensor.name} needs ${gib(plan.largestTensor.bytes)}, over this ` +
          `device's largest buffer of ${gib(cap)}; pick a smaller model or the wasm backend.`,
      );
    }
    if (plan.unembedLoraBytes > cap) {
      problems.push(
        `lm_head's LoRA B [${config.vocabSize}, r] needs ${gib(plan.unembedLoraBytes)}, over ` +
          `this device's largest buffer of ${gib(cap)}; lower the rank or do not train the unembedding.`,
      );
    }
  }
  if (plan.total > budget.bytes) {
    problems.push(
      `it needs about ${gib(plan.total)} (weights ${gib(plan.weights)}, adapter and optimizer ` +
        `${gib(plan.adapter + plan.optimizer)}, a training step ${gib(plan.step)}), over the ` +
        `memory budget of ${gib(budget.bytes)} (${budget.source}); pick a smaller model.`,
    );
  }
  return problems;
}

/** The [V, C] tables: the embedding, and lm_head when untied (weight-parts.ts's list). */
function vocabNames(config: ModelConfig): string[] {
  const embedding = config.family === 'gpt2' ? 'wte.weight' : 'model.embed_tokens.weight';
  return config.tieWordEmbeddings || config.family === 'gpt2'
    ? [embedding]
    : [embedding, 'lm_head.weight'];
}

/**
 * Weight names a packed load holds as bf16 pairs: the frozen projections, and the vocab tables
 * when a row is whole words (io/weights-loader.ts's rule).
 */
function packedWeightNames(config: ModelConfig): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < config.numLayers; i++)
    for (const p of layerProjections(config, i)) names.add(`${p.path}.weight`);
  if (config.hiddenSize % 2 === 0) for (const name of vocabNames(config)) names.add(name);
  return names;
}
