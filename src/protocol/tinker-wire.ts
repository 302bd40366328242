/**
 * The Tinker REST protocol's JSON bodies, as they travel (the JSON form that SDK versions ≤ 0.24.1
 * send, and that open-source servers such as SkyRL's `tx` accept). Types only: the remote placement
 * (src/client/remote) writes requests and reads responses of these shapes, `loops-web serve`
 * (src/server) does the reverse, and src/server/tinker/schemas.ts holds the same request shapes as
 * JSON Schemas so a drift fails a test.
 *
 * Read from the Python SDK, thinking-machines-lab/tinker at 0.24.1 (commit 6b02536):
 * src/tinker/types/*.py and types/_pydantic_types/*.py (field names, defaults, which fields are
 * required), src/tinker/resources/{service,models,training,weights,sampling,futures}.py (routes),
 * src/tinker/lib/api_future_impl.py (retrieve_future outcomes). Request types are `StrictBase`
 * (no extra fields); response types ignore fields they do not know, which is where loops-web adds
 * its own (`LoopsExtras`). Fields that default to None are left out, as the SDK's
 * `model_dump(exclude_none=True)` leaves them out.
 */

export type TinkerDtype = 'int64' | 'float32';

export interface TinkerTensorData {
  data: number[];
  dtype: TinkerDtype;
  shape?: number[];
  sparse_crow_indices?: number[];
  sparse_col_indices?: number[];
}

export interface TinkerEncodedTextChunk {
  tokens: number[];
  type: 'encoded_text';
}

export interface TinkerImageChunk {
  /** base64 */
  data: string;
  format: 'png' | 'jpeg';
  expected_tokens?: number;
  type: 'image';
}

export type TinkerChunk = TinkerEncodedTextChunk | TinkerImageChunk;

export interface TinkerModelInput {
  chunks: TinkerChunk[];
}

export interface TinkerDatum {
  loss_fn_inputs: Record<string, TinkerTensorData>;
  model_input: TinkerModelInput;
}

export interface TinkerForwardBackwardInput {
  data: TinkerDatum[];
  loss_fn: string;
  loss_fn_config?: Record<string, number>;
}

export interface TinkerLoraConfig {
  rank: number;
  seed?: number;
  train_unembed?: boolean;
  train_mlp?: boolean;
  train_attn?: boolean;
}

export interface TinkerAdamParams {
  learning_rate?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weight_decay?: number;
  grad_clip_norm?: number;
}

export interface TinkerSamplingParams {
  max_tokens?: number;
  seed?: number;
  stop?: string | string[] | number[];
  temperature?: number;
  top_k?: number;
  top_p?: number;
}

// ── Requests ─────────────────────────────────────────────────────────────────────────────────

export interface CreateSessionRequest {
  tags: string[];
  user_metadata: Record<string, unknown>;
  sdk_version: string;
  project_id?: string;
  type: 'create_session';
}

export interface SessionHeartbeatRequest {
  session_id: string;
  type: 'session_heartbeat';
}

export interface CreateModelRequest {
  session_id: string;
  model_seq_id: number;
  base_model: string;
  user_metadata?: Record<string, unknown>;
  lora_config?: TinkerLoraConfig;
  type: 'create_model';
}

export interface GetInfoRequest {
  model_id: string;
  type: 'get_info';
}

export interface UnloadModelRequest {
  model_id: string;
  type: 'unload_model';
}

export interface ForwardBackwardRequest {
  forward_backward_input: TinkerForwardBackwardInput;
  model_id: string;
  seq_id?: number;
}

export interface ForwardRequest {
  forward_input: TinkerForwardBackwardInput;
  model_id: string;
  seq_id?: number;
}

export interface OptimStepRequest {
  adam_params: TinkerAdamParams;
  model_id: string;
  seq_id?: number;
  type: 'optim_step';
}

export interface SaveWeightsRequest {
  model_id: string;
  path?: string;
  seq_id?: number;
  ttl_seconds?: number;
  overwrite?: boolean;
  type: 'save_weights';
}

export interface SaveWeightsForSamplerRequest {
  model_id: string;
  path?: string;
  sampling_session_seq_id?: number;
  seq_id?: number;
  ttl_seconds?: number;
  type: 'save_weights_for_sampler';
}

export interface LoadWeightsRequest {
  model_id?: string;
  seq_id?: number;
  session_id?: string;
  model_seq_id?: number;
  base_model?: string;
  user_metadata?: Record<string, unknown>;
  path: string;
  optimizer: boolean;
  weights_access_token?: string;
  type: 'load_weights';
}

export interface CreateSamplingSessionRequest {
  session_id: string;
  sampling_session_seq_id: number;
  base_model?: string;
  model_path?: string;
  type: 'create_sampling_session';
}

export interface SampleRequest {
  num_samples?: number;
  prompt: TinkerModelInput;
  sampling_params: TinkerSamplingParams;
  base_model?: string;
  model_path?: string;
  sampling_session_id?: string;
  seq_id?: number;
  prompt_logprobs?: boolean;
  topk_prompt_logprobs?: number;
  type: 'sample';
}

export interface FutureRetrieveRequest {
  request_id: string;
  allow_metadata_only?: boolean;
}

export interface WeightsInfoRequest {
  tinker_path: string;
}

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
