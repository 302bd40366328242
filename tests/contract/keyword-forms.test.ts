// Both Loops calling forms work for every method (shared/LOOPS_API.md, "Conventions"): positional
// arguments, or one object of the Loops keyword names as the last argument; an unknown keyword is
// a ValidationError. Object URLs from get_checkpoint_archive_url are the caller's until they are
// no longer needed: deleting that checkpoint, or closing the ServiceClient, revokes them.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AdamParams,
  ModelInput,
  SamplingParams,
  ServiceClient,
  ValidationError,
} from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const start = (ns: string) =>
  new ServiceClient({ engine: 'test-channel', backend: 'cpu', storage_namespace: ns });

async function fetches(url: string): Promise<boolean> {
  try {
    await (await fetch(url)).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

afterEach(() => vi.restoreAllMocks());

describe('the keyword-object form', () => {
  it('works for every method of the three clients', async () => {
    const service = start('kw');
    const tc = await service.create_lora_training_client({
      base_model: FIXTURE_MODEL,
      rank: 2,
      seed: 3,
    });
    await tc.forward_backward({
      data: BATCHES[0]!,
      loss_fn: 'cross_entropy',
      loss_fn_config: null,
    });
    await tc.forward({ data: [makeDatum(1)] });
    await tc.optim_step({ adam_params: new AdamParams({ learning_rate: 1e-3 }) });
    const { path } = await tc.save_state({ name: 'kw-state', ttl_seconds: 60 });
    await tc.load_state({ path });
    await tc.load_state_with_optimizer({ path });
    const sampler = await tc.save_weights_for_sampler({ name: 'kw-sampler' });
    const sc = await tc.create_sampling_client({ model_path: sampler.path });
    const out = await sc.sample({
      prompt: ModelInput.from_ints([5, 6, 7]),
      num_samples: 2,
      sampling_params: new SamplingParams({ max_tokens: 2 }),
      include_prompt_logprobs: true,
      topk_prompt_logprobs: 1,
    });
    expect(out.sequences).toHaveLength(2);
    expect(await sc.compute_logprobs({ prompt: ModelInput.from_ints([5, 6, 7]) })).toHaveLength(3);
    const snap = await tc.save_weights_and_get_sampling_client({ name: 'kw-snap' });
    expect((await tc.init_trainer_server({ lora_rank: 3 })).lora_rank).toBe(3);
    const listed = await service.list_checkpoints({ run_id: tc.run_id });
    expect(listed.map((c) => c.checkpoint_id)).toContain('kw-state');
    const files = await tc.get_checkpoint_archive_url({ checkpoint_id: path });
    expect(files.total_count).toBe(4);
    const viaService = await service.get_checkpoint_archive_url({ checkpoint_id: sampler.path });
    expect(viaService.total_count).toBe(2);
    const from = await service.create_training_client_from_state({ path });
    const withOpt = await service.create_training_client_from_state_with_optimizer({ path });
    expect(withOpt.policy_version).toBe(1);
    const base = await service.create_sampling_client({ base_model: FIXTURE_MODEL });
    await service.delete_checkpoint({ checkpoint_id: sampler.path });
    expect(
      (await service.list_checkpoints({ run_id: tc.run_id })).map((c) => c.path),
    ).not.toContain(sampler.path);
    await Promise.all([sc.close(), snap.close(), base.close(), from.close(), withOpt.close()]);
    await tc.close();
    await service.close();
  });

  it('an unknown keyword is refused, naming the method', async () => {
    const service = start('kw-bad');
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 3);
    // No key is a parameter name: the object is read as checkpoint_id itself, which is no string.
    await expect(tc.get_checkpoint_archive_url({ checkpointid: 'x' })).rejects.toThrow(
      /checkpoint_id must be a checkpoint id or path \(a string\), got \{"checkpointid":"x"\}/,
    );
    await expect(service.delete_checkpoint({ checkpoint_id: 'x', force: true })).rejects.toThrow(
      /delete_checkpoint\(\) got unknown keyword 'force'/,
    );
    await expect(service.delete_checkpoint({ id: 'x' })).rejects.toThrow(ValidationError);
    await tc.close();
    await service.close();
  });
});

describe('object URLs of get_checkpoint_archive_url', () => {
  it('are revoked when their checkpoint is deleted, and all of them at close()', async () => {
    const revoke = vi.spyOn(URL, 'revokeObjectURL');
    const service = start('urls');
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 3);
    const a = await tc.save_weights_for_sampler('a');
    const b = await tc.save_weights_for_sampler('b');
    const [meta] = (await service.list_checkpoints(tc.run_id)).filter((c) => c.path === a.path);
    const filesA = await service.get_checkpoint_archive_url(meta!.id); // by id
    const filesB = await tc.get_checkpoint_archive_url(b.path); // by path, from the run's client
    const urlsA = filesA.presigned_urls.map((f) => f.url);
    const urlsB = filesB.presigned_urls.map((f) => f.url);
    expect(await fetches(urlsA[0]!)).toBe(true);
    await service.delete_checkpoint(a.path); // deleted by path: the URLs got by id go too
    expect(revoke.mock.calls.map(([u]) => u).sort()).toEqual([...urlsA].sort());
    expect(await fetches(urlsA[0]!)).toBe(false);
    expect(await fetches(urlsB[0]!)).toBe(true);
    await tc.close();
    await service.close();
    expect(await fetches(urlsB[0]!)).toBe(false);
    expect(revoke.mock.calls.map(([u]) => u)).toEqual(expect.arrayContaining(urlsB));
  });
});
