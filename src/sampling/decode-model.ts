/**
 * What the sampler needs from a model: prefill a prompt once, then step a batch of sequences one
 * token at a time with a KV cache. The model side (src/model) implements it. On the page path the
 * sampler sees logits only as plain arrays; a model that can also leave them on the device offers
 * `prefillOnDevice`, and on webgpu with our kernels the sampler chooses tokens there
 * (device-tokens.ts), reading back only the chosen ids and their log-probs.
 */
import type * as tf from '@tensorflow/tfjs';

export interface DecodeSession {
  /** Number of sequences decoded together. */
  readonly batch: number;
  /**
   * Appends one token to each sequence (`tokens.length === batch`) and returns the next-token
   * logits, row-major [batch, V].
   */
  step(tokens: readonly number[]): Promise<Float32Array>;
  /** Frees the KV cache. */
  dispose(): void;
}

/** A session whose steps can take their tokens from, and leave their logits on, the device. */
export interface DeviceDecodeSession extends DecodeSession {
  /**
   * `step` for int32 tokens [batch] already on the device; returns the logits [batch, V] as a
   * tensor the caller disposes. Nothing is read back.
   */
  stepOnDevice(tokens: tf.Tensor1D): tf.Tensor2D;
}

export interface DecodeModel {
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model's positions allow. */
  readonly maxPositions: number;
  /**
   * Runs the prompt once and returns a session holding `batch` copies of its KV cache, with the
   * logits after the last prompt token ([V]). `maxNewTokens`, when given, is the most tokens any
   * sequence will generate (the cache may be sized for it).
   */
  prefill(
    prompt: readonly number[],
    batch: number,
    maxNewTokens?: number,
  ): Promise<{ session: DecodeSession; lastLogits: Float32Array }>;
  /**
   * Optional: `prefill` with the last logits left on the device as a tensor [1, V] the caller
   * disposes.
   */
  prefillOnDevice?(
    prompt: readonly number[],
    batch: number,
    maxNewTokens?: number,
  ): { session: DeviceDecodeSession; lastLogits: tf.Tensor2D };
}
