/**
 * Plain data that crosses the engine boundary. Names of Loops fields stay snake_case where the
 * value goes straight to the public API; internal fields are camelCase.
 */
import type { Checkpoint, ServerCapabilities } from './responses';

export type { Checkpoint };
export interface SamplingParamsFields {
  max_tokens: number | null;
  temperature: number;
  top_p: number;
  top_k: number;
  seed: number | null;
  stop: string | readonly string[] | readonly number[] | null;
}

export interface AdamParamsFields {
  learning_rate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  grad_clip_norm: number;
}

export type AdamWire = AdamParamsFields;
export type SamplingParamsWire = SamplingParamsFields;
export type ServerCapabilitiesWire = ServerCapabilities;

/** Tokenizer files as JSON, so the page can tokenize synchronously without the engine. */
export interface TokenizerFiles {
  readonly tokenizerJson: unknown;
  readonly tokenizerConfig: unknown;
}

export interface LoadProgress {
  readonly phase: 'download' | 'weights' | 'ready';
  readonly file?: string;
  readonly loaded: number;
  readonly total: number | null;
}

export interface CreateRunRequest {
  readonly baseModel: string;
  readonly rank: number;
  readonly seed: number | null;
  readonly trainMlp: boolean;
  readonly trainAttn: boolean;
  readonly trainUnembed: boolean;
  readonly loraAlpha: number | null;
  readonly maxSeqLen: number | null;
  readonly hubUrl: string;
  /** Start from a `save_state` checkpoint instead of a fresh adapter. */
  readonly fromState: { readonly path: string; readonly withOptimizer: boolean } | null;
}

/** What `load_state` / `load_state_with_optimizer` leave the run at. */
export interface LoadStateResult {
  readonly path: string;
  /** 0 after `load_state` (a fresh optimizer); the checkpoint's step with the optimizer. */
  readonly policy_version: number;
  /** The checkpoint's rank, which the run's adapter now has. */
  readonly lora_rank: number;
}

export interface ModelFacts {
  readonly baseModel: string;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly eosTokenIds: readonly number[];
  readonly tokenizer: TokenizerFiles;
}

export interface RunInfo extends ModelFacts {
  readonly runId: string;
  readonly loraRank: number;
  readonly maxSeqLen: number;
  readonly policyVersion: number;
}

/** A datum as the engine sees it: tokens and loss inputs as typed arrays (target_tokens int32). */
export interface WireDatum {
  readonly tokens: Int32Array;
  readonly inputs: Readonly<Record<string, Float32Array | Int32Array>>;
}

export interface WireForwardResult {
  readonly loss: number;
  readonly metrics: Record<string, number>;
  /** Per datum, the target log-probs (length N of that datum). */
  readonly logprobs: Float32Array[];
}

export type CreateSamplerRequest =
  | { readonly kind: 'run'; readonly runId: string; readonly name: string | null }
  | { readonly kind: 'checkpoint'; readonly path: string; readonly hubUrl: string }
  | { readonly kind: 'base'; readonly baseModel: string; readonly hubUrl: string };

export interface SamplerInfo extends ModelFacts {
  readonly samplerId: string;
  readonly policyVersion: number;
  /** Set when the snapshot was also saved (save_weights_and_get_sampling_client with a name). */
  readonly path: string | null;
}

export interface SampleRequest {
  readonly samplerId: string;
  readonly prompt: Int32Array;
  readonly numSamples: number;
  readonly params: SamplingParamsWire;
  readonly includePromptLogprobs: boolean;
  readonly topkPromptLogprobs: number;
}

export interface WireSampleResult {
  readonly sequences: { tokens: number[]; logprobs: number[]; stop_reason: 'stop' | 'length' }[];
  readonly policy_version: number;
  readonly prompt_logprobs: (number | null)[] | null;
  readonly topk_prompt_logprobs: ([number, number][] | null)[] | null;
}

export interface WireCheckpointFile {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly lastModified: string;
  /** The checkpoint the file belongs to: its id and its path. */
  readonly checkpointId: string;
  readonly checkpointPath: string;
}

export interface ImportAdapterRequest {
  readonly baseModel: string;
  readonly hubUrl: string;
  /** `adapter_model.safetensors` bytes. */
  readonly weights: Uint8Array;
  /** `adapter_config.json`, parsed. */
  readonly config: unknown;
  readonly name: string;
}
