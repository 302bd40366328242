/**
 * `DecodeModel` over a `CausalLM`: the prompt is run once (batch 1) into a KV cache, which is then
 * tiled to `batch` sequences (on webgpu sharing the prefill, see kv-cache.ts); each step feeds one
 * token per sequence and reads back [batch, V] logits, or, on the device path (`prefillOnDevice` /
 * `stepOnDevice`), leaves them on the device for the sampler's kernels
 * (src/sampling/device-tokens.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { DecodeModel, DeviceDecodeSession } from '../sampling/decode-model';
import type { CausalLM } from './causal-lm';
import { KvCache } from './kv-cache';

export class LmDecoder implements DecodeModel {
  constructor(private readonly model: CausalLM) {}

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get maxPositions(): number {
    return this.model.config.maxPositions;
  }

  /**
   * `maxNewTokens` (optional; the decode loop's limit) sizes the KV cache on webgpu so no step
   * grows it: prompt + maxNewTokens positions, capped by the model's.
   */
  async prefill(
    prompt: readonly number[],
    batch: number,
    maxNewTokens?: number,
  ): Promise<{ session: DeviceDecodeSession; lastLogits: Float32Array }> {
    const { session, lastLogits } = this.prefillOnDevice(prompt, batch, maxNewTokens);
    try {
      return { session, lastLogits: (await lastLogits.data()) as Float32Array };
    } catch (error) {
      session.dispose();
      throw error;
    } finally {
      lastLogits.dispose();
    }
  }

  /** `prefill` with the last logits [1, V] left as a tensor the caller disposes. */
  prefillOnDevice(
    prompt: readonly number[],
    batch: number,
    maxNewTokens?: number,
  ): { session: DeviceDecodeSession; lastLogits: tf.Tensor2D } {
    if (prompt.length === 0) throw new RangeError('the prompt must hold at least one token');
    const capacity =
      maxNewTokens === undefined
        ? undefined
        : Math.min(prompt.length + maxNewTokens, this.model.config.maxPositions);
    // With several samples the prefill holds the prompt only; `tile` adds each sample's room.
    const single = new KvCache(this.model.config.numLayers, {
      capacity: batch === 1 ? capacity : prompt.length,
    });
    let logits: tf.Tensor2D | null = null;
    try {
      logits = tf.tidy(() => {
        const tokens = tf.tensor2d([...prompt], [1, prompt.length], 'int32');
        const h = this.model.hidden(tokens, single); // [1, T, C]
        const last = tf.reshape(
          tf.slice(h, [0, prompt.length - 1, 0], [1, 1, -1]),
          [1, -1],
        ) as tf.Tensor2D;
        return this.model.logits(last); // [1, V]
      });
      const cache = batch === 1 ? single : single.tile(batch, capacity);
      return { session: new LmSession(this.model, cache, batch), lastLogits: logits };
    } catch (error) {
      logits?.dispose();
      single.dispose();
      throw error;
    } finally {
      if (batch !== 1) single.dispose();
    }
  }
}

class LmSession implements DeviceDecodeSession {
  constructor(
    private readonly model: CausalLM,
    private readonly cache: KvCache,
    readonly batch: number,
  ) {}

  async step(tokens: readonly number[]): Promise<Float32Array> {
    if (tokens.length !== this.batch)
      throw new RangeError(`step needs ${this.batch} tokens, got ${tokens.length}`);
    const logits = tf.tidy(() => this.stepOnDevice(tf.tensor1d([...tokens], 'int32')));
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  }

  stepOnDevice(tokens: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const input = tf.reshape(tokens, [this.batch, 1]) as tf.Tensor2D; // [B, 1]
      const h = this.model.hidden(input, this.cache); // [B, 1, C]
      return this.model.logits(tf.reshape(h, [this.batch, -1]) as tf.Tensor2D); // [B, V]
    });
  }

  dispose(): void {
    this.cache.dispose();
  }
}
