/**
 * Scores a prompt under the model: the log-prob of each prompt token given the ones before it
 * (`prompt_logprobs`, first entry null), and the k most likely tokens at each position
 * (`topk_prompt_logprobs`). Logits are taken a chunk of positions at a time, never [T, V] at once.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm';

/** lp(prompt[i] | prompt[< i]) for i ≥ 1; entry 0 is null (nothing predicts the first token). */
export async function promptLogprobs(
  model: CausalLM,
  prompt: readonly number[],
): Promise<(number | null)[]> {
  const T = prompt.length;
  if (T === 0) return [];
  const lp = tf.tidy(() => {
    const tokens = tf.tensor2d([...prompt], [1, T], 'int32');
    const targets = tf.tensor2d([...prompt.slice(1), -100], [1, T], 'int32'); // position t predicts t + 1
    return model.targetLogprobs(tokens, targets); // [1, T]
  });
  const values = await lp.data();
  lp.dispose();
  return [null, ...Array.from(values.subarray(0, T - 1))];
}

/**
 * For each position i ≥ 1, the k most likely tokens for prompt[i] given prompt[< i], as
 * [token_id, logprob] pairs in descending order; entry 0 is null.
 */
export async function topkPromptLogprobs(
  model: CausalLM,
  prompt: readonly number[],
  k: number,
): Promise<([number, number][] | null)[]> {
  const T = prompt.length;
  if (T === 0) return [];
  const kk = Math.min(k, model.config.vocabSize);
  const hidden = tf.tidy(() => {
    const h = model.hidden(tf.tensor2d([...prompt], [1, T], 'int32')); // [1, T, C]
    return tf.reshape(h, [T, -1]) as tf.Tensor2D; // [T, C]
  });
  const out: ([number, number][] | null)[] = [null];
  try {
    for (let start = 0; start < T - 1; start += model.chunkRows) {
      const size = Math.min(model.chunkRows, T - 1 - start);
      const { values, indices } = tf.tidy(() => {
        const rows = tf.slice(hidden, [start, 0], [size, -1]);
        return tf.topk(tf.logSoftmax(model.logits(rows)), kk); // [n, k] each
      });
      const [v, ix] = await Promise.all([values.data(), indices.data()]);
      tf.dispose([values, indices]);
      for (let r = 0; r < size; r++) {
        out.push(
          Array.from({ length: kk }, (_, j): [number, number] => [
            ix[r * kk + j] as number,
            v[r * kk + j] as number,
          ]),
        );
      }
    }
  } finally {
    hidden.dispose();
  }
  return out;
}
