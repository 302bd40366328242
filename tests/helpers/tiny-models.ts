/**
 * Tiny random models for CPU tests: `config.json` objects as Hugging Face writes them, one per
 * feature the engine must get right, and seeded weights with the real tensor names and shapes.
 * Sizes are small enough that a forward pass takes milliseconds in the float64 reference.
 *
 * Covered: Llama with grouped-query attention (4 heads / 2 kv heads), untied; Llama tied; Llama
 * with `attention_bias` and `mlp_bias` (biases on q/k/v/o and gate/up/down); Qwen2
 * (q/k/v bias, tied); Qwen3 (explicit head_dim 16 ≠ 32 / 4, q/k norm, untied); GPT-2 (tied by
 * construction, Conv1D layout, learned positions).
 */
import * as tf from '@tensorflow/tfjs';
import { LoraAdapter } from '../../src/lora/adapter';
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import { randomWeights, type RandomWeightOptions } from '../../src/model/random-weights';

export interface TinyTensor {
  readonly data: Float32Array;
  readonly shape: number[];
}

/**
 * Larger than GPT-2's 0.02 on purpose: at width 16–32 that would leave near-uniform attention and
 * logits, and the tests would not see the blocks act. With std 0.2 logits spread by about ±1.
 */
export const TINY_WEIGHT_OPTIONS: Readonly<Required<RandomWeightOptions>> = Object.freeze({
  std: 0.2,
  normNoise: 0.1,
  biasStd: 0.1,
});

export const TINY_CONFIGS = Object.freeze({
  /** GQA: 4 query heads share 2 kv heads; separate lm_head. */
  llamaGqa: Object.freeze({
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    hidden_size: 32,
    intermediate_size: 48,
    max_position_embeddings: 64,
    model_type: 'llama',
    num_attention_heads: 4,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    vocab_size: 48,
  }),
  /** Tied embeddings (as SmolLM2), plain multi-head attention, θ 100000. */
  llamaTied: Object.freeze({
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    bos_token_id: 0,
    eos_token_id: 0,
    hidden_act: 'silu',
    hidden_size: 16,
    intermediate_size: 40,
    max_position_embeddings: 32,
    model_type: 'llama',
    num_attention_heads: 2,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 100000,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    vocab_size: 40,
  }),
  /** attention_bias (q/k/v/o biases) and mlp_bias (gate/up/down biases), as some Llama ports have. */
  llamaBiased: Object.freeze({
    architectures: ['LlamaForCausalLM'],
    attention_bias: true,
    mlp_bias: true,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    hidden_size: 16,
    intermediate_size: 24,
    max_position_embeddings: 32,
    model_type: 'llama',
    num_attention_heads: 2,
    num_hidden_layers: 2,
    num_key_value_heads: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    vocab_size: 44,
  }),
  /** Qwen2: q/k/v biases, GQA 4/2, tied, eps 1e-6, θ 1e6. */
  qwen2: Object.freeze({
    architectures: ['Qwen2ForCausalLM'],
    bos_token_id: 3,
    eos_token_id: 3,
    hidden_act: 'silu',
    hidden_size: 32,
    intermediate_size: 64,
    max_position_embeddings: 32,
    model_type: 'qwen2',
    num_attention_heads: 4,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_sliding_window: false,
    vocab_size: 56,
  }),
  /** Qwen3: head_dim 16 while hidden / heads = 8, per-head q/k RMSNorm, untied. */
  qwen3: Object.freeze({
    architectures: ['Qwen3ForCausalLM'],
    attention_bias: false,
    bos_token_id: 4,
    eos_token_id: 5,
    head_dim: 16,
    hidden_act: 'silu',
    hidden_size: 32,
    intermediate_size: 48,
    max_position_embeddings: 64,
    model_type: 'qwen3',
    num_attention_heads: 4,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    vocab_size: 64,
  }),
  /** GPT-2: n_inner unset, so the MLP is 4·32 = 128 wide. */
  gpt2: Object.freeze({
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    bos_token_id: 49,
    eos_token_id: 49,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_embd: 32,
    n_head: 4,
    n_layer: 2,
    n_positions: 32,
    torch_dtype: 'float32',
    vocab_size: 50,
  }),
});

export type TinyModelName = keyof typeof TINY_CONFIGS;
export const TINY_MODEL_NAMES = Object.keys(TINY_CONFIGS) as TinyModelName[];

/** Seeded weights for a `config.json` object, by tensor name (exactly `expectedTensors`). */
export function tinyWeights(
  configJson: object,
  seed: number,
  options: RandomWeightOptions = TINY_WEIGHT_OPTIONS,
): Map<string, TinyTensor> {
  return randomWeights(parseModelConfig(configJson), seed, options);
}

/** A tiny model by name: its raw config, the parsed config and seeded weights. */
export function tinyModel(
  name: TinyModelName,
  seed = 1,
): { configJson: object; config: ModelConfig; weights: Map<string, TinyTensor> } {
  const configJson = TINY_CONFIGS[name];
  return {
    configJson,
    config: parseModelConfig(configJson),
    weights: tinyWeights(configJson, seed),
  };
}

/** An adapter on q_proj and lm_head whose B factors are non-zero (so every gradient flows). */
export function vocabLoraAdapter(config: ModelConfig): LoraAdapter {
  const adapter = LoraAdapter.create(config, {
    rank: 2,
    alpha: 4,
    targets: ['q_proj', 'lm_head'],
    seed: 3,
  });
  for (const m of adapter.modules.values()) {
    const b = tf.randomNormal<tf.Rank.R2>(m.b.shape, 0, 0.3, 'float32', 11);
    m.b.assign(b);
    b.dispose();
  }
  return adapter;
}
