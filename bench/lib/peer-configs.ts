/**
 * The peer benchmark's model sizes (`npm run bench:peer`, bench/peer.ts) and the GPT-2 config.json
 * our side runs at each: shared with bench/gpu-counts.ts, which counts the same model's work.
 */
import type { PeerShape } from '../browser/peer-page';

export const PEER_CONFIGS: Readonly<Record<string, PeerShape>> = {
  i: { layers: 2, heads: 4, width: 64, vocab: 128, batch: 4, seq: 64 },
  ii: { layers: 4, heads: 4, width: 192, vocab: 128, batch: 8, seq: 128 },
};

/** The GPT-2 config.json of a shape (random weights; ids 0..vocab−1, EOS 0). */
export function peerGpt2Config(shape: PeerShape) {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    n_embd: shape.width,
    n_head: shape.heads,
    n_layer: shape.layers,
    n_positions: 256,
    n_ctx: 256,
    vocab_size: shape.vocab,
    bos_token_id: 0,
    eos_token_id: 0,
    tie_word_embeddings: true,
  };
}
