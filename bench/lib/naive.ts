/**
 * Deliberately naive baselines, so `npm run bench` can report what each optimisation buys as a
 * ratio against the plain way of doing the same maths. Never used by the engine.
 *
 * - `MaterialisedLoraLinear`: LoRA as y = x·(W + s·B·A)ᵀ (+ b), forming the merged [out, in] weight
 *   on every call, instead of the two rank-R matmuls of src/lora/lora-linear.ts
 *   (Hu et al. 2021, eq. 3: h = W₀x + ΔWx, ΔW = B·A, scaled by s = α/r).
 * - `NaiveCausalLM`: a CausalLM built on those, whose `targetLogprobs` holds the full [B·T, V]
 *   logits and their log_softmax, instead of the chunked custom gradient of target-logprobs.ts.
 * - `NoCacheDecoder`: a `DecodeModel` that reruns the whole sequence through the model at every
 *   step, instead of the KV cache of src/model/lm-decoder.ts.
 * Each computes the same numbers as its optimised counterpart (tests/unit/bench-naive.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Linear } from '../../src/lora/linear';
import { UnsupportedModelError } from '../../src/errors/loops-errors';
import { CausalLM } from '../../src/model/causal-lm';
import type { ProjectionSpec } from '../../src/model/weight-names';
import type { DecodeModel, DecodeSession } from '../../src/sampling/decode-model';

/** LoRA with W' = W + s·ΔW formed explicitly at every `apply`; differentiable w.r.t. A and B. */
export class MaterialisedLoraLinear implements Linear {
  constructor(
    readonly spec: ProjectionSpec,
    /** `[out, in]` for nn.Linear, `[in, out]` for GPT-2 Conv1D (`spec.layout`). */
    readonly weight: tf.Tensor2D,
    readonly bias: tf.Tensor1D | null,
    /** [R, in] */
    readonly loraA: tf.Variable<tf.Rank.R2>,
    /** [out, R] */
    readonly loraB: tf.Variable<tf.Rank.R2>,
    readonly scale: number,
  ) {}

  /** Returns a new tensor [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const delta = tf.mul(tf.matMul(this.loraB, this.loraA), this.scale); // [out, in]
      const outIn = this.spec.layout === 'out_in';
      const merged = tf.add(this.weight, outIn ? delta : tf.transpose(delta)) as tf.Tensor2D; // stored layout
      const y = tf.matMul(x, merged, false, outIn) as tf.Tensor2D; // [N, out]
      return this.bias ? (tf.add(y, this.bias) as tf.Tensor2D) : y;
    });
  }
}

/** A CausalLM with materialised LoRA projections and full-vocabulary target log-probs. */
export class NaiveCausalLM extends CausalLM {
  // Called from CausalLM's constructor, before any field of this subclass exists: it may read
  // only what the base class has set (config, weights, adapter).
  protected override linear(spec: ProjectionSpec): Linear {
    const lora = this.adapter?.modules.get(spec.path);
    if (!lora || !this.adapter) return super.linear(spec);
    const tensor = (name: string): tf.Tensor => {
      const t = this.weights.get(name);
      if (!t)
        throw new UnsupportedModelError(
          `weight ${name} is missing for this ${this.config.family} model.`,
        );
      return t;
    };
    return new MaterialisedLoraLinear(
      spec,
      tensor(`${spec.path}.weight`) as tf.Tensor2D,
      spec.hasBias ? (tensor(`${spec.path}.bias`) as tf.Tensor1D) : null,
      lora.a,
      lora.b,
      this.adapter.scale,
    );
  }

  /**
   * Log-prob of targets[b, t] given tokens[b, ≤ t], [B, T], through the whole [B·T, V] logits;
   * targets < 0 give 0, as in CausalLM. Differentiable w.r.t. the adapter. Returns a new tensor.
   */
  override targetLogprobs(tokens: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape;
      const h = tf.reshape(this.hidden(tokens), [B * T, this.config.hiddenSize]) as tf.Tensor2D; // [B·T, C]
      const V = this.config.vocabSize;
      const logProbs = tf.logSoftmax(this.logits(h)); // [B·T, V]
      const flat = tf.reshape(targets, [B * T]) as tf.Tensor1D; // [B·T]
      const safe = tf.maximum(flat, tf.scalar(0, 'int32')); // [B·T]
      // Row i's target sits at i·V + t of the flattened log-probs. (tf.gather with batchDims reads
      // out of bounds on the wasm backend of TF.js 4.22, so the batch index is folded in by hand.)
      const at = tf.add(tf.mul(tf.range(0, B * T, 1, 'int32'), tf.scalar(V, 'int32')), safe); // [B·T]
      const picked = tf.gather(tf.reshape(logProbs, [B * T * V]), at); // [B·T]
      const valid = tf.cast(tf.greaterEqual(flat, 0), 'float32'); // [B·T]
      return tf.reshape(tf.mul(picked, valid), [B, T]) as tf.Tensor2D;
    });
  }
}

/** `DecodeModel` without a KV cache: every call runs the full sequences through `model.hidden`. */
export class NoCacheDecoder implements DecodeModel {
  constructor(private readonly model: CausalLM) {}

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get maxPositions(): number {
    return this.model.config.maxPositions;
  }

  /** Runs the prompt once (batch 1, as LmDecoder); the session keeps `batch` copies of it. */
  async prefill(
    prompt: readonly number[],
    batch: number,
  ): Promise<{ session: DecodeSession; lastLogits: Float32Array }> {
    if (prompt.length === 0) throw new RangeError('the prompt must hold at least one token');
    const lastLogits = await lastPositionLogits(this.model, [[...prompt]]); // [V]
    const sequences = Array.from({ length: batch }, () => [...prompt]);
    return { session: new NoCacheSession(this.model, sequences), lastLogits };
  }
}

class NoCacheSession implements DecodeSession {
  constructor(
    private readonly model: CausalLM,
    /** Every token of each sequence so far; all the same length (the loop pads finished ones). */
    private readonly sequences: number[][],
  ) {}

  get batch(): number {
    return this.sequences.length;
  }

  async step(tokens: readonly number[]): Promise<Float32Array> {
    if (tokens.length !== this.batch)
      throw new RangeError(`step needs ${this.batch} tokens, got ${tokens.length}`);
    this.sequences.forEach((seq, i) => seq.push(tokens[i] as number));
    return lastPositionLogits(this.model, this.sequences); // [batch, V]
  }

  /** Holds no tensors. */
  dispose(): void {}
}

/** Next-token logits after the last position of each equal-length sequence, row-major [B, V]. */
async function lastPositionLogits(model: CausalLM, sequences: number[][]): Promise<Float32Array> {
  const B = sequences.length;
  const T = sequences[0]?.length ?? 0;
  const logits = tf.tidy(() => {
    const tokens = tf.tensor2d(sequences.flat(), [B, T], 'int32'); // [B, T]
    const h = model.hidden(tokens); // [B, T, C]
    const last = tf.reshape(tf.slice(h, [0, T - 1, 0], [B, 1, -1]), [B, -1]) as tf.Tensor2D; // [B, C]
    return model.logits(last); // [B, V]
  });
  try {
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
  }
}
