// The Loops quickstart through the public client, over both placements: tokenize, mask the prompt
// with -100, forward_backward, optim_step, save for the sampler, sample, list checkpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamParams,
  Datum,
  ModelInput,
  SamplingParams,
  ServiceClient,
  TensorData,
} from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, checkpointPathOn, registerTestPlacements } from '../helpers/placements';

registerTestPlacements();

describe.each(PLACEMENTS)('quickstart over %s', (placement) => {
  let service: ServiceClient;

  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `quick-${placement}`,
    });
  });
  afterAll(() => service.close());

  it('lists the shipped fixture first and reports the backend', async () => {
    const caps = await service.get_server_capabilities();
    expect(caps.supported_models[0]).toMatchObject({
      model_name: FIXTURE_MODEL,
      shipped: true,
      max_context_length: 128,
    });
    expect(caps.supported_models.map((m) => m.model_name)).toContain('HuggingFaceTB/SmolLM2-135M');
    expect(caps.backend).toBe('cpu');
  });

  it('trains, saves, samples and lists checkpoints', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 11);
    expect(tc.policy_version).toBe(0);
    const tok = await tc.get_tokenizer();
    const prompt = tok.encode('Call me Ishmael.', { add_special_tokens: false });
    const completion = tok.encode(' Some years ago', { add_special_tokens: false });
    const tokens = [...prompt, ...completion];
    // Inputs drop the last token, targets drop the first; prompt targets are masked with -100.
    const targets = tokens.slice(1).map((t, i) => (i + 1 < prompt.length ? -100 : t));
    const datum = new Datum({
      model_input: ModelInput.from_ints(tokens.slice(0, -1)),
      loss_fn_inputs: {
        target_tokens: new TensorData({ data: targets, dtype: 'int64', shape: [targets.length] }),
      },
    });
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const fb = tc.forward_backward([datum], 'cross_entropy');
      const opt = tc.optim_step(new AdamParams({ learning_rate: 1e-2 }));
      const out = await fb;
      const res = await opt.result();
      losses.push(out.loss);
      expect(out.loss_fn_outputs[0]?.logprobs.shape).toEqual([targets.length]);
      expect(out.metrics['num_tokens:sum']).toBe(targets.length);
      expect(res.metrics.step).toBe(step + 1);
      expect(res.metrics.grad_norm).toBeGreaterThan(0);
    }
    console.log(`${placement}: quickstart losses ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
    expect(tc.policy_version).toBe(6);
    expect(losses[5]).toBeLessThan((losses[0] as number) * 0.8);

    const saved = await tc.save_weights_for_sampler('step-6').result();
    expect(saved.path).toBe(checkpointPathOn(placement, tc.run_id, 'sampler_weights', 'step-6'));
    const sc = await tc.create_sampling_client(saved.path);
    const result = await sc.sample({
      prompt: ModelInput.from_ints(prompt),
      num_samples: 3,
      sampling_params: new SamplingParams({ max_tokens: 5, temperature: 0.7, seed: 1 }),
      include_prompt_logprobs: true,
    });
    expect(result.sequences).toHaveLength(3);
    expect(result.policy_version).toBe(6);
    for (const s of result.sequences) {
      expect(s.tokens.length).toBeGreaterThan(0);
      expect(s.tokens.length).toBeLessThanOrEqual(5);
      expect(s.logprobs).toHaveLength(s.tokens.length);
    }
    expect(result.prompt_logprobs?.[0]).toBeNull();
    expect(result.prompt_logprobs).toHaveLength(prompt.length);

    const checkpoints = await tc.list_checkpoints();
    expect(checkpoints.map((c) => [c.checkpoint_id, c.target])).toEqual([['step-6', 'sampler']]);
    expect(checkpoints[0]).toMatchObject({
      base_model: FIXTURE_MODEL,
      lora_adapter_config: { r: 4, lora_alpha: 32 },
      step: 6,
    });
    await sc.close();
    await tc.close();
  });
});
