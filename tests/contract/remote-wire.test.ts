// The remote placement against the in-process engine, and against the protocol itself:
//  - one script that touches every route gives the same figures (losses, metrics, log-probs,
//    sampled tokens, checkpoint files) in-process and over HTTP to loops-web serve, bit for bit;
//  - every request body it sends matches the JSON Schema written from the Tinker SDK's types
//    (src/server/tinker/schemas.ts), so a drift from the protocol fails here;
//  - examples/sl-loop.ts and examples/rl-loop.ts, unchanged, give the same figures on both.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AdamParams, Datum, ModelInput, SamplingParams, ServiceClient } from '../../src/index';
import { checkRequestBody, hasRequestSchema } from '../../src/server/tinker/check-body';
import { runSlLoop } from '../../examples/sl-loop';
import { runRlLoop } from '../../examples/rl-loop';
import type { TextLoader } from '../../examples/lib/jsonl';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { registerTestPlacements, testServe } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const PAIR = ['test-in-process', 'test-remote'] as const;
const adam = new AdamParams({ learning_rate: 1e-2, grad_clip_norm: 10 });
const DATASETS_DIR = fileURLToPath(new URL('../../public/datasets/', import.meta.url));
const loadText: TextLoader = (file) => readFile(join(DATASETS_DIR, file), 'utf8');

const services = new Map<string, ServiceClient>();
beforeAll(() => {
  for (const placement of PAIR)
    services.set(
      placement,
      new ServiceClient({ engine: placement, backend: 'cpu', storage_namespace: 'wire' }),
    );
});
afterAll(async () => {
  for (const s of services.values()) await s.close();
});

/** Every kind of call; returns the figures (no ids or paths, which differ by design). */
async function everyRoute(service: ServiceClient) {
  const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 5);
  const losses: number[] = [];
  const steps: Record<string, number>[] = [];
  for (let i = 0; i < 3; i++) {
    const fb = tc.forward_backward(BATCHES[i]!);
    const opt = tc.optim_step(adam);
    losses.push((await fb).loss);
    steps.push({ ...(await opt).metrics });
  }
  const custom = await tc.forward_backward_custom(BATCHES[3]!, (_d: unknown, lps: unknown) => ({
    loss: tf.neg(tf.addN((lps as tf.Tensor[]).map((t) => tf.sum(t)))),
    metrics: {},
  }));
  const base = makeDatum(3);
  const lp = (await tc.forward([base])).loss_fn_outputs[0]!.logprobs.tolist();
  const rl = new Datum({
    model_input: base.model_input,
    loss_fn_inputs: {
      target_tokens: base.loss_fn_inputs.target_tokens!,
      logprobs: lp.map((v) => v - 0.1),
      advantages: lp.map((_, i) => (i % 2 ? 1 : -0.5)),
    },
  });
  const ppo = await tc.forward_backward([rl], 'ppo', { clip_low_threshold: 0.9 });
  await tc.optim_step(adam);
  const { path: state } = await tc.save_state('wire-state');
  const named = await tc.save_weights_and_get_sampling_client('wire-sampler');
  const prompt = ModelInput.from_ints(makeDatum(9).model_input.to_ints().slice(0, 6));
  const sampled = await named.sample(
    prompt,
    2,
    new SamplingParams({ max_tokens: 6, temperature: 0.8, seed: 7 }),
    true,
    3,
  );
  const snapshot = await tc.save_weights_and_get_sampling_client();
  const promptLp = await snapshot.compute_logprobs(prompt);
  const init = await tc.init_trainer_server(2);
  await tc.load_state_with_optimizer(state);
  const reloaded = (await tc.forward([makeDatum(77)])).loss_fn_outputs[0]!.logprobs.tolist();
  const resumed = await service.create_training_client_from_state_with_optimizer(state);
  const fromState = (await resumed.forward([makeDatum(77)])).loss_fn_outputs[0]!.logprobs.tolist();
  const { path: samplerPath } = await tc.save_weights_for_sampler('wire-peft');
  const files = await service.get_checkpoint_archive_url(samplerPath);
  const bytes = new Map<string, Uint8Array>();
  for (const f of files.presigned_urls)
    bytes.set(f.relative_file_name, new Uint8Array(await (await fetch(f.url)).arrayBuffer()));
  const imported = await service.import_peft_adapter({
    base_model: FIXTURE_MODEL,
    adapter_model: bytes.get('adapter_model.safetensors')!,
    adapter_config: bytes.get('adapter_config.json')!,
    name: 'wire-imported',
  });
  const fromImport = await service.create_sampling_client({ model_path: imported.path });
  const importedLp = await fromImport.compute_logprobs(prompt);
  const baseSampler = await service.create_sampling_client(FIXTURE_MODEL);
  const baseSample = await baseSampler.sample(prompt, 1, { max_tokens: 4, seed: 1 });
  const listed = (await tc.list_checkpoints()).map((c) => [c.checkpoint_id, c.target, c.step]);
  await service.delete_checkpoint(samplerPath);
  const afterDelete = (await tc.list_checkpoints()).length;
  for (const c of [named, snapshot, fromImport, baseSampler]) await c.close();
  await Promise.all([tc.close(), resumed.close()]);
  return {
    losses,
    steps,
    custom: custom.loss,
    ppo: [ppo.loss, ppo.metrics],
    sampled,
    versions: [named.policy_version, snapshot.policy_version, resumed.policy_version],
    promptLp,
    init,
    reloaded,
    fromState,
    files: [...bytes].map(([name, b]) => [name, b.length]),
    importedLp,
    baseSample: baseSample.sequences,
    listed,
    afterDelete,
  };
}

describe('remote placement vs in-process', () => {
  it('every route: the same figures bit for bit, and every body matches the SDK schema', async () => {
    const inProcess = await everyRoute(services.get('test-in-process')!);
    const sent: { route: string; body: unknown }[] = [];
    const realFetch = globalThis.fetch;
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const prefix = `${testServe().url}/api/v1/`;
      if (url.startsWith(prefix) && typeof init?.body === 'string')
        sent.push({ route: url.slice(prefix.length), body: JSON.parse(init.body) });
      return realFetch(input, init);
    });
    // A fresh client, so its session's creation is recorded too.
    const client = new ServiceClient({ engine: 'test-remote', backend: 'cpu' });
    let remote;
    try {
      remote = await everyRoute(client);
    } finally {
      await client.close();
      spy.mockRestore();
    }
    expect(remote).toEqual(inProcess);
    // Numbers with a provenance: steps 1–4 and the versions the samplers were pinned at.
    expect(remote.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(remote.versions).toEqual([4, 4, 4]);

    const routes = new Set(sent.map((s) => s.route));
    for (const route of [
      'create_session',
      'create_model',
      'forward_backward',
      'forward',
      'optim_step',
      'save_weights',
      'save_weights_for_sampler',
      'load_weights',
      'weights_info',
      'create_sampling_session',
      'asample',
      'retrieve_future',
      'unload_model',
      'loops_web/init_trainer_server',
      'loops_web/import_adapter',
    ])
      expect(routes, route).toContain(route);
    for (const { route, body } of sent) {
      expect(hasRequestSchema(route), route).toBe(true);
      expect(checkRequestBody(route, body), `${route} ${JSON.stringify(body).slice(0, 200)}`).toBe(
        null,
      );
    }
  });

  it('examples/sl-loop.ts and examples/rl-loop.ts run unchanged and give the same figures', async () => {
    const sl = async (service: ServiceClient) => {
      const r = await runSlLoop({
        service,
        loadText,
        model: FIXTURE_MODEL,
        steps: 2,
        rank: 4,
        learningRate: 1e-2,
        batchSize: 4,
        evalEvery: 2,
        trainLimit: 8,
        heldoutLimit: 3,
        answerCount: 1,
        maxAnswerTokens: 4,
      });
      return [r.steps, r.evals, r.before, r.after];
    };
    const rl = async (service: ServiceClient) => {
      const r = await runRlLoop({
        service,
        loadText,
        model: FIXTURE_MODEL,
        steps: 2,
        groupSize: 3,
        batchSize: 2,
        maxTokens: 5,
        learningRate: 1e-2,
        reward: (text) => text.length % 2,
      });
      return [r.steps, r.policyVersion];
    };
    const remote = services.get('test-remote')!;
    const local = services.get('test-in-process')!;
    expect(await sl(remote)).toEqual(await sl(local));
    expect(await rl(remote)).toEqual(await rl(local));
  });
});
