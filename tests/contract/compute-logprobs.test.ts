// compute_logprobs(prompt): the log-prob of each prompt token given the ones before it, entry 0
// null (shared/LOOPS_API.md, "SamplingClient"). Nothing is generated, so a prompt may fill the
// whole context, and it costs one forward over the prompt.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Datum, ModelInput, ServiceClient, ValidationError } from '../../src/index';
import { CausalLM } from '../../src/model/causal-lm';
import { createNodeEngine } from '../../src/engine/node-engine';
import { FIXTURE_CONFIG, FIXTURE_MODEL, writeFixtureModels } from '../helpers/fixture-model-dir';
import { PLACEMENTS, registerTestPlacements } from '../helpers/placements';

registerTestPlacements();
const T = FIXTURE_CONFIG.max_position_embeddings; // 128: the prompt fills the context
const prompt = Array.from({ length: T }, (_, i) => 5 + ((i * 37) % 4000));

describe.each(PLACEMENTS)('compute_logprobs over %s', (placement) => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `logprobs-${placement}`,
    });
  });
  afterAll(() => service.close());

  it('scores a prompt that fills the context, equal to forward on the same tokens', async () => {
    const sc = await service.create_sampling_client(FIXTURE_MODEL);
    const lp = await sc.compute_logprobs(ModelInput.from_ints(prompt));
    expect(lp).toHaveLength(T);
    expect(lp[0]).toBeNull();
    // A fresh adapter (B = 0) leaves the base model unchanged: forward over prompt[0 … T−2] with
    // targets prompt[1 … T−1] gives lp(prompt[i + 1] | prompt[≤ i]) at position i.
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 1);
    const out = await tc.forward([
      new Datum({
        model_input: ModelInput.from_ints(prompt.slice(0, -1)),
        loss_fn_inputs: { target_tokens: prompt.slice(1) },
      }),
    ]);
    const ref = out.loss_fn_outputs[0]!.logprobs.tolist();
    for (let i = 1; i < T; i++)
      expect(Math.abs((lp[i] as number) - ref[i - 1]!)).toBeLessThan(1e-5);
    await Promise.all([sc.close(), tc.close()]);
  });
});

it('compute_logprobs costs one forward over the prompt (in-process, where the model is visible)', async () => {
  const service = new ServiceClient({
    engine: 'test-in-process',
    backend: 'cpu',
    storage_namespace: 'logprobs-count',
  });
  const sc = await service.create_sampling_client(FIXTURE_MODEL);
  const hidden = vi.spyOn(CausalLM.prototype, 'hidden');
  try {
    await sc.compute_logprobs(ModelInput.from_ints(prompt.slice(0, 20)));
    expect(hidden).toHaveBeenCalledTimes(1);
    expect((hidden.mock.calls[0]![0] as { shape: number[] }).shape).toEqual([1, 20]);
  } finally {
    hidden.mockRestore();
    await sc.close();
    await service.close();
  }
});

// Tinker's compute_logprobs is a 1-token sample with prompt_logprobs, and the remote placement
// sends exactly that; so a sample request may fill the context when it asks for the prompt's
// log-probs, and is then answered with them and empty sequences (docs/API.md).
it('a sample request that fills the context: prompt log-probs and empty sequences, else a ValidationError', async () => {
  const engine = createNodeEngine({ modelsDir: writeFixtureModels() });
  await engine.init('cpu', { storageNamespace: 'logprobs-engine' } as never);
  const { samplerId } = await engine.createSampler({
    kind: 'base',
    baseModel: FIXTURE_MODEL,
    hubUrl: '',
  });
  const params = { max_tokens: 1, temperature: 1, top_p: 1, top_k: -1, seed: 0, stop: null };
  const request = (includePromptLogprobs: boolean, topkPromptLogprobs: number) => ({
    samplerId,
    prompt: Int32Array.from(prompt),
    numSamples: 2,
    params,
    includePromptLogprobs,
    topkPromptLogprobs,
  });
  try {
    const scored = await engine.sample(request(true, 0));
    expect(scored.sequences).toEqual([
      { tokens: [], logprobs: [], stop_reason: 'length' },
      { tokens: [], logprobs: [], stop_reason: 'length' },
    ]);
    const direct = await engine.computeLogprobs(samplerId, Int32Array.from(prompt));
    expect(scored.prompt_logprobs).toEqual(direct);
    const topk = await engine.sample(request(false, 3));
    expect(topk.sequences.every((q) => q.tokens.length === 0)).toBe(true);
    expect(topk.topk_prompt_logprobs).toHaveLength(T);
    await expect(engine.sample(request(false, 0))).rejects.toThrow(ValidationError);
    await expect(engine.sample(request(false, 0))).rejects.toThrow(/leaving no room to generate/);
    const tooLong = { ...request(true, 0), prompt: Int32Array.from([...prompt, 5]) };
    await expect(engine.sample(tooLong)).rejects.toThrow(ValidationError);
  } finally {
    await engine.closeSampler(samplerId);
    await engine.shutdown();
  }
});
