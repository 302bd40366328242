/**
 * The `config.json` of each real model this project targets, verbatim as on the Hugging Face Hub,
 * so real-size code paths (random weights, memory plans, benchmarks) run without a download.
 * Parsing is `parseModelConfig`'s job; these are the raw objects it receives.
 *
 * Facts: shared/reference/models-and-formats.md §1.1, checked against copies of the published files.
 * Parameter counts from `expectedTensors` (tied embeddings counted once):
 * SmolLM2-135M 134,515,008 · Qwen2.5-0.5B 494,032,768 · Qwen3-0.6B 596,049,920 ·
 * GPT-2 124,439,808 (with `wpe`).
 */

export type HfConfigJson = Readonly<Record<string, unknown>>;

const SMOLLM2_135M: HfConfigJson = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  vocab_size: 49152,
};

const QWEN2_5_0_5B: HfConfigJson = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_mrope: false,
  use_sliding_window: false,
  vocab_size: 151936,
};

const QWEN3_0_6B: HfConfigJson = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const GPT2_124M: HfConfigJson = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

export const KNOWN_MODEL_IDS = [
  'HuggingFaceTB/SmolLM2-135M',
  'Qwen/Qwen2.5-0.5B',
  'Qwen/Qwen3-0.6B',
  'openai-community/gpt2',
] as const;
export type KnownModelId = (typeof KNOWN_MODEL_IDS)[number];

/** Hub `config.json` objects by repo id, deeply frozen. */
export const KNOWN_CONFIGS: Readonly<Record<KnownModelId, HfConfigJson>> = deepFreeze({
  'HuggingFaceTB/SmolLM2-135M': SMOLLM2_135M,
  'Qwen/Qwen2.5-0.5B': QWEN2_5_0_5B,
  'Qwen/Qwen3-0.6B': QWEN3_0_6B,
  'openai-community/gpt2': GPT2_124M,
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
