/**
 * The Tinker protocol's response bodies (tinker 0.24.1, src/tinker/types/*.py and
 * types/_pydantic_types/*.py), and the bodies of loops-web's own routes. Split from
 * tinker-wire.ts (requests), which re-exports these. Types only.
 */
import type { TinkerTensorData } from './tinker-wire';

// ── Responses ────────────────────────────────────────────────────────────────────────────────

/** What every async route answers at once: the handle to poll with retrieve_future. */
export interface UntypedAPIFuture {
  request_id: string;
  model_id?: string;
}

export interface TryAgainResponse {
  type: 'try_again';
  request_id: string;
  queue_state: 'active' | 'paused_capacity' | 'paused_rate_limit';
  queue_state_reason?: string;
}

export type RequestErrorCategory = 'unknown' | 'server' | 'user';

export interface RequestFailedResponse {
  error: string;
  category: RequestErrorCategory;
  /** loops-web: the engine's error class (`UnknownCheckpointError`, `ValidationError`, …). */
  error_class?: string;
}

export interface CreateSessionResponse {
  type: 'create_session';
  session_id: string;
  info_message?: string;
  warning_message?: string;
  error_message?: string;
}

export interface CreateSamplingSessionResponse {
  type: 'create_sampling_session';
  sampling_session_id: string;
}

export interface CreateModelResponse {
  model_id: string;
  type: 'create_model';
}

export interface GetInfoResponse {
  type?: 'get_info';
  model_data: { arch?: string; model_name?: string; tokenizer_id?: string };
  model_id: string;
  is_lora?: boolean;
  lora_rank?: number;
  model_name?: string;
}

export interface ForwardBackwardOutput {
  loss_fn_output_type: string;
  loss_fn_outputs: Record<string, TinkerTensorData>[];
  metrics: Record<string, number>;
  /** loops-web: the summed loss as the engine computed it (Tinker's `loss:sum` metric). */
  loss?: number;
}

export interface OptimStepResponse {
  metrics?: Record<string, number>;
}

export interface SaveWeightsResponse {
  path: string;
  type?: 'save_weights';
}

export interface SaveWeightsForSamplerResponse {
  path?: string;
  sampling_session_id?: string;
  type?: 'save_weights_for_sampler';
  /** loops-web: the policy version the snapshot holds. */
  policy_version?: number;
}

export interface LoadWeightsResponse {
  path?: string;
  model_id?: string;
  type?: 'load_weights';
  /** loops-web: the run's policy version after the load. */
  policy_version?: number;
}

export interface UnloadModelResponse {
  model_id: string;
  type?: 'unload_model';
}

export interface TinkerSampledSequence {
  stop_reason: 'length' | 'stop';
  tokens: number[];
  logprobs?: number[];
}

export interface SampleResponse {
  sequences: TinkerSampledSequence[];
  type: 'sample';
  prompt_logprobs?: (number | null)[] | null;
  topk_prompt_logprobs?: ([number, number][] | null)[] | null;
  prompt_cache_hit_tokens?: number;
  /** loops-web: the policy version of the weights sampled from. */
  policy_version?: number;
}

export interface TinkerSupportedModel {
  model_name?: string;
  max_context_length?: number;
  /** loops-web: shipped with the server (no download). */
  shipped?: boolean;
}

export interface GetServerCapabilitiesResponse {
  supported_models: TinkerSupportedModel[];
  /** loops-web: the engine's TF.js backend and WebGPU adapter, and its version. */
  loops_web?: {
    version: string;
    backend: string;
    adapter: {
      vendor: string;
      architecture: string;
      description: string;
      limits: Record<string, number>;
    } | null;
  };
}

export interface GetSamplerResponse {
  sampler_id: string;
  base_model: string;
  model_path?: string | null;
}

export interface WeightsInfoResponse {
  base_model: string;
  is_lora: boolean;
  lora_rank?: number | null;
  train_unembed?: boolean | null;
  train_mlp?: boolean | null;
  train_attn?: boolean | null;
}

export interface TinkerCheckpoint {
  checkpoint_id: string;
  checkpoint_type: 'training' | 'sampler';
  time: string;
  tinker_path: string;
  size_bytes?: number | null;
  public?: boolean;
  expires_at?: string | null;
  /** loops-web: what the Loops `Checkpoint` adds. */
  base_model?: string;
  lora_adapter_config?: { r: number; lora_alpha: number; target_modules: string[] };
  step?: number;
  run_id?: string;
}

export interface CheckpointsListResponse {
  checkpoints: TinkerCheckpoint[];
  cursor?: { offset: number; limit: number; total_count: number } | null;
}

export interface CheckpointArchiveUrlResponse {
  url: string;
  expires: string;
}

// ── loops-web's own routes (under /api/v1/loops_web/) ────────────────────────────────────────

/** POST /api/v1/loops_web/model_facts {base_model}: what the client needs to validate and tokenize. */
export interface LoopsModelFacts {
  base_model: string;
  vocab_size: number;
  max_positions: number;
  eos_token_ids: number[];
  tokenizer_json: unknown;
  tokenizer_config: unknown;
}

/** POST /api/v1/loops_web/init_trainer_server: an ordered op on the model (a future). */
export interface LoopsInitTrainerServerRequest {
  model_id: string;
  lora_rank: number;
  seq_id?: number;
}

/** POST /api/v1/loops_web/import_adapter: a PEFT adapter made elsewhere, stored as a checkpoint. */
export interface LoopsImportAdapterRequest {
  base_model: string;
  name: string;
  /** `adapter_model.safetensors`, base64. */
  adapter_model: string;
  adapter_config: unknown;
}
