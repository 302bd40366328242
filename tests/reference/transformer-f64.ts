/**
 * An independent float64 forward pass of the four supported families (Llama, Qwen2, Qwen3, GPT-2),
 * in plain TypeScript with no TF.js, to check the engine's logits, log-probs and (through finite
 * differences) LoRA gradients. One sequence, positions 0..T−1, no cache, no batching.
 *
 * Blocks (shared/reference/models-and-formats.md §1.2; HF modeling_llama / qwen2 / qwen3 / gpt2):
 * - Llama family, pre-norm: h = x + o(attn(rms_in(x))); out = h + down(silu(gate(n))·up(n)),
 *   n = rms_post(h). Qwen2 adds q/k/v biases. Qwen3 applies RMSNorm (q_norm, k_norm, width D) to
 *   each head of q and k after the reshape and before RoPE. Final `model.norm`, then `lm_head`
 *   (or the embedding [V, C] when tied).
 * - GPT-2: x = wte[token] + wpe[position]; h = x + c_proj(attn(ln_1(x))) where c_attn gives
 *   [Q | K | V] side by side; out = h + c_proj(gelu_tanh(c_fc(ln_2(h)))); final ln_f; logits use wte.
 * - LoRA on any projection by module path (`model.layers.0.self_attn.q_proj`, `h.0.attn.c_attn`,
 *   `lm_head`): y = base(x) + s·(x·Aᵀ)·Bᵀ, also for Conv1D and for a tied unembedding.
 *
 * The maths of each block lives in `transformer-f64-ops.ts`.
 */
import type { ModelConfig } from '../../src/model/config';
import {
  embeddingName,
  expectedTensors,
  layerProjections,
  unembedProjection,
  type ProjectionSpec,
} from '../../src/model/weight-names';
import {
  addLora,
  applyRope,
  causalAttention,
  geluTanh,
  layerNorm,
  linearInOut,
  linearOutIn,
  logSumExp,
  rmsNorm,
  silu,
  type LoraFactors,
  type Numbers,
} from './transformer-f64-ops';

export type { LoraFactors } from './transformer-f64-ops';

export interface ReferenceTensor {
  readonly data: Numbers;
  readonly shape: readonly number[];
}
export type ReferenceWeights = ReadonlyMap<string, ReferenceTensor>;
/** LoRA factors keyed by module path in the file's naming (no `transformer.` prefix for GPT-2). */
export type ReferenceLora = ReadonlyMap<string, LoraFactors>;

/** Target value that marks a position as ignored (HF / PyTorch convention). */
export const IGNORE_INDEX = -100;

/** The weights, LoRA and config one forward pass reads, with checked access. */
interface Model {
  readonly config: ModelConfig;
  readonly tensor: (name: string) => Numbers;
  readonly lora: ReferenceLora;
}

/** Logits, row-major [T, V], for `tokens` at positions 0..T−1. */
export function referenceLogits(
  config: ModelConfig,
  weights: ReferenceWeights,
  tokens: readonly number[],
  lora: ReferenceLora = new Map(),
): Float64Array {
  const model = openModel(config, weights, lora);
  checkTokens(config, tokens);
  const x = config.family === 'gpt2' ? gpt2Hidden(model, tokens) : llamaHidden(model, tokens);
  return project(model, unembedProjection(config), x, tokens.length); // [T, V]
}

/**
 * log p(targets[t] | tokens[0..t]) for each t: log_softmax of the logits row t at targets[t];
 * 0 where targets[t] is −100 (ignored).
 */
export function referenceTargetLogprobs(
  config: ModelConfig,
  weights: ReferenceWeights,
  tokens: readonly number[],
  targets: readonly number[],
  lora?: ReferenceLora,
): Float64Array {
  if (targets.length !== tokens.length) {
    throw new Error(
      `targets has ${targets.length} entries but tokens has ${tokens.length}; they must be equal.`,
    );
  }
  const V = config.vocabSize;
  const logits = referenceLogits(config, weights, tokens, lora); // [T, V]
  return Float64Array.from(targets, (target, t) => {
    if (target === IGNORE_INDEX) return 0;
    if (!Number.isInteger(target) || target < 0 || target >= V) {
      throw new Error(`targets[${t}] = ${target} is outside [0, ${V}) and is not -100.`);
    }
    return logits[t * V + target]! - logSumExp(logits, t * V, (t + 1) * V);
  });
}

/** Llama / Qwen2 / Qwen3 trunk: the hidden states after the final norm, [T, C]. */
function llamaHidden(model: Model, tokens: readonly number[]): Float64Array {
  const { config, tensor } = model;
  const { hiddenSize: C, normEps: eps } = config;
  const T = tokens.length;
  let x: Float64Array = embed(tensor(embeddingName(config)), tokens, C); // [T, C]
  for (let i = 0; i < config.numLayers; i++) x = llamaLayer(model, i, x, T);
  return rmsNorm(x, T, C, tensor('model.norm.weight'), eps); // [T, C]
}

/** One Llama-family decoder layer; returns the new residual stream [T, C]. */
function llamaLayer(model: Model, i: number, x: Float64Array, T: number): Float64Array {
  const { config, tensor } = model;
  const { hiddenSize: C, numHeads: H, numKvHeads: K, headDim: D, normEps: eps } = config;
  const [qP, kP, vP, oP, gateP, upP, downP] = layerProjections(config, i) as Projections7;
  const p = `model.layers.${i}`;

  const n = rmsNorm(x, T, C, tensor(`${p}.input_layernorm.weight`), eps); // [T, C]
  let q = project(model, qP, n, T); // [T, H*D]
  let k = project(model, kP, n, T); // [T, K*D]
  const v = project(model, vP, n, T); // [T, K*D]
  if (config.qkNorm) {
    q = rmsNorm(q, T * H, D, tensor(`${p}.self_attn.q_norm.weight`), eps); // [T, H*D]
    k = rmsNorm(k, T * K, D, tensor(`${p}.self_attn.k_norm.weight`), eps); // [T, K*D]
  }
  applyRope(q, T, H, D, config.ropeTheta);
  applyRope(k, T, K, D, config.ropeTheta);
  const attn = causalAttention(q, k, v, T, H, K, D); // [T, H*D]
  const h = add(x, project(model, oP, attn, T)); // [T, C]

  const n2 = rmsNorm(h, T, C, tensor(`${p}.post_attention_layernorm.weight`), eps); // [T, C]
  const gate = project(model, gateP, n2, T); // [T, F]
  const up = project(model, upP, n2, T); // [T, F]
  const act = gate.map((g, j) => silu(g) * up[j]!); // [T, F]
  return add(h, project(model, downP, act, T)); // [T, C]
}

/** GPT-2 trunk: the hidden states after `ln_f`, [T, C]. */
function gpt2Hidden(model: Model, tokens: readonly number[]): Float64Array {
  const { config, tensor } = model;
  const { hiddenSize: C, normEps: eps } = config;
  const T = tokens.length;
  const wpe = tensor('wpe.weight'); // [P, C]
  let x: Float64Array = embed(tensor('wte.weight'), tokens, C).map((e, j) => e + wpe[j]!); // [T, C]
  for (let i = 0; i < config.numLayers; i++) x = gpt2Layer(model, i, x, T);
  return layerNorm(x, T, C, tensor('ln_f.weight'), tensor('ln_f.bias'), eps); // [T, C]
}

/** One GPT-2 block; returns the new residual stream [T, C]. */
function gpt2Layer(model: Model, i: number, x: Float64Array, T: number): Float64Array {
  const { config, tensor } = model;
  const { hiddenSize: C, numHeads: H, headDim: D, normEps: eps } = config;
  const [cAttn, attnProj, cFc, mlpProj] = layerProjections(config, i) as Projections4;
  const p = `h.${i}`;

  const a = layerNorm(x, T, C, tensor(`${p}.ln_1.weight`), tensor(`${p}.ln_1.bias`), eps); // [T, C]
  const qkv = project(model, cAttn, a, T); // [T, 3C] = [Q | K | V]
  const q = columns(qkv, T, 3 * C, 0, C); // [T, H*D]
  const k = columns(qkv, T, 3 * C, C, C); // [T, H*D]
  const v = columns(qkv, T, 3 * C, 2 * C, C); // [T, H*D]
  const attn = causalAttention(q, k, v, T, H, H, D); // [T, H*D]
  const h = add(x, project(model, attnProj, attn, T)); // [T, C]

  const m = layerNorm(h, T, C, tensor(`${p}.ln_2.weight`), tensor(`${p}.ln_2.bias`), eps); // [T, C]
  const act = project(model, cFc, m, T).map(geluTanh); // [T, F]
  return add(h, project(model, mlpProj, act, T)); // [T, C]
}

type Projections7 = [
  ProjectionSpec,
  ProjectionSpec,
  ProjectionSpec,
  ProjectionSpec,
  ProjectionSpec,
  ProjectionSpec,
  ProjectionSpec,
];
type Projections4 = [ProjectionSpec, ProjectionSpec, ProjectionSpec, ProjectionSpec];

/** A projection with its bias and LoRA, if any. x [T, in] → [T, out]. */
function project(model: Model, spec: ProjectionSpec, x: Float64Array, T: number): Float64Array {
  const { path, inFeatures: inF, outFeatures: outF } = spec;
  const tied = path === 'lm_head' && model.config.tieWordEmbeddings;
  const w = model.tensor(tied ? embeddingName(model.config) : `${path}.weight`);
  const bias = spec.hasBias ? model.tensor(`${path}.bias`) : undefined;
  const y =
    spec.layout === 'out_in'
      ? linearOutIn(x, T, inF, outF, w, bias) // [T, out]
      : linearInOut(x, T, inF, outF, w, bias); // [T, out]
  const lora = model.lora.get(path);
  if (lora) addLora(y, x, T, inF, outF, lora);
  return y;
}

/** Rows of the embedding table for each token. table [V, C] → [T, C]. */
function embed(table: Numbers, tokens: readonly number[], C: number): Float64Array {
  const x = new Float64Array(tokens.length * C);
  tokens.forEach((token, t) => x.set(table.subarray(token * C, (token + 1) * C), t * C));
  return x;
}

/** Columns [from, from + width) of x [T, W] → [T, width]. */
function columns(x: Float64Array, T: number, W: number, from: number, width: number) {
  const y = new Float64Array(T * width);
  for (let t = 0; t < T; t++) y.set(x.subarray(t * W + from, t * W + from + width), t * width);
  return y;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, j) => v + b[j]!);
}

/** Checks every expected tensor and every LoRA factor up front, so a wrong fixture fails clearly. */
function openModel(config: ModelConfig, weights: ReferenceWeights, lora: ReferenceLora): Model {
  const shapes = new Map(expectedTensors(config).map((s) => [s.name, s.shape]));
  for (const [name, shape] of shapes) {
    const t = weights.get(name);
    if (!t) throw new Error(`Reference: weight ${name} is missing (expected shape [${shape}]).`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.shape.join() !== shape.join() || t.data.length !== size) {
      throw new Error(
        `Reference: weight ${name} has shape [${t.shape}] and ${t.data.length} values; expected [${shape}].`,
      );
    }
  }
  const projections = [unembedProjection(config)];
  for (let i = 0; i < config.numLayers; i++) projections.push(...layerProjections(config, i));
  const byPath = new Map(projections.map((p) => [p.path, p]));
  for (const [path, f] of lora) {
    const spec = byPath.get(path);
    if (!spec) throw new Error(`Reference: LoRA path ${path} is not a projection of this model.`);
    if (f.A.length !== f.r * spec.inFeatures || f.B.length !== spec.outFeatures * f.r) {
      throw new Error(
        `Reference: LoRA ${path} needs A [${f.r}, ${spec.inFeatures}] and B [${spec.outFeatures}, ${f.r}]; ` +
          `got ${f.A.length} and ${f.B.length} values.`,
      );
    }
  }
  const tensor = (name: string): Numbers => {
    const t = weights.get(name);
    if (!t) throw new Error(`Reference: weight ${name} is missing.`);
    return t.data;
  };
  return { config, tensor, lora };
}

function checkTokens(config: ModelConfig, tokens: readonly number[]): void {
  if (tokens.length === 0) throw new Error('Reference: tokens is empty; give at least one.');
  if (tokens.length > config.maxPositions) {
    throw new Error(
      `Reference: ${tokens.length} tokens exceed maxPositions ${config.maxPositions}.`,
    );
  }
  tokens.forEach((token, t) => {
    if (!Number.isInteger(token) || token < 0 || token >= config.vocabSize) {
      throw new Error(`Reference: tokens[${t}] = ${token} is outside [0, ${config.vocabSize}).`);
    }
  });
}
