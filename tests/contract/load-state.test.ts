// load_state semantics (shared/LOOPS_API.md, "TrainingClient"; Tinker's save-load docs):
// `load_state(path)` loads the checkpoint's weights and starts a fresh optimizer, exactly as a new
// run from that checkpoint (`create_training_client_from_state`) would; `load_state_with_optimizer`
// also restores the Adam moments and the step. A checkpoint of another rank or target set replaces
// the adapter's shape: later steps train it, never fail on moments of the old shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamParams, ServiceClient, type TrainingClient } from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const adam = new AdamParams({ learning_rate: 5e-3, weight_decay: 0.01 });

async function train(tc: TrainingClient, steps: number, offset = 0): Promise<number[]> {
  const norms: number[] = [];
  for (let i = 0; i < steps; i++) {
    void tc.forward_backward(BATCHES[(i + offset) % 4]!);
    norms.push((await tc.optim_step(adam)).metrics.grad_norm!);
  }
  return norms;
}

async function probe(tc: TrainingClient): Promise<number[]> {
  return (await tc.forward([makeDatum(77)])).loss_fn_outputs[0]!.logprobs.tolist();
}

describe.each(PLACEMENTS)('load_state over %s', (placement) => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `load-state-${placement}`,
    });
  });
  afterAll(() => service.close());

  /** A checkpoint after 2 steps of its own history. */
  async function checkpoint(
    name: string,
    options: { rank: number; train_mlp?: boolean },
  ): Promise<string> {
    const tc = await service.create_lora_training_client({
      base_model: FIXTURE_MODEL,
      seed: 5,
      ...options,
    });
    await train(tc, 2, 1);
    const { path } = await tc.save_state(name);
    await tc.close();
    return path;
  }

  it('load_state starts a fresh optimizer: the same as a new run from the checkpoint', async () => {
    const path = await checkpoint('same-shape', { rank: 4 });
    const live = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
    await train(live, 3); // moments and a step count of another history
    await live.load_state(path);
    expect(live.policy_version).toBe(0);
    const fresh = await service.create_training_client_from_state(path);
    expect(await probe(live)).toEqual(await probe(fresh));
    expect(await train(live, 3, 2)).toEqual(await train(fresh, 3, 2));
    expect(await probe(live)).toEqual(await probe(fresh));
    await Promise.all([live.close(), fresh.close()]);
  });

  it('a checkpoint of another rank or target set replaces the adapter; later steps train it', async () => {
    const rank2 = await checkpoint('rank-2', { rank: 2 });
    const attnOnly = await checkpoint('attn-only', { rank: 4, train_mlp: false });
    for (const path of [rank2, attnOnly]) {
      const live = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
      await train(live, 2);
      await live.load_state(path);
      const fresh = await service.create_training_client_from_state(path);
      expect(live.get_info().lora_rank).toBe(fresh.get_info().lora_rank);
      const norms = await train(live, 2, 2);
      expect(norms.every((n) => n > 0)).toBe(true);
      expect(norms).toEqual(await train(fresh, 2, 2));
      expect(await probe(live)).toEqual(await probe(fresh));
      await Promise.all([live.close(), fresh.close()]);
    }
  });

  it('load_state_with_optimizer of another rank restores its moments and step', async () => {
    const path = await checkpoint('rank-2-opt', { rank: 2 });
    const live = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
    await train(live, 3);
    await live.load_state_with_optimizer(path);
    expect(live.policy_version).toBe(2);
    expect(live.get_info().lora_rank).toBe(2);
    const resumed = await service.create_training_client_from_state_with_optimizer(path);
    expect(await train(live, 2, 3)).toEqual(await train(resumed, 2, 3));
    expect(await probe(live)).toEqual(await probe(resumed));
    expect(live.policy_version).toBe(4);
    await Promise.all([live.close(), resumed.close()]);
  });
});
