/**
 * Keys and values of past positions, per layer, for incremental decoding. Each step appends the
 * new positions; `tile` makes `n` copies of a prefilled prompt so samples decode as one batch.
 * The cache owns its tensors; `dispose` frees them.
 */
import * as tf from '@tensorflow/tfjs';

export interface LayerKv {
  /** [B, K, S, D] */
  k: tf.Tensor4D;
  /** [B, K, S, D] */
  v: tf.Tensor4D;
}

export class KvCache {
  readonly layers: (LayerKv | null)[];

  constructor(numLayers: number) {
    this.layers = new Array<LayerKv | null>(numLayers).fill(null);
  }

  /** Positions already cached. */
  get length(): number {
    return this.layers[0]?.k.shape[2] ?? 0;
  }

  /**
   * Appends new keys/values for layer i and returns the full cached k, v (owned by the cache;
   * do not dispose them). The cache keeps both tensors alive across tf.tidy scopes.
   */
  append(i: number, k: tf.Tensor4D, v: tf.Tensor4D): LayerKv {
    const prev = this.layers[i] ?? null;
    const next: LayerKv = prev
      ? { k: tf.keep(tf.concat([prev.k, k], 2)), v: tf.keep(tf.concat([prev.v, v], 2)) }
      : { k: tf.keep(k.clone()), v: tf.keep(v.clone()) };
    if (prev) tf.dispose([prev.k, prev.v]);
    this.layers[i] = next;
    return next;
  }

  /** A new cache holding `n` copies of this one's batch-1 entries (for num_samples). */
  tile(n: number): KvCache {
    const out = new KvCache(this.layers.length);
    this.layers.forEach((kv, i) => {
      if (!kv) return;
      out.layers[i] = tf.tidy(() => ({
        k: tf.keep(tf.tile(kv.k, [n, 1, 1, 1])),
        v: tf.keep(tf.tile(kv.v, [n, 1, 1, 1])),
      }));
    });
    return out;
  }

  dispose(): void {
    for (const kv of this.layers) if (kv) tf.dispose([kv.k, kv.v]);
    this.layers.fill(null);
  }
}
