/**
 * The tensors each family expects, by Hugging Face name and shape: the one source of truth for
 * load-time checks, random real-shape weights and LoRA target paths.
 *
 * Names are the ones in `model.safetensors`. GPT-2 files carry no `transformer.` prefix (files saved
 * from a `GPT2LMHeadModel` state dict do); `canonicalTensorName` strips it so both load. PEFT keys use
 * the in-memory module path, which for GPT-2 has the prefix: `peftModulePath` adds it back.
 */
import type { Family, ModelConfig } from './config';

export interface TensorSpec {
  readonly name: string;
  /** Row-major shape, as stored (nn.Linear `[out, in]`; GPT-2 Conv1D `[in, out]`). */
  readonly shape: readonly number[];
}

/** LoRA-targetable projections, by the short names users pick. */
export type ProjectionName =
  | 'q_proj'
  | 'k_proj'
  | 'v_proj'
  | 'o_proj'
  | 'gate_proj'
  | 'up_proj'
  | 'down_proj'
  | 'c_attn'
  | 'attn.c_proj'
  | 'c_fc'
  | 'mlp.c_proj'
  | 'lm_head';

export const ATTENTION_PROJECTIONS: Readonly<Record<Family, readonly ProjectionName[]>> = {
  llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  qwen2: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  qwen3: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  gpt2: ['c_attn', 'attn.c_proj'],
};

export const MLP_PROJECTIONS: Readonly<Record<Family, readonly ProjectionName[]>> = {
  llama: ['gate_proj', 'up_proj', 'down_proj'],
  qwen2: ['gate_proj', 'up_proj', 'down_proj'],
  qwen3: ['gate_proj', 'up_proj', 'down_proj'],
  gpt2: ['c_fc', 'mlp.c_proj'],
};

/** A linear layer as the model sees it: where its weight lives and its sizes. */
export interface ProjectionSpec {
  /** Module path in the file's naming, for example `model.layers.3.self_attn.q_proj` or `h.3.attn.c_attn`. */
  readonly path: string;
  readonly projection: ProjectionName;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** `out_in`: nn.Linear (y = x·Wᵀ); `in_out`: GPT-2 Conv1D (y = x·W). */
  readonly layout: 'out_in' | 'in_out';
  readonly hasBias: boolean;
}

/** Every projection of layer `i` (and `lm_head` for i = -1), with sizes from the config. */
export function layerProjections(config: ModelConfig, i: number): ProjectionSpec[] {
  const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: K, headDim: D } = config;
  if (config.family === 'gpt2') {
    const p = `h.${i}`;
    const conv = (
      path: string,
      projection: ProjectionName,
      inF: number,
      outF: number,
    ): ProjectionSpec => ({
      path,
      projection,
      inFeatures: inF,
      outFeatures: outF,
      layout: 'in_out',
      hasBias: true,
    });
    return [
      conv(`${p}.attn.c_attn`, 'c_attn', C, 3 * C),
      conv(`${p}.attn.c_proj`, 'attn.c_proj', C, C),
      conv(`${p}.mlp.c_fc`, 'c_fc', C, F),
      conv(`${p}.mlp.c_proj`, 'mlp.c_proj', F, C),
    ];
  }
  const p = `model.layers.${i}`;
  const lin = (
    path: string,
    projection: ProjectionName,
    inF: number,
    outF: number,
    bias = false,
  ): ProjectionSpec => ({
    path,
    projection,
    inFeatures: inF,
    outFeatures: outF,
    layout: 'out_in',
    hasBias: bias,
  });
  const { attentionBias: b, outputBias: ob, mlpBias: mb } = config;
  return [
    lin(`${p}.self_attn.q_proj`, 'q_proj', C, H * D, b),
    lin(`${p}.self_attn.k_proj`, 'k_proj', C, K * D, b),
    lin(`${p}.self_attn.v_proj`, 'v_proj', C, K * D, b),
    lin(`${p}.self_attn.o_proj`, 'o_proj', H * D, C, ob),
    lin(`${p}.mlp.gate_proj`, 'gate_proj', C, F, mb),
    lin(`${p}.mlp.up_proj`, 'up_proj', C, F, mb),
    lin(`${p}.mlp.down_proj`, 'down_proj', F, C, mb),
  ];
}

/** The unembedding as a projection (`lm_head`, [V, C]); tied models read the embedding for it. */
export function unembedProjection(config: ModelConfig): ProjectionSpec {
  return {
    path: 'lm_head',
    projection: 'lm_head',
    inFeatures: config.hiddenSize,
    outFeatures: config.vocabSize,
    layout: 'out_in',
    hasBias: false,
  };
}

/** Every tensor a checkpoint of this config must hold (tied models: no `lm_head.weight`). */
export function expectedTensors(config: ModelConfig): TensorSpec[] {
  const { hiddenSize: C, vocabSize: V, headDim: D } = config;
  const specs: TensorSpec[] = [];
  const add = (name: string, shape: number[]): void => {
    specs.push({ name, shape });
  };
  const addProjection = (p: ProjectionSpec): void => {
    add(
      `${p.path}.weight`,
      p.layout === 'out_in' ? [p.outFeatures, p.inFeatures] : [p.inFeatures, p.outFeatures],
    );
    if (p.hasBias) add(`${p.path}.bias`, [p.outFeatures]);
  };
  if (config.family === 'gpt2') {
    add('wte.weight', [V, C]);
    add('wpe.weight', [config.maxPositions, C]);
    for (let i = 0; i < config.numLayers; i++) {
      const [cAttn, aProj, cFc, mProj] = layerProjections(config, i) as [
        ProjectionSpec,
        ProjectionSpec,
        ProjectionSpec,
        ProjectionSpec,
      ];
      add(`h.${i}.ln_1.weight`, [C]);
      add(`h.${i}.ln_1.bias`, [C]);
      addProjection(cAttn);
      addProjection(aProj);
      add(`h.${i}.ln_2.weight`, [C]);
      add(`h.${i}.ln_2.bias`, [C]);
      addProjection(cFc);
      addProjection(mProj);
    }
    add('ln_f.weight', [C]);
    add('ln_f.bias', [C]);
    return specs;
  }
  add('model.embed_tokens.weight', [V, C]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [C]);
    for (const proj of layerProjections(config, i)) addProjection(proj);
    if (config.qkNorm) {
      add(`${p}.self_attn.q_norm.weight`, [D]);
      add(`${p}.self_attn.k_norm.weight`, [D]);
    }
    add(`${p}.post_attention_layernorm.weight`, [C]);
  }
  add('model.norm.weight', [C]);
  if (!config.tieWordEmbeddings) add('lm_head.weight', [V, C]);
  return specs;
}

/** Maps a file's tensor name to the name the model uses (drops GPT-2's `transformer.` prefix). */
export function canonicalTensorName(config: ModelConfig, name: string): string {
  return config.family === 'gpt2' && name.startsWith('transformer.')
    ? name.slice('transformer.'.length)
    : name;
}

/** The module path PEFT writes for a projection: `transformer.` restored for GPT-2 (not for lm_head). */
export function peftModulePath(config: ModelConfig, path: string): string {
  return config.family === 'gpt2' && path !== 'lm_head' ? `transformer.${path}` : path;
}

/** Name of the embedding tensor of this family ([V, C]). */
export function embeddingName(config: ModelConfig): string {
  return config.family === 'gpt2' ? 'wte.weight' : 'model.embed_tokens.weight';
}
