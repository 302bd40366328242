/**
 * Scores a prompt under the model: the log-prob of each prompt token given the ones before it
 * (`prompt_logprobs`, first entry null), and the k most likely tokens at each position
 * (`topk_prompt_logprobs`). Logits are taken a chunk of positions at a time, never [T, V] at once.
 *
 * On webgpu with our kernels both come from one forward: each chunk's logits go through the
 * log-softmax-rows kernel (log-softmax at the target, top-k by radix select) into one output that
 * is read back once at the end. Elsewhere the stock ops below run as before.
 */
import * as tf from '@tensorflow/tfjs';
import { logSoftmaxRows, promptScoreRows } from '../runtime/webgpu/ops/sampling';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import type { CausalLM } from './causal-lm';

export interface PromptScores {
  /** `prompt_logprobs`, or null when not asked for. */
  readonly logprobs: (number | null)[] | null;
  /** `topk_prompt_logprobs`, or null when not asked for (k = 0). */
  readonly topk: ([number, number][] | null)[] | null;
}

/** What a sample request asks for: `prompt_logprobs`, and `topk_prompt_logprobs = topk` (0: none). */
export async function scorePrompt(
  model: CausalLM,
  prompt: readonly number[],
  want: { readonly logprobs: boolean; readonly topk: number },
): Promise<PromptScores> {
  if (!want.logprobs && want.topk <= 0) return { logprobs: null, topk: null };
  if (gpuKernelsActive() && prompt.length > 1) {
    const k = Math.min(Math.max(0, want.topk), model.config.vocabSize);
    const rows = await scoreOnDevice(model, prompt, k);
    return {
      logprobs: want.logprobs ? [null, ...rows.map((r) => r.logprob)] : null,
      topk: want.topk > 0 ? [null, ...rows.map((r) => r.topk)] : null,
    };
  }
  return {
    logprobs: want.logprobs ? await promptLogprobs(model, prompt) : null,
    topk: want.topk > 0 ? await topkPromptLogprobs(model, prompt, want.topk) : null,
  };
}

/** lp(prompt[i] | prompt[< i]) for i ≥ 1; entry 0 is null (nothing predicts the first token). */
export async function promptLogprobs(
  model: CausalLM,
  prompt: readonly number[],
): Promise<(number | null)[]> {
  const T = prompt.length;
  if (T === 0) return [];
  if (gpuKernelsActive() && T > 1) {
    return [null, ...(await scoreOnDevice(model, prompt, 0)).map((r) => r.logprob)];
  }
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
  if (gpuKernelsActive() && T > 1) {
    return [null, ...(await scoreOnDevice(model, prompt, kk)).map((r) => r.topk)];
  }
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

/**
 * Positions 1 … T − 1 of the prompt scored on the device: the log-prob of each token and its k
 * best alternatives ([id, logprob], descending, ties lowest id first, as tf.topk orders them).
 * One forward, one kernel per chunk of positions, one readback.
 */
async function scoreOnDevice(
  model: CausalLM,
  prompt: readonly number[],
  k: number,
): Promise<{ logprob: number; topk: [number, number][] }[]> {
  const T = prompt.length;
  const width = 1 + 2 * k;
  const hidden = tf.tidy(() => {
    const h = model.hidden(tf.tensor2d([...prompt], [1, T], 'int32')); // [1, T, C]
    return tf.reshape(h, [T, -1]) as tf.Tensor2D; // [T, C]
  });
  const targets = tf.tensor1d(prompt.slice(1), 'int32'); // [T − 1]: position t predicts t + 1
  const out = promptScoreRows(T - 1, k); // [T − 1, 1 + 2k]
  let values: Float32Array;
  try {
    for (let start = 0; start < T - 1; start += model.chunkRows) {
      const size = Math.min(model.chunkRows, T - 1 - start);
      tf.tidy(() => {
        const logits = model.logits(tf.slice(hidden, [start, 0], [size, -1])); // [n, V]
        logSoftmaxRows(logits, targets, out, start, k);
      });
    }
    values = (await out.data()) as Float32Array;
  } finally {
    tf.dispose([hidden, targets, out]);
  }
  return Array.from({ length: T - 1 }, (_, r) => {
    const row = values.subarray(r * width, (r + 1) * width);
    const topk = Array.from({ length: k }, (_, j): [number, number] => [
      row[1 + 2 * j] as number,
      row[2 + 2 * j] as number,
    ]);
    topk.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    return { logprob: row[0] as number, topk };
  });
}
