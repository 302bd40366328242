// Checkpoints through the public client: resumed training is bit-identical to uninterrupted
// training, sampler checkpoints are PEFT adapters, a PEFT adapter made elsewhere imports, and
// checkpoints outlive the ServiceClient that saved them (IndexedDB).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamParams,
  ServiceClient,
  UnknownCheckpointError,
  type TrainingClient,
} from '../../src/index';
import { parseSafetensorsHeader } from '../../src/io/safetensors';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, checkpointPathOn, registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const adam = new AdamParams({ learning_rate: 5e-3, weight_decay: 0.01, grad_clip_norm: 5 });

async function train(tc: TrainingClient, steps: number, offset = 0): Promise<void> {
  for (let i = 0; i < steps; i++) {
    void tc.forward_backward(BATCHES[(i + offset) % 4]!);
    void tc.optim_step(adam);
  }
  await tc.forward([makeDatum(1)]); // ordered after the steps above
}

async function probe(tc: TrainingClient): Promise<number[]> {
  return (await tc.forward([makeDatum(77)])).loss_fn_outputs[0]!.logprobs.tolist();
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(url)).arrayBuffer());
}

describe.each(PLACEMENTS)('checkpoints over %s', (placement) => {
  let service: ServiceClient;
  const namespace = `ckpt-${placement}`;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: namespace,
    });
  });
  afterAll(() => service.close());

  it('save_state + load_state_with_optimizer resumes bit-identically', async () => {
    const straight = await service.create_lora_training_client(FIXTURE_MODEL, 4, 21);
    await train(straight, 6);
    const first = await service.create_lora_training_client(FIXTURE_MODEL, 4, 21);
    await train(first, 3);
    const { path } = await first.save_state('half');
    expect(path).toBe(checkpointPathOn(placement, first.run_id, 'weights', 'half'));
    await train(first, 2, 3); // training that the resumed run must not see
    const resumed = await service.create_training_client_from_state_with_optimizer(path);
    expect(resumed.policy_version).toBe(3);
    await train(resumed, 3, 3);
    expect(await probe(resumed)).toEqual(await probe(straight));

    // Weights only: a fresh optimizer (zero moments, step 0), so the continuation differs.
    const weightsOnly = await service.create_training_client_from_state(path);
    expect(weightsOnly.policy_version).toBe(0);
    await train(weightsOnly, 3, 3);
    expect(await probe(weightsOnly)).not.toEqual(await probe(straight));
    await Promise.all([straight.close(), first.close(), resumed.close(), weightsOnly.close()]);
  });

  it('load_state_with_optimizer on a live run rewinds it to the checkpoint', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 8);
    await train(tc, 2);
    const before = await probe(tc);
    const { path } = await tc.save_state('rewind');
    await train(tc, 2, 2);
    expect(await probe(tc)).not.toEqual(before);
    await tc.load_state_with_optimizer(path);
    expect(tc.policy_version).toBe(2);
    expect(await probe(tc)).toEqual(before);
    await tc.close();
  });

  it('sampler checkpoints are PEFT adapters with object URLs, and import back', async () => {
    const tc = await service.create_lora_training_client({
      base_model: FIXTURE_MODEL,
      rank: 2,
      seed: 4,
      train_mlp: false,
    });
    await train(tc, 2);
    const { path } = await tc.save_weights_for_sampler('peft');
    const [meta] = (await tc.list_checkpoints()).filter((c) => c.path === path);
    expect(meta).toMatchObject({
      target: 'sampler',
      lora_adapter_config: {
        r: 2,
        target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'lm_head'],
      },
    });
    const files = await service.get_checkpoint_archive_url(meta!.id);
    expect(files.presigned_urls.map((f) => f.relative_file_name).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
    const byName = new Map(files.presigned_urls.map((f) => [f.relative_file_name, f]));
    const weights = await fetchBytes(byName.get('adapter_model.safetensors')!.url);
    expect(weights.byteLength).toBe(byName.get('adapter_model.safetensors')!.size_bytes);
    const names = parseSafetensorsHeader(weights).tensors.map((t) => t.name);
    expect(names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(names).toContain('base_model.model.lm_head.lora_B.weight');
    expect(names.some((n) => n.includes('mlp'))).toBe(false);
    // The step it was saved at (2 optimiser steps above) rides in the safetensors metadata.
    expect(parseSafetensorsHeader(weights).metadata).toEqual({
      format: 'pt',
      'loops_web.step': '2',
    });
    const config = JSON.parse(
      new TextDecoder().decode(await fetchBytes(byName.get('adapter_config.json')!.url)),
    );
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 2,
      lora_alpha: 32,
      base_model_name_or_path: FIXTURE_MODEL,
      task_type: 'CAUSAL_LM',
    });

    // The same files imported as if made elsewhere: sampling from them matches the trained run.
    const imported = await service.import_peft_adapter({
      base_model: FIXTURE_MODEL,
      adapter_model: weights,
      adapter_config: JSON.stringify(config),
      name: 'from-peft',
    });
    // It keeps the step its file records, and brings no optimizer: a run from it starts at 0.
    expect(imported).toMatchObject({ step: 2, target: 'trainer', lora_adapter_config: { r: 2 } });
    const fromImport = await service.create_training_client_from_state(imported.path);
    expect(fromImport.policy_version).toBe(0);
    expect(await probe(fromImport)).toEqual(await probe(tc));
    const sc = await service.create_sampling_client({ model_path: imported.path });
    const lp = await sc.compute_logprobs(makeDatum(77).model_input);
    const trained = await probe(tc);
    expect(lp[0]).toBeNull();
    // lp[i + 1] = log p(input[i + 1] | input[≤ i]) = the probe's target log-prob at i, for the
    // unmasked positions 3 … n − 2 (the probe's last target lies past the input).
    for (let i = 3; i < trained.length - 1; i++)
      expect(Math.abs((lp[i + 1] as number) - trained[i]!)).toBeLessThan(1e-5);
    await Promise.all([tc.close(), fromImport.close(), sc.close()]);
  });

  it('a PEFT adapter with wrong shapes is refused with the tensor named', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 4);
    const { path } = await tc.save_weights_for_sampler('shape');
    const files = await service.get_checkpoint_archive_url(path);
    const weights = await fetchBytes(
      files.presigned_urls.find((f) => f.relative_file_name.endsWith('.safetensors'))!.url,
    );
    const badConfig = { peft_type: 'LORA', r: 3, lora_alpha: 32, target_modules: ['q_proj'] };
    await expect(service.import_peft_adapter(FIXTURE_MODEL, weights, badConfig)).rejects.toThrow(
      /has shape \[2, 32\], expected \[3, 32\]/,
    );
    await tc.close();
  });

  it('checkpoints outlive the ServiceClient (a page reload) and can be deleted', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 6);
    await train(tc, 1);
    const { path } = await tc.save_state('survivor');
    const before = await probe(tc);
    const later = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: namespace,
    });
    const listed = await later.list_checkpoints(tc.run_id);
    expect(listed.map((c) => c.path)).toContain(path);
    const restored = await later.create_training_client_from_state_with_optimizer(path);
    expect(await probe(restored)).toEqual(before);
    await later.delete_checkpoint(path);
    await expect(later.create_training_client_from_state(path)).rejects.toBeInstanceOf(
      UnknownCheckpointError,
    );
    await later.close();
    await tc.close();
  });
});
