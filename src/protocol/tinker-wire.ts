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

export type * from './tinker-responses';
