// The rest of the surface: RL losses, custom losses, sampler snapshots pinned to a version,
// metrics listeners and history, both calling forms, the _async twins.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamParams,
  Datum,
  ModelInput,
  SamplingParams,
  ServiceClient,
  WandbConfig,
} from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, checkpointPathOn, registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const adam = new AdamParams({ learning_rate: 1e-2 });

describe.each(PLACEMENTS)('API surface over %s', (placement) => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `feat-${placement}`,
    });
  });
  afterAll(() => service.close());

  it('RL losses take logprobs and advantages; on-policy importance_sampling has ratio 1', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 2);
    const base = makeDatum(3);
    const lp = (await tc.forward([base])).loss_fn_outputs[0]!.logprobs.tolist();
    const advantages = lp.map((_, i) => (i < 3 ? 0 : 1));
    const rl = new Datum({
      model_input: base.model_input,
      loss_fn_inputs: {
        target_tokens: base.loss_fn_inputs.target_tokens!,
        logprobs: lp,
        advantages,
      },
    });
    const is = await tc.forward([rl], 'importance_sampling');
    // ratio = exp(lp − q) = 1 where q = lp, so L = −Σ A = −(number of unmasked positions).
    expect(is.loss).toBeCloseTo(-(lp.length - 3), 4);
    expect(is.metrics['ratio:mean']).toBeCloseTo(1, 5);
    for (const loss of ['ppo', 'cispo', 'dro'] as const) {
      const out = await tc.forward_backward([rl], loss);
      expect(Number.isFinite(out.loss), loss).toBe(true);
    }
    const step = await tc.optim_step(adam);
    expect(step.metrics.grad_norm).toBeGreaterThan(0);
    await tc.close();
  });

  it('forward_backward_custom equals the built-in loss it reimplements', async () => {
    const custom = await service.create_lora_training_client(FIXTURE_MODEL, 4, 12);
    const builtin = await service.create_lora_training_client(FIXTURE_MODEL, 4, 12);
    const data = BATCHES[0]!;
    // −Σ lp over unmasked positions: the built-in cross_entropy (masked lp are 0 already).
    const out = await custom.forward_backward_custom(data, (_d: unknown[], lps: unknown[]) => ({
      loss: tf.neg(tf.addN((lps as tf.Tensor[]).map((t) => tf.sum(t)))),
      metrics: { custom: 1 },
    }));
    const ref = await builtin.forward_backward(data, 'cross_entropy');
    expect(out.loss).toBeCloseTo(ref.loss, 3);
    expect(out.metrics.custom).toBe(1);
    await custom.optim_step(adam);
    await builtin.optim_step(adam);
    const [a, b] = await Promise.all([
      custom.forward([makeDatum(5)]),
      builtin.forward([makeDatum(5)]),
    ]);
    a.loss_fn_outputs[0]!.logprobs.tolist().forEach((v, i) =>
      expect(Math.abs(v - b.loss_fn_outputs[0]!.logprobs.data[i]!)).toBeLessThan(1e-5),
    );
    await Promise.all([custom.close(), builtin.close()]);
  });

  it('save_weights_and_get_sampling_client pins the version: later training does not change it', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 1);
    void tc.forward_backward(BATCHES[0]!);
    void tc.optim_step(adam);
    const sc = await tc.save_weights_and_get_sampling_client('pinned');
    expect(sc.policy_version).toBe(1);
    expect(sc.model_path).toBe(checkpointPathOn(placement, tc.run_id, 'sampler_weights', 'pinned'));
    const prompt = makeDatum(9).model_input;
    const before = await sc.compute_logprobs(prompt);
    await tc.forward_backward(BATCHES[1]!);
    await tc.optim_step(adam);
    expect(await sc.compute_logprobs(prompt)).toEqual(before);
    const fresh = await tc.save_weights_and_get_sampling_client();
    expect(fresh.policy_version).toBe(2);
    expect(fresh.model_path).toBeNull();
    expect(await fresh.compute_logprobs(prompt)).not.toEqual(before);
    // Same seed and inputs ⇒ same tokens.
    const params = new SamplingParams({ max_tokens: 6, temperature: 1, seed: 42 });
    const [s1, s2] = await Promise.all([
      sc.sample(prompt, 2, params),
      sc.sample({ prompt, num_samples: 2, sampling_params: params }),
    ]);
    expect(s1.sequences.map((s) => s.tokens)).toEqual(s2.sequences.map((s) => s.tokens));
    await Promise.all([sc.close(), fresh.close(), tc.close()]);
  });

  it('metrics go to listeners and a history that downloads as JSONL', async () => {
    const tc = await service.create_lora_training_client(
      FIXTURE_MODEL,
      4,
      1,
      true,
      true,
      true,
      new WandbConfig({ project: 'lab', name: 'run-1' }),
    );
    const seen: number[] = [];
    const off = tc.on_metrics((r) => seen.push(r.step));
    for (let i = 0; i < 3; i++) {
      void tc.forward_backward(BATCHES[i]!);
      void tc.optim_step(adam);
    }
    await tc.forward([makeDatum(1)]);
    off();
    expect(seen).toEqual([1, 2, 3]);
    const history = tc.metrics_history;
    expect(history).toHaveLength(3);
    expect(history[0]!.metrics['loss:sum']).toBeGreaterThan(0);
    expect(history[0]!.metrics.learning_rate).toBe(1e-2);
    const lines = tc.metrics.toJSONL().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2]!)).toMatchObject({ step: 3, run_id: tc.run_id });
    expect(tc.metrics.project).toBe('lab');
    await tc.close();
  });

  it('_async twins resolve with the future; get_info and keyword creation work', async () => {
    const tc = await service.create_lora_training_client({
      base_model: FIXTURE_MODEL,
      rank: 3,
      seed: 1,
      max_seq_len: 64,
      timeout: 600,
    });
    expect(tc.get_info()).toEqual({
      base_model: FIXTURE_MODEL,
      lora_rank: 3,
      max_seq_len: 64,
      run_id: tc.run_id,
    });
    const fut = await tc.forward_backward_async({ data: BATCHES[0]!, loss_fn: 'cross_entropy' });
    const opt = await tc.optim_step_async({ adam_params: adam });
    expect((await fut.result_async()).loss).toBeGreaterThan(0);
    expect((await opt.result()).metrics.step).toBe(1);
    expect(await fut.future).toEqual(await fut.result());
    const init = await tc.init_trainer_server(2);
    expect(init).toEqual({ lora_rank: 2, policy_version: 0 });
    expect(() =>
      tc.forward_backward([
        new Datum({
          model_input: ModelInput.from_ints(new Array(65).fill(4)),
          loss_fn_inputs: { target_tokens: new Array(65).fill(4) },
        }),
      ]),
    ).toThrow(/max_seq_len 64/);
    await tc.close();
  });
});
