// Prompt scoring against the float64 reference: prompt log-probs and top-k alternatives.
import { beforeAll, describe, expect, it } from 'vitest';
import { referenceLogits } from '../reference/transformer-f64';
import { useCpuBackend, expectNoLeaks } from '../helpers/tf-node';
import { engineFixture, referenceLora } from '../helpers/model-fixtures';
import { promptLogprobs, topkPromptLogprobs } from '../../src/model/prompt-scoring';

beforeAll(useCpuBackend);

const prompt = [4, 19, 7, 7, 30, 2, 11];

/** log_softmax of reference logits row t. */
function refLogSoftmax(logits: Float64Array, t: number, V: number): number[] {
  const row = Array.from(logits.subarray(t * V, (t + 1) * V));
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
  return row.map((z) => z - lse);
}

describe('prompt scoring (qwen3 tiny, LoRA on q/v and lm_head, chunks of 2 rows)', () => {
  it('prompt_logprobs: null first, then lp of each token given the ones before', async () => {
    const f = engineFixture(
      'qwen3',
      { targets: ['q_proj', 'v_proj', 'lm_head'], rank: 2 },
      { chunkRows: 2 },
    );
    const V = f.config.vocabSize;
    const ref = referenceLogits(f.config, f.weights, prompt, referenceLora(f.adapter));
    const got = await expectNoLeaks(() => promptLogprobs(f.model, prompt));
    expect(got).toHaveLength(prompt.length);
    expect(got[0]).toBeNull();
    for (let i = 1; i < prompt.length; i++) {
      const want = refLogSoftmax(ref, i - 1, V)[prompt[i] as number] as number;
      expect(Math.abs((got[i] as number) - want)).toBeLessThan(1e-5);
    }
    f.dispose();
  });

  it('topk_prompt_logprobs: the k best tokens per position, in order', async () => {
    const f = engineFixture(
      'qwen3',
      { targets: ['q_proj', 'v_proj', 'lm_head'], rank: 2 },
      { chunkRows: 2 },
    );
    const V = f.config.vocabSize;
    const ref = referenceLogits(f.config, f.weights, prompt, referenceLora(f.adapter));
    const got = await expectNoLeaks(() => topkPromptLogprobs(f.model, prompt, 3));
    expect(got[0]).toBeNull();
    for (let i = 1; i < prompt.length; i++) {
      const row = refLogSoftmax(ref, i - 1, V);
      const want = row
        .map((lp, id) => [id, lp] as [number, number])
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3);
      const pairs = got[i] as [number, number][];
      expect(pairs.map((p) => p[0])).toEqual(want.map((p) => p[0]));
      pairs.forEach((p, j) =>
        expect(Math.abs(p[1] - (want[j] as [number, number])[1])).toBeLessThan(1e-5),
      );
    }
    f.dispose();
  });
});
