/**
 * The WebGPU work counter (issues 12 and 13): how many kernel dispatches (ours by kernel, TF.js's
 * stock ones by program), uploads and readbacks one `forward_backward`, one `optim_step` and one
 * decode step (batch 1 and 8) cost, with our kernels on and off, counted by `countGpuWork`
 * (src/runtime/webgpu/counters.ts) around the engine's own Run and Sampler on random weights;
 * and how many shader pipelines (ours, TF.js's stock programs by name) a cold process creates from
 * the model load to the end of its first `forward_backward` + `optim_step`, each a compile before
 * the first step's loss (issue 12's time to first step).
 * Also the TF.js webgpu buffer pool after the step (`numBytesAllocatedInGPU`, what the device
 * holds for TF.js at its high-water mark) against the float32 weights' bytes.
 *
 *   npm run bench -- --gpu-counts [--models fixture,smollm2,peer-i] [--kernels on,off]
 *     [--smollm2-layers 30] [--smollm2-run]
 *   node --import tsx bench/gpu-counts.ts [same options]
 *
 * Runs on Dawn in Node (the `webgpu` package); on this machine that is Chromium's SwiftShader
 * Vulkan driver (set up by bench/lib/dawn.ts: the script restarts itself with the variables when
 * they are missing). Counts do not depend on the adapter; times do: the one reported, the first
 * step's seconds in synchronous pipeline creation (real runs only), is this adapter's (run it
 * under the benchmark lock).
 *
 * Models: `fixture` (the tiny Llama of the tests), `smollm2` (SmolLM2-135M's shape) and `peer-i`
 * (`npm run bench:peer`'s config (i): GPT-2, 2 layers, 4 heads, 64 wide, vocab 128, on random F32
 * weights as that benchmark serves them, bench/lib/peer-configs.ts). Each (model, kernels on/off)
 * case runs in its own process (bench/lib/gpu-counts-case.ts), so one case's buffer pool does not
 * inflate the next one's and its pipeline count starts from none.
 *
 * Compile-only counting: a SmolLM2-135M step (30 layers, 49,152-token vocabulary) takes tens of
 * minutes on SwiftShader, so by default that model is counted in TF.js's compile-only mode
 * (`compileOnlyWindow`, src/engine/warm-up.ts): the engine runs the same code, every program is
 * dispatched to the backend (and counted) but nothing is recorded or run, readbacks answer zeros.
 * Counts are exact as long as no decision depends on computed values (none does in a step; in
 * decoding, a sequence could stop early on a sampled EOS, and the report says when one did). Its
 * buffer pool is a lower bound of a real run's: buffers come back to the pool at once instead of
 * after the submit. The fixture is counted both ways, as a check of the method.
 * `--smollm2-run` counts it for real instead, and `--smollm2-layers` sets its depth (with two depths
 * L1 < L2 the report also extrapolates to 30 layers: count(L1) + (30 − L1) · per-layer difference).
 * Prints Markdown tables and writes bench/results/<date>-gpu-counts.json.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FIXTURE_CONFIG } from '../tests/helpers/fixture-model-dir';
import { runInChild } from './lib/child-run';
import { dawnEnv, hasDawnEnv } from './lib/dawn';
import {
  BATCH,
  DECODE,
  MODELS,
  PROMPT,
  RANK,
  SEQ,
  fullLayers,
  runCase,
  type CaseResult,
  type CaseSpec,
  type ModelName,
} from './lib/gpu-counts-case';
import { report } from './lib/gpu-counts-report';
import { machineInfo, writeResults } from './lib/results';

function label(spec: CaseSpec): string {
  const depth = spec.model === 'smollm2' ? `@${spec.layers}L` : '';
  const mode = spec.compileOnly ? ' (compile-only)' : '';
  return `${spec.model}${depth} kernels ${spec.kernels ? 'on' : 'off'}${mode}`;
}

function caseArg(spec: CaseSpec): string {
  const mode = spec.compileOnly ? 'compile-only' : 'run';
  return `${spec.model}:${spec.layers}:${spec.kernels ? 'on' : 'off'}:${mode}`;
}

const isModel = (name: string | undefined): name is ModelName =>
  (MODELS as readonly string[]).includes(name ?? '');

function parseSpec(text: string): CaseSpec {
  const [model, layers, kernels, mode] = text.split(':');
  if (!isModel(model) || !layers || !kernels || !mode) {
    throw new Error(
      `--case "${text}" is not <${MODELS.join('|')}>:<layers>:<on|off>:<run|compile-only>`,
    );
  }
  return { model, layers: Number(layers), kernels: kernels === 'on', compileOnly: mode !== 'run' };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      models: { type: 'string', default: MODELS.join(',') },
      'smollm2-layers': { type: 'string', default: '30' },
      'smollm2-run': { type: 'boolean', default: false },
      case: { type: 'string' },
      'child-out': { type: 'string' },
      kernels: { type: 'string', default: 'on,off' },
    },
  });
  if (v.case) {
    const spec = parseSpec(v.case);
    const result = await runCase(spec, (line) => console.log(`${label(spec)}: ${line}`));
    if (v['child-out']) writeFileSync(v['child-out'], JSON.stringify(result));
    return;
  }
  if (!hasDawnEnv()) {
    // Dawn opens the Vulkan loader at load time: restart with its library path set.
    const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: dawnEnv(),
    });
    process.exitCode = child.status ?? 1;
    return;
  }
  const kernels = v.kernels.split(',').map((k) => k.trim() === 'on');
  const specs: CaseSpec[] = [];
  for (const model of v.models.split(',').map((m) => m.trim())) {
    if (!isModel(model)) throw new Error(`--models: unknown "${model}"`);
    const depths =
      model === 'smollm2'
        ? v['smollm2-layers'].split(',').map(Number)
        : [model === 'fixture' ? FIXTURE_CONFIG.num_hidden_layers : fullLayers(model)];
    const modes =
      model === 'fixture' ? [false, true] : model === 'smollm2' ? [!v['smollm2-run']] : [false];
    for (const compileOnly of modes)
      for (const on of kernels)
        for (const layers of depths) specs.push({ model, layers, kernels: on, compileOnly });
  }
  const script = fileURLToPath(import.meta.url);
  const results: CaseResult[] = [];
  const failures: string[] = [];
  for (const spec of specs) {
    console.log(`\n== ${label(spec)}`);
    const outcome = await runInChild<CaseResult>(script, ['--case', caseArg(spec)]);
    if (outcome.result) {
      results.push(outcome.result);
      console.log(`${label(spec)}: done in ${outcome.result.wallSeconds.toFixed(0)} s`);
    } else {
      failures.push(`${label(spec)}: exit ${outcome.exitCode} ${outcome.stderrTail.slice(-300)}`);
    }
  }
  report(results);
  const file = writeResults('gpu-counts', {
    machine: { ...machineInfo(), backend: 'webgpu (Dawn in Node)' },
    adapter: results[0]?.adapter ?? null,
    run: { rank: RANK, batch: BATCH, seq: SEQ, prompt: PROMPT, decodeSteps: DECODE },
    results,
    failures,
  });
  console.log(`\nwrote ${file}`);
  if (failures.length) {
    console.error(failures.join('\n'));
    process.exitCode = 1;
  }
}

await main();
