/**
 * The model configuration the engine runs on: one typed, frozen shape for every family, parsed
 * from a Hugging Face `config.json`. Parsing checks names and sizes and says what is wrong; the
 * model code never reads `config.json` itself.
 *
 * Families (shared/reference/models-and-formats.md §1.2): `llama` (SmolLM2, TinyLlama), `qwen2`
 * (Llama + QKV bias), `qwen3` (Llama + per-head q/k RMSNorm, explicit head_dim), `gpt2`.
 */
import { UnsupportedModelError } from '../errors/loops-errors';

export type Family = 'llama' | 'qwen2' | 'qwen3' | 'gpt2';

export interface ModelConfig {
  readonly family: Family;
  /** The `architectures[0]` or `model_type` this came from, for messages. */
  readonly architecture: string;
  /** Embedding rows (V). */
  readonly vocabSize: number;
  /** Residual width (C). */
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** Query heads (H). */
  readonly numHeads: number;
  /** Key/value heads (K); H is a multiple of K (grouped-query attention). */
  readonly numKvHeads: number;
  /** Per-head width (D); Qwen3 sets it explicitly, else C / H. */
  readonly headDim: number;
  /** MLP width (F). */
  readonly intermediateSize: number;
  /** Longest context the positions support. */
  readonly maxPositions: number;
  /** RoPE base θ (Llama family). */
  readonly ropeTheta: number;
  /** Epsilon of RMSNorm (Llama family) or LayerNorm (GPT-2). */
  readonly normEps: number;
  /** The unembedding is the token embedding transposed (no separate lm_head). */
  readonly tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2 always; Llama and Qwen3 with `attention_bias`). */
  readonly attentionBias: boolean;
  /** o_proj carries a bias (Llama and Qwen3 with `attention_bias`; never Qwen2). */
  readonly outputBias: boolean;
  /** gate/up/down projections carry a bias (Llama with `mlp_bias`). */
  readonly mlpBias: boolean;
  /** RMSNorm on each head of q and k before RoPE (Qwen3). */
  readonly qkNorm: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
}

/** Hard ceilings that reject absurd or hostile configs before anything is allocated. */
export const CONFIG_LIMITS = Object.freeze({
  vocabSize: 1 << 20,
  hiddenSize: 1 << 16,
  numLayers: 1024,
  numHeads: 1024,
  headDim: 1024,
  intermediateSize: 1 << 18,
  maxPositions: 1 << 22,
});

const ARCHITECTURES: Record<string, Family> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  GPT2LMHeadModel: 'gpt2',
};
const MODEL_TYPES: Record<string, Family> = {
  llama: 'llama',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  gpt2: 'gpt2',
};

type Json = Record<string, unknown>;

/** Parses a Hugging Face `config.json` object; throws `UnsupportedModelError` naming the problem. */
export function parseModelConfig(raw: unknown, source = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UnsupportedModelError(`${source} is not a JSON object.`);
  }
  const json = raw as Json;
  const archs = Array.isArray(json.architectures) ? (json.architectures as unknown[]) : [];
  const arch = typeof archs[0] === 'string' ? archs[0] : undefined;
  const modelType = typeof json.model_type === 'string' ? json.model_type : undefined;
  const family = (arch && ARCHITECTURES[arch]) ?? (modelType && MODEL_TYPES[modelType]);
  if (!family) {
    throw new UnsupportedModelError(
      `${source}: architecture ${arch ?? modelType ?? '(none given)'} is not supported; ` +
        `supported: ${Object.keys(ARCHITECTURES).join(', ')}.`,
    );
  }
  const int = (key: string, limit: number, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > limit) {
      throw new UnsupportedModelError(
        `${source}: ${key} must be an integer in [1, ${limit}], got ${JSON.stringify(v)}.`,
      );
    }
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new UnsupportedModelError(
        `${source}: ${key} must be a positive number, got ${JSON.stringify(v)}.`,
      );
    }
    return v;
  };
  const L = CONFIG_LIMITS;
  const gpt2 = family === 'gpt2';
  const hiddenSize = int(gpt2 ? 'n_embd' : 'hidden_size', L.hiddenSize);
  const numHeads = int(gpt2 ? 'n_head' : 'num_attention_heads', L.numHeads);
  const numKvHeads = gpt2 ? numHeads : int('num_key_value_heads', L.numHeads, numHeads);
  const explicitHeadDim = family === 'qwen3' || (!gpt2 && typeof json.head_dim === 'number');
  const headDim = explicitHeadDim ? int('head_dim', L.headDim) : hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) {
    throw new UnsupportedModelError(
      `${source}: hidden size ${hiddenSize} is not divisible by ${numHeads} heads.`,
    );
  }
  if (numHeads % numKvHeads !== 0) {
    throw new UnsupportedModelError(
      `${source}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}.`,
    );
  }
  const eos = json.eos_token_id;
  const eosTokenIds = (
    Array.isArray(eos) ? eos : eos === undefined || eos === null ? [] : [eos]
  ).filter((v): v is number => typeof v === 'number');
  const bos = typeof json.bos_token_id === 'number' ? json.bos_token_id : null;
  const act = json[gpt2 ? 'activation_function' : 'hidden_act'] ?? (gpt2 ? 'gelu_new' : 'silu');
  const expectedAct = gpt2 ? ['gelu_new', 'gelu_pytorch_tanh'] : ['silu'];
  if (typeof act !== 'string' || !expectedAct.includes(act)) {
    throw new UnsupportedModelError(
      `${source}: activation ${JSON.stringify(act)} is not supported for ${family} (expected ${expectedAct.join(' or ')}).`,
    );
  }
  const ropeScaling = json.rope_scaling;
  if (
    ropeScaling &&
    typeof ropeScaling === 'object' &&
    (ropeScaling as Json).rope_type !== 'default'
  ) {
    throw new UnsupportedModelError(
      `${source}: rope_scaling ${JSON.stringify(ropeScaling)} is not supported (only plain RoPE).`,
    );
  }
  return Object.freeze({
    family,
    architecture: arch ?? modelType ?? family,
    vocabSize: int('vocab_size', L.vocabSize),
    hiddenSize,
    numLayers: int(gpt2 ? 'n_layer' : 'num_hidden_layers', L.numLayers),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: gpt2
      ? int('n_inner', L.intermediateSize, 4 * hiddenSize)
      : int('intermediate_size', L.intermediateSize),
    maxPositions: int(
      gpt2 ? 'n_positions' : 'max_position_embeddings',
      L.maxPositions,
      gpt2 ? 1024 : 2048,
    ),
    ropeTheta: gpt2 ? 0 : num('rope_theta', 10000),
    normEps: num(gpt2 ? 'layer_norm_epsilon' : 'rms_norm_eps', gpt2 ? 1e-5 : 1e-6),
    // GPT-2 always ties; the Llama-family configs default to untied (as transformers does).
    tieWordEmbeddings: gpt2 || json.tie_word_embeddings === true,
    ...projectionBiases(family, arch, json),
    qkNorm: family === 'qwen3',
    bosTokenId: bos,
    eosTokenIds,
  });
}

/**
 * Which projections carry a bias, as transformers builds them: LlamaAttention and Qwen3Attention
 * give q/k/v/o `bias=config.attention_bias`, LlamaMLP gives gate/up/down `bias=config.mlp_bias`;
 * Qwen2Attention has q/k/v `bias=True` and o_proj `bias=False`; Qwen2MLP, Qwen3MLP and every
 * Mistral projection have none; GPT-2's Conv1D layers always do (weight-names.ts).
 */
function projectionBiases(
  family: Family,
  arch: string | undefined,
  json: Json,
): Pick<ModelConfig, 'attentionBias' | 'outputBias' | 'mlpBias'> {
  if (family === 'qwen2') return { attentionBias: true, outputBias: false, mlpBias: false };
  const flagged = family !== 'gpt2' && arch !== 'MistralForCausalLM';
  const attention = flagged && json.attention_bias === true;
  return {
    attentionBias: attention,
    outputBias: attention,
    mlpBias: flagged && family === 'llama' && json.mlp_bias === true,
  };
}
