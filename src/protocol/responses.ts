/**
 * Result types of the Loops API as the page receives them (shared/LOOPS_API.md, "Types").
 * Plain interfaces: values are built by the clients from the engine's wire results.
 */

export interface OptimStepResponse {
  readonly metrics: Readonly<Record<string, number>>;
}

export interface SaveWeightsResponse {
  readonly path: string;
}
export type SaveWeightsForSamplerResponse = SaveWeightsResponse;
export type LoadWeightsResponse = SaveWeightsResponse;

export interface InitTrainerServerResponse {
  readonly lora_rank: number;
  readonly policy_version: number;
}

export interface SampledSequence {
  /** Generated tokens only; a token-id stop is included, a string stop is not. */
  readonly tokens: readonly number[];
  /** Log-prob of each returned token under the model (temperature 1, before top-k/top-p). */
  readonly logprobs: readonly number[];
  readonly stop_reason: 'stop' | 'length';
}

export interface SampleResult {
  readonly sequences: readonly SampledSequence[];
  readonly policy_version: number;
  /** One entry per prompt token (first null); null when not requested. */
  readonly prompt_logprobs: readonly (number | null)[] | null;
  /** Per prompt position, [token_id, logprob] pairs (first null); null when not requested. */
  readonly topk_prompt_logprobs: readonly (readonly (readonly [number, number])[] | null)[] | null;
}

export interface LoraAdapterConfig {
  readonly r: number;
  readonly lora_alpha: number;
  readonly target_modules: readonly string[];
}

export interface Checkpoint {
  readonly id: string;
  readonly checkpoint_id: string;
  readonly checkpoint_type: 'lora';
  readonly target: 'trainer' | 'sampler';
  readonly path: string;
  readonly base_model: string;
  readonly lora_adapter_config: LoraAdapterConfig;
  readonly size_bytes: number;
  readonly created_at: string;
  readonly run_id: string;
  /** Optimiser step (policy version) at save time. */
  readonly step: number;
}

export interface CheckpointFile {
  readonly url: string;
  readonly relative_file_name: string;
  readonly node_rank: number;
  readonly size_bytes: number;
  readonly last_modified: string;
}

export interface CheckpointFilesResponse {
  readonly presigned_urls: readonly CheckpointFile[];
  readonly total_count: number;
  readonly next_page_token: number | null;
}

export interface SupportedModel {
  readonly model_name: string;
  readonly max_context_length: number;
  /** Shipped with the app (no download needed). */
  readonly shipped: boolean;
}

export interface ServerCapabilities {
  readonly supported_models: readonly SupportedModel[];
  /** The engine's backend and WebGPU adapter: this engine's "GPU class". */
  readonly backend: string;
  readonly adapter: {
    readonly vendor: string;
    readonly architecture: string;
    readonly description: string;
    readonly limits: Readonly<Record<string, number>>;
  } | null;
}

export interface GetInfoResponse {
  readonly base_model: string;
  readonly lora_rank: number;
  readonly max_seq_len: number;
  readonly run_id: string;
}
