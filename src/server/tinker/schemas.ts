/**
 * JSON Schemas (draft-07) of the Tinker request bodies, written from the Python SDK's types
 * (thinking-machines-lab/tinker 0.24.1, commit 6b02536, src/tinker/types/*.py and
 * types/_pydantic_types/*.py): field names, which fields are required (no default in the SDK),
 * dtypes and literal `type` tags. Request types there are `StrictBase` (extra="forbid"), so extra
 * fields are refused here too. `loops-web serve` checks every body against these before it reads
 * it; the tests check every body the remote placement sends, so a drift from the protocol on either
 * side fails a test. The TypeScript shapes are src/protocol/tinker-wire.ts.
 */

type Schema = Record<string, unknown>;

const int: Schema = { type: 'integer' };
const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const num: Schema = { type: 'number' };
const metadata: Schema = { type: 'object' };

/** A strict object: the listed properties, `required` of them mandatory, nothing else. */
function strict(properties: Record<string, Schema>, required: string[]): Schema {
  return { type: 'object', properties, required, additionalProperties: false };
}

/** The literal `type` tag every SDK request carries (pydantic `Literal[...] = ...`). */
const tag = (name: string): Schema => ({ const: name });

const tensorData = strict(
  {
    data: { type: 'array', items: num },
    dtype: { enum: ['int64', 'float32'] },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    sparse_crow_indices: { type: 'array', items: int },
    sparse_col_indices: { type: 'array', items: int },
  },
  ['data', 'dtype'],
);

const encodedTextChunk = strict(
  { tokens: { type: 'array', items: int }, type: tag('encoded_text') },
  ['tokens'],
);

const imageChunk = strict(
  {
    data: str,
    format: { enum: ['png', 'jpeg'] },
    expected_tokens: int,
    type: tag('image'),
  },
  ['data', 'format', 'type'],
);

const modelInput = strict(
  { chunks: { type: 'array', items: { oneOf: [encodedTextChunk, imageChunk] } } },
  ['chunks'],
);

const datum = strict(
  {
    loss_fn_inputs: { type: 'object', additionalProperties: tensorData },
    model_input: modelInput,
  },
  ['loss_fn_inputs', 'model_input'],
);

const forwardBackwardInput = strict(
  {
    data: { type: 'array', items: datum },
    loss_fn: { enum: ['cross_entropy', 'importance_sampling', 'ppo', 'cispo', 'dro'] },
    loss_fn_config: { type: 'object', additionalProperties: num },
  },
  ['data', 'loss_fn'],
);

const loraConfig = strict(
  { rank: int, seed: int, train_unembed: bool, train_mlp: bool, train_attn: bool },
  ['rank'],
);

const adamParams = strict(
  {
    learning_rate: num,
    beta1: num,
    beta2: num,
    eps: num,
    weight_decay: num,
    grad_clip_norm: num,
  },
  [],
);

// SamplingParams is a plain BaseModel in the SDK (extra fields ignored); the SDK never sends any.
const samplingParams: Schema = {
  type: 'object',
  properties: {
    max_tokens: int,
    seed: int,
    stop: {
      oneOf: [str, { type: 'array', items: str }, { type: 'array', items: int }],
    },
    temperature: num,
    top_k: int,
    top_p: num,
  },
};

/** Request schemas by route (the part after /api/v1/). */
export const REQUEST_SCHEMAS: Readonly<Record<string, Schema>> = Object.freeze({
  create_session: strict(
    {
      tags: { type: 'array', items: str },
      user_metadata: { type: ['object', 'null'] },
      sdk_version: str,
      project_id: str,
      type: tag('create_session'),
    },
    ['tags', 'user_metadata', 'sdk_version'],
  ),
  session_heartbeat: strict({ session_id: str, type: tag('session_heartbeat') }, ['session_id']),
  client_config: strict({ sdk_version: str }, ['sdk_version']),
  create_model: strict(
    {
      session_id: str,
      model_seq_id: int,
      base_model: str,
      user_metadata: metadata,
      lora_config: loraConfig,
      type: tag('create_model'),
    },
    ['session_id', 'model_seq_id', 'base_model'],
  ),
  get_info: strict({ model_id: str, type: tag('get_info') }, ['model_id']),
  unload_model: strict({ model_id: str, type: tag('unload_model') }, ['model_id']),
  forward_backward: strict(
    { forward_backward_input: forwardBackwardInput, model_id: str, seq_id: int },
    ['forward_backward_input', 'model_id'],
  ),
  forward: strict({ forward_input: forwardBackwardInput, model_id: str, seq_id: int }, [
    'forward_input',
    'model_id',
  ]),
  optim_step: strict(
    { adam_params: adamParams, model_id: str, seq_id: int, type: tag('optim_step') },
    ['adam_params', 'model_id'],
  ),
  save_weights: strict(
    {
      model_id: str,
      path: str,
      seq_id: int,
      ttl_seconds: int,
      overwrite: bool,
      type: tag('save_weights'),
    },
    ['model_id'],
  ),
  save_weights_for_sampler: strict(
    {
      model_id: str,
      path: str,
      sampling_session_seq_id: int,
      seq_id: int,
      ttl_seconds: int,
      type: tag('save_weights_for_sampler'),
    },
    ['model_id'],
  ),
  load_weights: strict(
    {
      model_id: str,
      seq_id: int,
      session_id: str,
      model_seq_id: int,
      base_model: str,
      user_metadata: metadata,
      path: str,
      optimizer: bool,
      weights_access_token: str,
      type: tag('load_weights'),
    },
    ['path', 'optimizer'],
  ),
  create_sampling_session: strict(
    {
      session_id: str,
      sampling_session_seq_id: int,
      base_model: str,
      model_path: str,
      type: tag('create_sampling_session'),
    },
    ['session_id', 'sampling_session_seq_id'],
  ),
  asample: strict(
    {
      num_samples: int,
      prompt: modelInput,
      sampling_params: samplingParams,
      base_model: str,
      model_path: str,
      sampling_session_id: str,
      seq_id: int,
      prompt_logprobs: bool,
      topk_prompt_logprobs: int,
      type: tag('sample'),
    },
    ['prompt', 'sampling_params'],
  ),
  retrieve_future: strict({ request_id: str, allow_metadata_only: bool }, ['request_id']),
  weights_info: strict({ tinker_path: str }, ['tinker_path']),
  telemetry: { type: 'object' },
  // loops-web's own routes.
  'loops_web/model_facts': strict({ base_model: str }, ['base_model']),
  'loops_web/init_trainer_server': strict({ model_id: str, lora_rank: int, seq_id: int }, [
    'model_id',
    'lora_rank',
  ]),
  'loops_web/close_sampler': strict({ sampling_session_id: str }, ['sampling_session_id']),
  'loops_web/import_adapter': strict(
    { base_model: str, name: str, adapter_model: str, adapter_config: { type: 'object' } },
    ['base_model', 'name', 'adapter_model', 'adapter_config'],
  ),
});
