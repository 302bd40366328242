/**
 * A causal language model of any supported family, over float32 weights keyed by Hugging Face
 * name, with an optional LoRA adapter wrapped around its projections. It computes final hidden
 * states (with or without a KV cache), next-token logits for sampling, and per-position
 * log-probs of target tokens for training (chunked over positions, see target-logprobs.ts).
 * The vocab tables (embedding, lm_head) may come in row parts (weight-parts.ts) so that no GPU
 * buffer exceeds the device's limits; the model then gathers and unembeds part by part.
 * Projection weights may be packed bf16 pairs (int32; src/lora/linear.ts) on webgpu.
 * The model does not own the weights or the adapter: whoever loaded them disposes them.
 */
import * as tf from '@tensorflow/tfjs';
import { DenseLinear, type Linear } from '../lora/linear';
import { LoraLinear } from '../lora/lora-linear';
import type { LoraAdapter } from '../lora/adapter';
import { UnsupportedModelError } from '../errors/loops-errors';
import { gpt2Block, llamaBlock, type Gpt2Layer, type LlamaLayer } from './blocks';
import { checkpointedStack, type StackBlock } from './checkpoint';
import type { ModelConfig } from './config';
import type { KvCache } from './kv-cache';
import { layerNorm, rmsNorm } from './layers';
import { ropeTables } from './rope';
import { defaultChunkRows, targetLogprobs } from './target-logprobs';
import { embeddingName, layerProjections, type ProjectionSpec } from './weight-names';
import { gatherRows, unembedRows, vocabTable, type VocabTable } from './weight-parts';

export interface CausalLMOptions {
  /** Rows per chunk of the unembedding in `targetLogprobs`; default keeps a chunk near 32 MiB. */
  readonly chunkRows?: number;
  /** Differentiate the unembedding weight too (full-parameter training). */
  readonly trainBase?: boolean;
  /**
   * Recompute each block in backward instead of keeping its intermediates (checkpoint.ts):
   * 'auto' (default) when a batch's saved activations would exceed both `CHECKPOINT_BUDGET` of
   * the weights and `CHECKPOINT_MIN_BYTES`; never with `trainBase` or a KV cache.
   */
  readonly checkpointLayers?: boolean | 'auto';
  /** Tokens a checkpointed block runs over at a time (whole sequences); default 256. */
  readonly checkpointChunkTokens?: number;
}

/**
 * 'auto' checkpoints once the estimated activations a plain backward saves pass this fraction of
 * the float32 weights (see `savedActivationBytes`).
 */
export const CHECKPOINT_BUDGET = 0.5;
/** ...and pass this many bytes: below it the extra forward costs more than the memory is worth. */
export const CHECKPOINT_MIN_BYTES = 64 * 2 ** 20;
/**
 * A checkpointed block runs (and is differentiated) over whole sequences, about this many tokens
 * at a time (at least one sequence).
 */
export const CHECKPOINT_CHUNK_TOKENS = 256;

export class CausalLM {
  private readonly llamaLayers: LlamaLayer[] = [];
  private readonly gpt2Layers: Gpt2Layer[] = [];
  /** The LoRA variables each layer reads (what a checkpointed block differentiates). */
  private readonly layerVariables: tf.Variable[][] = [];
  private readonly weightBytes: number;
  readonly chunkRows: number;
  /** The embedding [V, C], whole or in row parts. */
  readonly embedTable: VocabTable;
  /** The unembedding [V, C] (`lm_head.weight`, or the embedding when tied), whole or in parts. */
  readonly unembedTable: VocabTable;

  constructor(
    readonly config: ModelConfig,
    readonly weights: ReadonlyMap<string, tf.Tensor>,
    readonly adapter: LoraAdapter | null = null,
    readonly options: CausalLMOptions = {},
  ) {
    this.chunkRows = options.chunkRows ?? defaultChunkRows(config.vocabSize);
    // Float32 bytes, also for weights packed as bf16 pairs (int32, half the elements).
    const elements = (t: tf.Tensor) => (t.dtype === 'int32' ? 2 * t.size : t.size);
    this.weightBytes = [...weights.values()].reduce((sum, t) => sum + 4 * elements(t), 0);
    this.embedTable = vocabTable(weights, embeddingName(config));
    const untied = !config.tieWordEmbeddings && config.family !== 'gpt2';
    this.unembedTable = untied ? vocabTable(weights, 'lm_head.weight') : this.embedTable;
    for (let i = 0; i < config.numLayers; i++) {
      const specs = layerProjections(config, i);
      this.layerVariables.push(
        specs.flatMap((spec) => {
          const lora = adapter?.modules.get(spec.path);
          return lora ? [lora.a, lora.b] : [];
        }),
      );
      const linears = specs.map((spec) => this.linear(spec));
      if (config.family === 'gpt2') {
        const [cAttn, attnProj, cFc, mlpProj] = linears as [Linear, Linear, Linear, Linear];
        const ln = (name: string) => ({
          weight: this.w1(`h.${i}.${name}.weight`),
          bias: this.w1(`h.${i}.${name}.bias`),
        });
        this.gpt2Layers.push({ ln1: ln('ln_1'), ln2: ln('ln_2'), cAttn, attnProj, cFc, mlpProj });
      } else {
        const [q, k, v, o, gate, up, down] = linears as [
          Linear,
          Linear,
          Linear,
          Linear,
          Linear,
          Linear,
          Linear,
        ];
        const p = `model.layers.${i}`;
        this.llamaLayers.push({
          inputNorm: this.w1(`${p}.input_layernorm.weight`),
          postNorm: this.w1(`${p}.post_attention_layernorm.weight`),
          q,
          k,
          v,
          o,
          gate,
          up,
          down,
          qNorm: config.qkNorm ? this.w1(`${p}.self_attn.q_norm.weight`) : null,
          kNorm: config.qkNorm ? this.w1(`${p}.self_attn.k_norm.weight`) : null,
        });
      }
    }
  }

  /**
   * The unembedding weight [V, C]: `lm_head.weight`, or the token embedding when tied. Only for
   * a table held whole; a split one is `unembedTable.parts`.
   */
  get unembedding(): tf.Tensor2D {
    const [whole] = this.unembedTable.parts;
    if (this.unembedTable.parts.length !== 1 || !whole)
      throw new RangeError(
        `the unembedding is held in ${this.unembedTable.parts.length} parts; use unembedTable.`,
      );
    return whole;
  }

  /**
   * Final hidden states [B, T, C] (after the last norm) for int32 tokens [B, T]. With a cache,
   * positions continue from `cache.length` and the new keys/values are appended to it.
   */
  hidden(tokens: tf.Tensor2D, cache: KvCache | null = null): tf.Tensor3D {
    return tf.tidy(() => {
      const [, T] = tokens.shape;
      const offset = cache?.length ?? 0;
      if (offset + T > this.config.maxPositions) {
        throw new RangeError(
          `sequence of ${offset + T} tokens exceeds the model's ${this.config.maxPositions} positions`,
        );
      }
      const gpt2 = this.config.family === 'gpt2';
      // GPT-2's learned positions are added with the rows (one dispatch with our kernels).
      const positions = gpt2 ? { table: this.w('wpe.weight') as tf.Tensor2D, first: offset } : null;
      const x = gatherRows(this.embedTable, tokens, positions) as tf.Tensor3D; // [B, T, C]
      const checkpoint = !cache && this.checkpoints(tokens.shape[0], T);
      const chunkTokens = this.options.checkpointChunkTokens ?? CHECKPOINT_CHUNK_TOKENS;
      const blocks: StackBlock[] = [];
      const add = (i: number, run: (input: tf.Tensor3D) => tf.Tensor3D) =>
        blocks.push({ run, params: this.layerVariables[i] ?? [] });
      const runBlocks = () => {
        if (checkpoint && blocks.some((b) => b.params.length > 0)) {
          return checkpointedStack(blocks, x, Math.max(1, Math.floor(chunkTokens / T)));
        }
        return blocks.reduce((h, b) => b.run(h), x);
      };
      if (gpt2) {
        this.gpt2Layers.forEach((layer, i) => {
          add(i, (input) => gpt2Block(this.config, layer, i, input, cache));
        });
        const [gamma, beta] = [this.w1('ln_f.weight'), this.w1('ln_f.bias')];
        blocks.push({ run: (h) => layerNorm(h, gamma, beta, this.config.normEps), params: [] });
        return runBlocks();
      }
      const tables = () => ropeTables(T, this.config.headDim, this.config.ropeTheta, offset);
      const rope = tables();
      this.llamaLayers.forEach((layer, i) => {
        // A checkpointed block runs again in backward, after this scope has freed `rope`.
        const own = (input: tf.Tensor3D) =>
          tf.tidy(() => llamaBlock(this.config, layer, i, input, tables(), cache));
        add(i, checkpoint ? own : (input) => llamaBlock(this.config, layer, i, input, rope, cache));
      });
      const gamma = this.w1('model.norm.weight');
      blocks.push({ run: (h) => rmsNorm(h, gamma, this.config.normEps), params: [] });
      return runBlocks();
    });
  }

  /**
   * Logits [N, V] for hidden rows [N, C], LoRA on lm_head included (over split tables, one matmul
   * per part, concatenated). Holds [N, V]: sampling only, N small enough that it fits one buffer.
   */
  logits(h: tf.Tensor2D): tf.Tensor2D {
    const lora = this.adapter?.modules.get('lm_head');
    const factors =
      lora && this.adapter ? { a: lora.a, b: lora.b, scale: this.adapter.scale } : null;
    return unembedRows(this.unembedTable, h, factors); // [N, V]
  }

  /**
   * Log-prob of targets[b, t] given tokens[b, ≤ t], [B, T]; targets < 0 are ignored (0 there).
   * Differentiable w.r.t. the adapter's variables (and the base weights when they are variables).
   * `gradHint` [B, T]: the ∂L/∂lp the caller's loss will give, when known before the forward
   * (target-logprobs.ts `gradHint`: spares the unembedding's recomputation where it is taken).
   */
  targetLogprobs(tokens: tf.Tensor2D, targets: tf.Tensor2D, gradHint?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape;
      const C = this.config.hiddenSize;
      const h = tf.reshape(this.hidden(tokens), [B * T, C]) as tf.Tensor2D; // [B·T, C]
      const lora = this.adapter?.modules.get('lm_head');
      const unembedLora =
        lora && this.adapter
          ? {
              hA: tf.mul(tf.matMul(h, lora.a, false, true), this.adapter.scale) as tf.Tensor2D,
              b: lora.b,
            }
          : null;
      const lp = targetLogprobs(
        h,
        this.unembedTable.parts,
        tf.reshape(targets, [B * T]) as tf.Tensor1D,
        unembedLora,
        {
          chunkRows: this.chunkRows,
          trainWeight: this.options.trainBase === true,
          gradHint: gradHint ? (tf.reshape(gradHint, [B * T]) as tf.Tensor1D) : undefined,
        },
      );
      return tf.reshape(lp, [B, T]) as tf.Tensor2D;
    });
  }

  /**
   * Bytes a plain (not checkpointed) backward holds beyond the weights for B×T tokens, estimated:
   * per layer and token about 10 activations of width C, 4 of width F and the attention
   * probabilities (H·T), float32, times 6 for what TF.js keeps alongside them until the backward
   * ends (every intermediate gradient, and clones of saved inputs). The factor is measured: a
   * SmolLM2-135M step at 1×64 on wasm held 577 MiB of buffers beyond the weights, 5.8× the
   * activations alone (bench/lib/peak-memory.ts).
   */
  savedActivationBytes(batch: number, seq: number): number {
    const { hiddenSize: C, intermediateSize: F, numHeads: H, numLayers: L } = this.config;
    return 6 * 4 * batch * seq * L * (10 * C + 4 * F + 2 * H * seq);
  }

  /** Whether `hidden` checkpoints its blocks for a batch of B×T tokens. */
  checkpoints(batch: number, seq: number): boolean {
    const mode = this.options.checkpointLayers ?? 'auto';
    if (this.options.trainBase || mode === false) return false;
    if (mode === true) return true;
    const saved = this.savedActivationBytes(batch, seq);
    return saved > CHECKPOINT_BUDGET * this.weightBytes && saved > CHECKPOINT_MIN_BYTES;
  }

  /** Protected so the bench's naive baseline (bench/lib/naive.ts) can override it. */
  protected linear(spec: ProjectionSpec): Linear {
    const base = new DenseLinear(
      spec,
      this.w(`${spec.path}.weight`) as tf.Tensor2D,
      spec.hasBias ? this.w1(`${spec.path}.bias`) : null,
    );
    const lora = this.adapter?.modules.get(spec.path);
    return lora && this.adapter ? new LoraLinear(base, lora.a, lora.b, this.adapter.scale) : base;
  }

  private w(name: string): tf.Tensor {
    const t = this.weights.get(name);
    if (!t)
      throw new UnsupportedModelError(
        `weight ${name} is missing for this ${this.config.family} model.`,
      );
    return t;
  }

  private w1(name: string): tf.Tensor1D {
    return this.w(name) as tf.Tensor1D;
  }
}
