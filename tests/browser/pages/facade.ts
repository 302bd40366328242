// Harness: the Loops quickstart through the public client, with the engine in a real Worker.
// The model comes from a hub-layout folder served by Vite (see global-setup.ts).
import {
  AdamParams,
  Datum,
  ModelInput,
  SamplingParams,
  ServiceClient,
  TensorData,
  type BackendRequest,
} from '../../../src/index';

const HUB = `${location.origin}/test-results/hub`;
const MODEL = 'fixture/tiny-llama';

function client(backend: BackendRequest, namespace: string): ServiceClient {
  return new ServiceClient({ backend, hub_url: HUB, storage_namespace: namespace });
}

function datumFor(prompt: number[], completion: number[]): Datum {
  const tokens = [...prompt, ...completion];
  const targets = tokens.slice(1).map((t, i) => (i + 1 < prompt.length ? -100 : t));
  return new Datum({
    model_input: ModelInput.from_ints(tokens.slice(0, -1)),
    loss_fn_inputs: {
      target_tokens: new TensorData({ data: targets, dtype: 'int64', shape: [targets.length] }),
    },
  });
}

async function quickstart(backend: BackendRequest, namespace: string) {
  const service = client(backend, namespace);
  const progress: number[] = [];
  try {
    const report = await service.backend();
    const tc = await service.create_lora_training_client({
      base_model: MODEL,
      rank: 4,
      seed: 3,
      on_progress: (p: { loaded: number }) => progress.push(p.loaded),
    });
    const tok = await tc.get_tokenizer();
    const prompt = tok.encode('Call me Ishmael.', { add_special_tokens: false });
    const datum = datumFor(prompt, tok.encode(' Some years ago', { add_special_tokens: false }));
    const losses: number[] = [];
    const gradNorms: number[] = [];
    for (let i = 0; i < 4; i++) {
      const fb = tc.forward_backward([datum], 'cross_entropy');
      const opt = tc.optim_step(new AdamParams({ learning_rate: 2e-2 }));
      losses.push((await fb).loss);
      gradNorms.push((await opt).metrics.grad_norm ?? Number.NaN);
    }
    const { path } = await tc.save_weights_for_sampler('final');
    const sc = await service.create_sampling_client({ model_path: path });
    const sample = await sc.sample(
      ModelInput.from_ints(prompt),
      2,
      new SamplingParams({ max_tokens: 4, seed: 1 }),
    );
    const checkpoints = await tc.list_checkpoints();
    const state = await tc.save_state('before-reload');
    const probe = (await tc.forward([datum])).loss_fn_outputs[0]!.logprobs.tolist();
    return {
      backend: report.backend,
      adapter: report.adapter?.description || report.adapter?.architecture || null,
      progressEvents: progress.length,
      losses,
      gradNorms,
      policyVersion: tc.policy_version,
      samples: sample.sequences.map((s) => s.tokens.length),
      checkpoints: checkpoints.map((c) => `${c.target}:${c.checkpoint_id}`),
      statePath: state.path,
      probe,
      runId: tc.run_id,
    };
  } finally {
    await service.close();
  }
}

async function resume(
  backend: BackendRequest,
  namespace: string,
  runId: string,
  statePath: string,
) {
  const service = client(backend, namespace);
  try {
    const listed = await service.list_checkpoints(runId);
    const tc = await service.create_training_client_from_state_with_optimizer(statePath);
    const tok = await tc.get_tokenizer();
    const prompt = tok.encode('Call me Ishmael.', { add_special_tokens: false });
    const datum = datumFor(prompt, tok.encode(' Some years ago', { add_special_tokens: false }));
    const probe = (await tc.forward([datum])).loss_fn_outputs[0]!.logprobs.tolist();
    return { listed: listed.map((c) => c.path), policyVersion: tc.policy_version, probe };
  } finally {
    await service.close();
  }
}

Object.assign(window, { quickstart, resume });
document.body.dataset.ready = 'true';
