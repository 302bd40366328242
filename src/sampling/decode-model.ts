/**
 * What the sampler needs from a model: prefill a prompt once, then step a batch of sequences one
 * token at a time with a KV cache. The model side (src/model) implements it; the sampler never sees
 * tensors, only logits as plain arrays.
 */
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

export interface DecodeModel {
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model's positions allow. */
  readonly maxPositions: number;
  /**
   * Runs the prompt once and returns a session holding `batch` copies of its KV cache, with the
   * logits after the last prompt token ([V]).
   */
  prefill(
    prompt: readonly number[],
    batch: number,
  ): Promise<{ session: DecodeSession; lastLogits: Float32Array }>;
}
