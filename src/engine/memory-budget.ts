/**
 * Memory: what a request would allocate, estimated from the model config and the request's sizes
 * before anything is allocated, and the backend's budget to check it against. A request that
 * cannot fit (num_samples × a long context, a huge topk_prompt_logprobs, a batch of long
 * sequences) is a `ValidationError` that names the figures, the limit and the fix, instead of an
 * out-of-memory crash of the tab, the wasm heap or the GPU process.
 *
 * The estimates are lower bounds of the dominant terms, in bytes, at `ELEMENT_BYTES` per element
 * (float32 tensors everywhere today): they refuse what cannot fit, they do not promise that what
 * passes fits. Each names its largest single tensor too, which a WebGPU buffer must hold whole.
 * Sources of each term are in the functions' comments (the shapes are the model code's).
 *
 * Budgets (`backendBudget`): the wasm heap's hard limit (tfjs-backend-wasm 4.22's getHeapMax(),
 * 4 GiB − 64 KiB); elsewhere half the device's memory as the browser reports it
 * (`navigator.deviceMemory`, GiB, capped at 8 by browsers), or the engine's own figure where it
 * knows better (Node: half of `os.totalmem()`, see node-engine.ts). WebGPU does not report its
 * memory; its budget is the same host figure, and its per-buffer limits bound the largest tensor.
 * Device budgets for WebGPU are meant to be added here (the webgpu work, issue 13). The plan of a
 * whole LoRA run before download (weights as held, adapter, optimizer, a step) is memory-plan.ts.
 */
import { ValidationError } from '../errors/loops-errors';
import type { ModelConfig } from '../model/config';
import { expectedTensors, layerProjections, unembedProjection } from '../model/weight-names';
import type { ProjectionName } from '../model/weight-names';
import type { BackendReport } from '../runtime/backend';

/** Bytes per tensor element (float32 weights, activations, caches and moments). */
export const ELEMENT_BYTES = 4;
/** The wasm backend's heap limit: tfjs-backend-wasm 4.22 `getHeapMax()` (65536 × 65535). */
export const WASM_HEAP_BYTES = 4294901760;
/** Host memory assumed when the platform reports none (browsers without navigator.deviceMemory). */
export const DEFAULT_HOST_BYTES = 8 * 2 ** 30;
/**
 * Bytes of one [token_id, logprob] pair in `topk_prompt_logprobs` as JavaScript holds it: a
 * two-element array (object header, elements store, two doubles) ≈ 56 bytes in V8, plus the
 * structured-clone copy that crosses to the page: counted as 64 per pair.
 */
export const TOPK_PAIR_BYTES = 64;
/** Tokens a checkpointed block runs over at a time (causal-lm.ts's CHECKPOINT_CHUNK_TOKENS). */
const CHECKPOINT_GROUP_TOKENS = 256;

/** What one request needs: total bytes beyond what is allocated now, and its largest tensor. */
export interface MemoryEstimate {
  readonly bytes: number;
  readonly largestTensor: number;
  /** The terms, in words, for the error message. */
  readonly detail: string;
}

export interface MemoryBudget {
  /** Bytes the engine's tensors may hold in all (what is in use counts against it). */
  readonly bytes: number;
  /** The largest single tensor (a WebGPU buffer's limits); Infinity where there is none. */
  readonly maxTensorBytes: number;
  /** Where the figure comes from, for messages. */
  readonly source: string;
}

/** Float32 bytes of the base weights (every tensor `expectedTensors` lists). */
export function weightBytes(config: ModelConfig): number {
  return expectedTensors(config).reduce(
    (sum, t) => sum + ELEMENT_BYTES * t.shape.reduce((a, b) => a * b, 1),
    0,
  );
}

/** Bytes of a LoRA adapter: A [r, in] + B [out, r] for every targeted projection. */
export function adapterBytes(
  config: ModelConfig,
  rank: number,
  targets: readonly ProjectionName[],
): number {
  const wanted = new Set(targets);
  let elements = 0;
  for (let i = 0; i < config.numLayers; i++) {
    for (const p of layerProjections(config, i))
      if (wanted.has(p.projection)) elements += rank * (p.inFeatures + p.outFeatures);
  }
  if (wanted.has('lm_head')) {
    const head = unembedProjection(config);
    elements += rank * (head.inFeatures + head.outFeatures);
  }
  return ELEMENT_BYTES * elements;
}

/** Bytes of AdamW's state for an adapter: the moments m and v, each the adapter's size. */
export function optimizerBytes(
  config: ModelConfig,
  rank: number,
  targets: readonly ProjectionName[],
): number {
  return 2 * adapterBytes(config, rank, targets);
}

/**
 * One forward + backward over `batch` sequences of `seq` tokens, at the least the engine can do it
 * with (activation checkpointing, causal-lm.ts): one [B, T, C] block input kept per layer, then per
 * group of sequences (≈ 256 tokens, at least one sequence) one block's activations (about 10
 * vectors of width C and 4 of width F per token) and its attention scores and probabilities
 * [g, H, T, T] twice (forward and gradient).
 */
export function trainingStepBytes(config: ModelConfig, batch: number, seq: number): MemoryEstimate {
  const { hiddenSize: C, intermediateSize: F, numHeads: H, numLayers: L } = config;
  const group = Math.min(batch, Math.max(1, Math.floor(CHECKPOINT_GROUP_TOKENS / seq)));
  const inputs = L * batch * seq * C;
  const block = group * seq * (10 * C + 4 * F);
  const scores = group * H * seq * seq; // [g, H, T, T]
  return estimate(
    inputs + block + 4 * scores,
    Math.max(scores, batch * seq * C),
    `${batch} × ${seq} tokens: ${L} saved block inputs [${batch}, ${seq}, ${C}] and attention ` +
      `scores [${group}, ${H}, ${seq}, ${seq}] at least`,
  );
}

/**
 * One forward over a prompt of `length` tokens, batch 1 (compute_logprobs, prompt log-probs, the
 * prefill of sampling): attention scores, masked scores and probabilities [1, H, T, T], the causal
 * mask [T, T], one block's activations.
 */
export function promptForwardBytes(config: ModelConfig, length: number): MemoryEstimate {
  const { hiddenSize: C, intermediateSize: F, numHeads: H } = config;
  const scores = H * length * length;
  return estimate(
    3 * scores + length * length + length * (10 * C + 4 * F),
    scores,
    `a forward over ${length} prompt tokens: attention scores [1, ${H}, ${length}, ${length}]`,
  );
}

/**
 * Sampling `numSamples` sequences of up to `positions` positions (prompt + generated): the KV cache
 * K and V [N, K, S, D] per layer (kv-cache.ts), with one layer's copy while it grows by
 * concatenation, and the [N, V] logits of a step; plus the prompt's forward.
 */
export function samplingBytes(
  config: ModelConfig,
  numSamples: number,
  promptLength: number,
  positions: number,
): MemoryEstimate {
  const { numLayers: L, numKvHeads: K, headDim: D, vocabSize: V } = config;
  const perLayer = 2 * numSamples * K * positions * D; // K and V [N, K, S, D]
  const cache = L * perLayer + perLayer;
  const prefill = promptForwardBytes(config, promptLength);
  return estimate(
    cache + numSamples * V,
    Math.max(perLayer / 2, numSamples * V),
    `${numSamples} samples × ${positions} positions: a KV cache of ${L} layers × 2 × ` +
      `[${numSamples}, ${K}, ${positions}, ${D}]`,
    prefill,
  );
}

/** `topk_prompt_logprobs = k` on a prompt of `length` tokens: (T − 1)·k pairs as JS arrays. */
export function topkPromptBytes(config: ModelConfig, length: number, k: number): MemoryEstimate {
  const kk = Math.min(k, config.vocabSize);
  const pairs = Math.max(0, length - 1) * kk;
  return {
    bytes: pairs * TOPK_PAIR_BYTES,
    largestTensor: 0,
    detail: `topk_prompt_logprobs ${k} over ${length} prompt tokens: ${pairs} [token, logprob] pairs`,
  };
}

/** The budget of the backend in `report`; `hostBytes` overrides the host memory figure. */
export function backendBudget(report: BackendReport, hostBytes?: number | null): MemoryBudget {
  const host = hostBytes ?? deviceMemoryBytes();
  const half = host === null ? DEFAULT_HOST_BYTES / 2 : host / 2;
  const hostSource =
    hostBytes != null
      ? 'half the host memory'
      : host === null
        ? 'an assumed 8 GiB host (the platform reports none), halved'
        : 'half the device memory the browser reports';
  if (report.backend === 'wasm') {
    return {
      bytes: Math.min(WASM_HEAP_BYTES, half),
      maxTensorBytes: Infinity,
      source: half < WASM_HEAP_BYTES ? hostSource : 'the wasm heap limit of 4 GiB',
    };
  }
  const limits = report.backend === 'webgpu' ? report.adapter?.limits : undefined;
  const maxTensorBytes = limits
    ? Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity)
    : Infinity;
  return { bytes: half, maxTensorBytes, source: hostSource };
}

/**
 * Throws a `ValidationError` when `need` cannot fit: its bytes plus `inUse` (what the engine's
 * tensors hold now) over the budget, or its largest tensor over the per-tensor limit.
 */
export function checkMemory(
  what: string,
  need: MemoryEstimate,
  budget: MemoryBudget,
  inUse: number,
  fix: string,
): void {
  if (need.largestTensor > budget.maxTensorBytes) {
    throw new ValidationError(
      `${what}: ${need.detail} needs a single tensor of ${gib(need.largestTensor)}, over this ` +
        `device's largest buffer of ${gib(budget.maxTensorBytes)}; ${fix}`,
    );
  }
  if (need.bytes + inUse > budget.bytes) {
    throw new ValidationError(
      `${what}: ${need.detail} need about ${gib(need.bytes)}, and the engine holds ` +
        `${gib(inUse)} already, over its memory budget of ${gib(budget.bytes)} ` +
        `(${budget.source}); ${fix}`,
    );
  }
}

/** `navigator.deviceMemory` in bytes, where the platform reports it. */
function deviceMemoryBytes(): number | null {
  const gb = (globalThis as { navigator?: { deviceMemory?: unknown } }).navigator?.deviceMemory;
  return typeof gb === 'number' && gb > 0 ? gb * 2 ** 30 : null;
}

function estimate(
  elements: number,
  largestElements: number,
  detail: string,
  plus?: MemoryEstimate,
): MemoryEstimate {
  return {
    bytes: ELEMENT_BYTES * elements + (plus?.bytes ?? 0),
    largestTensor: Math.max(ELEMENT_BYTES * largestElements, plus?.largestTensor ?? 0),
    detail,
  };
}

/** Bytes in GiB (≥ 1 GiB) or MiB, one decimal, for messages. */
export function gib(bytes: number): string {
  return bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
    : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
