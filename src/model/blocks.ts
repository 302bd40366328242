/**
 * One transformer block per family (shared/reference/models-and-formats.md §1.2):
 *   Llama/Qwen (pre-norm):  h = x + o(attn(rmsnorm(x)));  out = h + down(silu(gate(n)) ⊙ up(n)), n = rmsnorm(h)
 *     Qwen2 adds q/k/v biases (inside the projections); Qwen3 RMS-normalises each q and k head
 *     (over D) after the projection and before RoPE.
 *   GPT-2 (pre-LN): h = x + c_proj(attn(split(c_attn(ln_1(x)))));  out = h + c_proj(gelu(c_fc(ln_2(h))))
 * Each takes x [B, T, C] and returns a new [B, T, C]; the caller owns the result.
 */
import * as tf from '@tensorflow/tfjs';
import type { Linear } from '../lora/linear';
import type { ModelConfig } from './config';
import { attendPacked, attendProjections } from './attention';
import type { KvCache } from './kv-cache';
import { geluTanh, layerNorm, rmsNorm, swiglu } from './layers';
import type { RopeTables } from './rope';

/** Applies a 2-D projection to a [B, T, in] activation. */
export function project(linear: Linear, x: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, C] = x.shape;
    const y = linear.apply(tf.reshape(x, [B * T, C])); // [B·T, out]
    return tf.reshape(y, [B, T, linear.spec.outFeatures]);
  });
}

/**
 * residual + linear(x), [B, T, out]: the add in the projection's own dispatch where the linear
 * fuses it (`applyAdd`: our WebGPU kernels), else a separate add.
 */
export function projectAdd(linear: Linear, x: tf.Tensor3D, residual: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, C] = x.shape;
    const out = linear.spec.outFeatures;
    const x2 = tf.reshape<tf.Rank.R2>(x, [B * T, C]);
    const r2 = tf.reshape<tf.Rank.R2>(residual, [B * T, out]);
    const y = linear.applyAdd ? linear.applyAdd(x2, r2) : tf.add(r2, linear.apply(x2)); // [B·T, out]
    return tf.reshape(y, [B, T, out]);
  });
}

export interface LlamaLayer {
  readonly inputNorm: tf.Tensor1D;
  readonly postNorm: tf.Tensor1D;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  readonly qNorm: tf.Tensor1D | null;
  readonly kNorm: tf.Tensor1D | null;
}

export type { RopeTables } from './rope';

export function llamaBlock(
  config: ModelConfig,
  layer: LlamaLayer,
  index: number,
  x: tf.Tensor3D,
  rope: RopeTables,
  cache: KvCache | null,
): tf.Tensor3D {
  return tf.tidy(() => {
    const { numHeads: H, numKvHeads: K, headDim: D, normEps: eps } = config;
    const n1 = rmsNorm(x, layer.inputNorm, eps); // [B, T, C]
    const headNorm = layer.qNorm && layer.kNorm ? { q: layer.qNorm, k: layer.kNorm, eps } : null;
    const attended = attendProjections(
      project(layer.q, n1), // [B, T, H·D]
      project(layer.k, n1), // [B, T, K·D]
      project(layer.v, n1), // [B, T, K·D]
      { H, K, D },
      { rope, headNorm, cache, index },
    ); // [B, T, H·D]
    const h = projectAdd(layer.o, attended, x); // [B, T, C]
    const n2 = rmsNorm(h, layer.postNorm, eps);
    const gated = swiglu(project(layer.gate, n2), project(layer.up, n2)); // [B, T, F]
    return projectAdd(layer.down, gated, h);
  });
}

export interface Gpt2Layer {
  readonly ln1: { weight: tf.Tensor1D; bias: tf.Tensor1D };
  readonly ln2: { weight: tf.Tensor1D; bias: tf.Tensor1D };
  readonly cAttn: Linear;
  readonly attnProj: Linear;
  readonly cFc: Linear;
  readonly mlpProj: Linear;
}

export function gpt2Block(
  config: ModelConfig,
  layer: Gpt2Layer,
  index: number,
  x: tf.Tensor3D,
  cache: KvCache | null,
): tf.Tensor3D {
  return tf.tidy(() => {
    const { numHeads: H, headDim: D, normEps: eps } = config;
    const n1 = layerNorm(x, layer.ln1.weight, layer.ln1.bias, eps);
    const qkv = project(layer.cAttn, n1); // [B, T, 3C], [Q | K | V]
    const attended = attendPacked(qkv, { H, K: H, D }, { cache, index }); // [B, T, H·D]
    const h = projectAdd(layer.attnProj, attended, x); // [B, T, C]
    const n2 = layerNorm(h, layer.ln2.weight, layer.ln2.bias, eps);
    return projectAdd(layer.mlpProj, geluTanh(project(layer.cFc, n2)), h);
  });
}
