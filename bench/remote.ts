/**
 * `npm run bench:remote`: what the Tinker protocol costs. One training step (forward_backward +
 * optim_step, submitted back to back, then awaited) on the shipped tiny model, in-process and over
 * HTTP to a `loops-web serve` process on 127.0.0.1, same backend, same data; reps alternate between
 * the two so a busy machine slows both alike. Also a 16-token sample. Prints a table, writes
 * bench/results/<date>-remote-<backend>.json. Never pass/fail.
 *
 *   node --import tsx bench/remote.ts [--backend wasm|cpu] [--reps 12]
 */
import { parseArgs } from 'node:util';
import {
  AdamParams,
  Datum,
  ModelInput,
  SamplingParams,
  ServiceClient,
  type SamplingClient,
  type TrainingClient,
} from '../src/node';
import { spawnServe } from '../tests/helpers/serve-process';
import { machineInfo, writeResults } from './lib/results';
import { formatTable } from './lib/table';
import { median, timed } from './lib/timing';

const { values: flags } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    reps: { type: 'string', default: '12' },
    model: { type: 'string', default: 'loops-tiny-llama' },
  },
});
const backend = flags.backend as 'wasm' | 'cpu';
const reps = Number(flags.reps);
const MODEL = flags.model!;

/** `rows` datums of `tokens` tokens each, ids inside any shipped vocabulary. */
function batch(rows: number, tokens: number): Datum[] {
  return Array.from({ length: rows }, (_, r) => {
    const ids = Array.from({ length: tokens + 1 }, (_, i) => 3 + ((r * 131 + i * 17) % 4000));
    return new Datum({
      model_input: ModelInput.from_ints(ids.slice(0, -1)),
      loss_fn_inputs: { target_tokens: ids.slice(1) },
    });
  });
}

// Bytes the remote placement puts on the wire, counted at fetch.
let sentBytes = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (typeof init?.body === 'string') sentBytes += Buffer.byteLength(init.body);
  return realFetch(input, init);
};

const serve = await spawnServe(['--backend', backend, '--checkpoint-dir', 'memory']);
const local = new ServiceClient({ engine: 'in-process', backend });
const remote = new ServiceClient({ engine: 'remote', base_url: serve.url, api_key: serve.apiKey });
const adam = new AdamParams({ learning_rate: 1e-3 });

interface Side {
  readonly tc: TrainingClient;
  readonly sc: SamplingClient;
  readonly samples: { step: number[]; sample: number[] };
}
const sides: Record<'in-process' | 'remote', Side> = {} as never;
for (const [name, service] of [
  ['in-process', local],
  ['remote', remote],
] as const) {
  const tc = await service.create_lora_training_client(MODEL, 8, 1);
  sides[name] = {
    tc,
    sc: await tc.save_weights_and_get_sampling_client(),
    samples: { step: [], sample: [] },
  };
}

const rows: Record<string, string | number>[] = [];
const prompt = ModelInput.from_ints(batch(1, 16)[0]!.model_input.to_ints());
const params = new SamplingParams({ max_tokens: 16, temperature: 1, seed: 1 });
for (const [rowsN, tokens] of [
  [1, 64],
  [4, 64],
] as const) {
  const data = batch(rowsN, tokens);
  const results: Record<string, number> = {};
  const bytes: number[] = [];
  for (const side of Object.values(sides)) side.samples.step = [];
  for (let rep = -2; rep < reps; rep++) {
    for (const [name, side] of Object.entries(sides)) {
      const before = sentBytes;
      const { ms } = await timed(async () => {
        const fb = side.tc.forward_backward(data);
        const opt = side.tc.optim_step(adam);
        await fb;
        await opt;
      });
      if (rep >= 0) side.samples.step.push(ms);
      if (name === 'remote' && rep >= 0) bytes.push(sentBytes - before);
    }
  }
  for (const [name, side] of Object.entries(sides)) results[name] = median(side.samples.step);
  rows.push({
    case: `train step ${rowsN}×${tokens}`,
    inProcess: results['in-process']!,
    remote: results.remote!,
    overhead: results.remote! - results['in-process']!,
    ratio: results.remote! / results['in-process']!,
    kib: median(bytes) / 1024,
  });
}
for (let rep = -2; rep < reps; rep++) {
  for (const side of Object.values(sides)) {
    const { ms } = await timed(() => side.sc.sample(prompt, 1, params));
    if (rep >= 0) side.samples.sample.push(ms);
  }
}
const [l, r] = [median(sides['in-process'].samples.sample), median(sides.remote.samples.sample)];
rows.push({
  case: 'sample 16 tokens',
  inProcess: l,
  remote: r,
  overhead: r - l,
  ratio: r / l,
  kib: 0,
});

console.log(
  `\nTinker protocol vs in-process, ${MODEL}, ${backend}, median of ${reps} (ms per call)`,
);
console.log(
  formatTable(
    [
      { key: 'case' },
      { key: 'inProcess', title: 'in-process ms' },
      { key: 'remote', title: 'over HTTP ms' },
      { key: 'overhead', title: 'overhead ms' },
      { key: 'ratio', title: 'ratio', digits: 2 },
      { key: 'kib', title: 'KiB sent per step' },
    ],
    rows,
  ),
);
const file = writeResults(`remote-${backend}`, {
  machine: machineInfo(),
  model: MODEL,
  reps,
  server: 'loops-web serve (child process, 127.0.0.1)',
  rows,
});
console.log(`wrote ${file}`);
await Promise.all([local.close(), remote.close()]);
await serve.stop();
