/**
 * The two base models we pretrain, as the exact `config.json` objects Hugging Face transformers
 * writes for them (keys sorted, as `PretrainedConfig.to_json_string` does), plus the name and the
 * manifest description of each. The engine reads them back with `parseModelConfig`, like any
 * downloaded model. Sizes were picked from a tokens/s probe on the 2-core build machine (see the
 * model cards); the training hyperparameters are in `TRAIN_DEFAULTS` (train-loop.ts).
 *
 * Dropout fields are 0: we train without dropout, so a model fine-tuned elsewhere behaves as here.
 */
import { ValidationError } from '../../src/errors/loops-errors';

export const MODEL_KINDS = ['llama', 'gpt2'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export interface ModelPreset {
  readonly kind: ModelKind;
  /** Folder under public/models/ and the manifest name. */
  readonly name: string;
  readonly description: string;
  /** The `config.json` object. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Vocabulary of the shared tokenizer (public/models/_tokenizer): 4096 ids, `<|endoftext|>` = 0. */
export const VOCAB_SIZE = 4096;
export const CONTEXT = 256;
const ENDOFTEXT_ID = 0;
const TRANSFORMERS_VERSION = '4.46.3';

const LLAMA_CONFIG = Object.freeze({
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: ENDOFTEXT_ID,
  eos_token_id: ENDOFTEXT_ID,
  head_dim: 32,
  hidden_act: 'silu',
  hidden_size: 128,
  initializer_range: 0.02,
  intermediate_size: 384,
  max_position_embeddings: CONTEXT,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 4,
  num_hidden_layers: 4,
  num_key_value_heads: 2,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
  transformers_version: TRANSFORMERS_VERSION,
  use_cache: true,
  vocab_size: VOCAB_SIZE,
});

const GPT2_CONFIG = Object.freeze({
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.0,
  bos_token_id: ENDOFTEXT_ID,
  embd_pdrop: 0.0,
  eos_token_id: ENDOFTEXT_ID,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_embd: 96,
  n_head: 4,
  n_inner: null,
  n_layer: 3,
  n_positions: CONTEXT,
  reorder_and_upcast_attn: false,
  resid_pdrop: 0.0,
  scale_attn_by_inverse_layer_idx: false,
  scale_attn_weights: true,
  summary_activation: null,
  summary_first_dropout: 0.0,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
  transformers_version: TRANSFORMERS_VERSION,
  use_cache: true,
  vocab_size: VOCAB_SIZE,
});

export const MODEL_PRESETS: Readonly<Record<ModelKind, ModelPreset>> = Object.freeze({
  llama: {
    kind: 'llama',
    name: 'loops-tiny-llama',
    description:
      'Llama-architecture base model (GQA 4/2 heads, tied embeddings), pretrained in this ' +
      'repo on Moby-Dick and the State of the Union addresses; 256-token context.',
    config: LLAMA_CONFIG,
  },
  gpt2: {
    kind: 'gpt2',
    name: 'loops-tiny-gpt2',
    description:
      'GPT-2-architecture base model, smaller, pretrained in this repo on the same ' +
      'public-domain text; 256-token context.',
    config: GPT2_CONFIG,
  },
});

/** Keys whose values Python holds as floats: `config.json` spells them as Python does (0.0, 1e-05). */
export const FLOAT_KEYS: ReadonlySet<string> = new Set([
  'attention_dropout',
  'attn_pdrop',
  'embd_pdrop',
  'initializer_range',
  'layer_norm_epsilon',
  'resid_pdrop',
  'rms_norm_eps',
  'rope_theta',
  'summary_first_dropout',
]);

/** Python's `repr` of a float: `10000.0`, `0.02`, `1e-05`. */
export function pythonFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  if (x !== 0 && Math.abs(x) < 1e-4) {
    return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return String(x);
}

/**
 * `config` as transformers' `to_json_string` writes it: keys sorted, indent 2, floats in Python's
 * spelling, a final newline.
 */
export function hfConfigJson(config: Readonly<Record<string, unknown>>): string {
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1)));
  const text = JSON.stringify(sorted, null, 2).replace(
    /^( {2}"(\w+)": )(-?[\d.e+-]+)(,?)$/gm,
    (line, head: string, key: string, num: string, comma: string) =>
      FLOAT_KEYS.has(key) ? `${head}${pythonFloat(Number(num))}${comma}` : line,
  );
  return `${text}\n`;
}

/** The preset of `kind`; throws a ValidationError naming the choices. */
export function modelPreset(kind: string): ModelPreset {
  const preset = (MODEL_PRESETS as Record<string, ModelPreset | undefined>)[kind];
  if (!preset) {
    throw new ValidationError(
      `--model ${kind} is not a pretraining preset; use one of ${MODEL_KINDS.join(', ')}.`,
    );
  }
  return preset;
}

/** The preset whose folder name is `name` (loops-tiny-llama, loops-tiny-gpt2). */
export function presetByName(name: string): ModelPreset {
  const preset = Object.values(MODEL_PRESETS).find((p) => p.name === name || p.kind === name);
  if (!preset) {
    const names = Object.values(MODEL_PRESETS).map((p) => p.name);
    throw new ValidationError(
      `--model ${name} is not one of ${names.join(', ')} (or llama, gpt2).`,
    );
  }
  return preset;
}
