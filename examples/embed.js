// The embedding page's own code: it imports the built package by its name, starts the engine
// (a Worker the package finds next to its own files), trains 6 steps and samples.
//
// To get wasm threads the page must be cross-origin isolated: serve it (and the package's files)
// with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
// The package runs under a Content-Security-Policy of
//   default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self';
//   connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co
// (the hub entries only when models come from the hub); no 'unsafe-eval', no blob: workers.
// `service.backend()` says how many threads the engine got, and why when it is one.
import { AdamParams, Datum, ModelInput, SamplingParams, ServiceClient } from 'loops-web';

const log = document.getElementById('log');
const say = (line) => (log.textContent += `\n${line}`);
const params = new URLSearchParams(location.search);

async function firstShippedModel() {
  const manifest = await fetch('/models/models.json').then((r) =>
    r.ok ? r.json() : { models: [] },
  );
  return manifest.models?.[0]?.name;
}

/** A datum that trains on every token after the first: inputs t[:-1], targets t[1:]. */
function textDatum(tokens) {
  return new Datum({
    model_input: ModelInput.from_ints(tokens.slice(0, -1)),
    loss_fn_inputs: { target_tokens: tokens.slice(1), weights: tokens.slice(1).map(() => 1) },
  });
}

async function run() {
  log.textContent = 'Starting the engine…';
  const service = new ServiceClient(params.get('hub') ? { hub_url: params.get('hub') } : {});
  const report = await service.backend();
  say(`backend: ${report.backend}${report.reason ? ` (${report.reason})` : ''}`);
  if (report.wasm) {
    const w = report.wasm;
    say(`wasm threads: ${w.threads} (${w.binary} binary)${w.reason ? `: ${w.reason}` : ''}`);
  }
  const model = params.get('model') ?? (await firstShippedModel());
  const tc = await service.create_lora_training_client({
    base_model: model,
    rank: 4,
    seed: 0,
  });
  say(`model: ${model}, run ${tc.run_id}`);
  const tok = await tc.get_tokenizer();
  const data = ['Call me Ishmael.', 'The whale is white.'].map((s) => textDatum(tok.encode(s)));
  for (let step = 1; step <= 6; step++) {
    const fb = tc.forward_backward(data, 'cross_entropy');
    const opt = tc.optim_step(new AdamParams({ learning_rate: 0.005 }));
    const out = await fb;
    await opt;
    say(`step ${step}: loss ${out.loss.toFixed(3)}`);
  }
  const sampler = await tc.save_weights_and_get_sampling_client();
  const prompt = ModelInput.from_ints(tok.encode('Call me'));
  const result = await sampler.sample(prompt, 1, new SamplingParams({ max_tokens: 8, seed: 1 }));
  say(`sample: "Call me${tok.decode(result.sequences[0].tokens)}"`);
  await service.close();
  document.body.dataset.done = 'true';
}

document.getElementById('go').addEventListener('click', () =>
  run().catch((error) => {
    say(`error: ${error.message}`);
    document.body.dataset.done = 'error';
  }),
);
