/**
 * The WebGPU work counter (issues 12 and 13): how many kernel dispatches (ours by kernel, TF.js's
 * stock ones by program), uploads and readbacks one `forward_backward`, one `optim_step` and one
 * decode step (batch 1 and 8) cost, with our kernels on and off, counted by `countGpuWork`
 * (src/runtime/webgpu/counters.ts) around the engine's own Run and Sampler on random weights.
 * Also the TF.js webgpu buffer pool after the step (`numBytesAllocatedInGPU`, what the device
 * holds for TF.js at its high-water mark) against the float32 weights' bytes.
 *
 *   npm run bench -- --gpu-counts [--models fixture,smollm2] [--kernels on,off]
 *     [--smollm2-layers 30] [--smollm2-run]
 *   node --import tsx bench/gpu-counts.ts [same options]
 *
 * Runs on Dawn in Node (the `webgpu` package); on this machine that is Chromium's SwiftShader
 * Vulkan driver (set up by bench/lib/dawn.ts: the script restarts itself with the variables when
 * they are missing). Counts do not depend on the adapter; times do, and none are reported.
 *
 * Each (model, kernels on/off) case runs in its own process, so one case's buffer pool does not
 * inflate the next one's.
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
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TextTokenizer } from '../src/core/tokenizer';
import type { LoadedModel } from '../src/engine/model-registry';
import { Run } from '../src/engine/run';
import { Sampler } from '../src/engine/sampler';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../src/lora/adapter';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { KNOWN_CONFIGS, type HfConfigJson } from '../src/model/known-configs';
import { compileOnlyWindow } from '../src/engine/warm-up';
import { ADAM_DEFAULTS } from '../src/optim/adamw';
import type { WireDatum } from '../src/protocol/wire-types';
import { webgpuBackend } from '../src/runtime/webgpu/backend-internals';
import { countGpuWork, type GpuWork } from '../src/runtime/webgpu/counters';
import { gpuKernelsActive, setGpuKernelsEnabled } from '../src/runtime/webgpu-kernels';
import { currentGpuDevice } from '../src/runtime/backend';
import { writeSafetensors } from '../src/io/safetensors-writer';
import { SINGLE_FILE, loadWeights } from '../src/io/weights-loader';
import { generateRandomWeights } from '../src/model/random-weights';
import { FIXTURE_CONFIG } from '../tests/helpers/fixture-model-dir';
import { runInChild } from './lib/child-run';
import { dawnEnv, hasDawnEnv, startDawnWebGpu } from './lib/dawn';
import { randomTokens } from './lib/lora-step';
import { disposeWeights } from './lib/random-model';
import { machineInfo, writeResults } from './lib/results';
import { formatTable, mib, type Cell } from './lib/table';

const RANK = 8;
const BATCH = 4;
const SEQ = 64;
const PROMPT = 16;
/** Decode steps counted per sampling call (max_tokens DECODE + 1 against max_tokens 1). */
const DECODE = 4;
const SEED = 7;
const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M';

interface CaseSpec {
  readonly model: 'fixture' | 'smollm2';
  readonly layers: number;
  readonly kernels: boolean;
  /** Counted in TF.js's compile-only mode (nothing runs; see the header) instead of for real. */
  readonly compileOnly: boolean;
}

/** Counts of one stretch of work, without the per-name maps' empty entries. */
type Work = GpuWork;

interface DecodeCounts {
  readonly batch: number;
  /** Decode steps the difference covers (each makes `batch` tokens). */
  readonly steps: number;
  /** (work of max_tokens steps + 1) − (work of max_tokens 1), divided by steps. */
  readonly perStep: Work;
  readonly earlyStops: number;
}

interface CaseResult extends CaseSpec {
  readonly adapter: string;
  readonly config: { hidden: number; vocab: number; layers: number; fullLayers: number };
  readonly forwardBackward: Work;
  readonly optimStep: Work;
  readonly decode: DecodeCounts[];
  readonly weightsFloat32Bytes: number;
  /** TF.js webgpu buffer pool after the counted step (its high-water mark so far). */
  readonly gpuBytesAllocatedAfterStep: number;
  /** Bytes held by live tensors after the step. */
  readonly gpuBytesInUseAfterStep: number;
  readonly wallSeconds: number;
}

function rawConfig(model: CaseSpec['model'], layers: number): HfConfigJson {
  const base = model === 'fixture' ? FIXTURE_CONFIG : KNOWN_CONFIGS[SMOLLM2];
  return { ...base, num_hidden_layers: layers };
}

function fullLayers(model: CaseSpec['model']): number {
  const base = model === 'fixture' ? FIXTURE_CONFIG : KNOWN_CONFIGS[SMOLLM2];
  return base.num_hidden_layers as number;
}

function batchData(config: ModelConfig): WireDatum[] {
  return Array.from({ length: BATCH }, (_, b) => {
    const ids = randomTokens(SEQ + 1, config.vocabSize, SEED + b);
    return {
      tokens: Int32Array.from(ids.slice(0, SEQ)),
      inputs: { target_tokens: Int32Array.from(ids.slice(1)) },
    };
  });
}

/** Sums two counts (or scales one: a − b, a / n) name by name. */
function combine(a: Work, b: Work, f: (x: number, y: number) => number): Work {
  const names = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(
      [...new Set([...Object.keys(x), ...Object.keys(y)])]
        .map((k) => [k, f(x[k] ?? 0, y[k] ?? 0)] as const)
        .filter(([, v]) => v !== 0),
    );
  return {
    dispatches: f(a.dispatches, b.dispatches),
    ours: names(a.ours, b.ours),
    stock: names(a.stock, b.stock),
    uploads: f(a.uploads, b.uploads),
    uploadBytes: f(a.uploadBytes, b.uploadBytes),
    readbacks: f(a.readbacks, b.readbacks),
  };
}

const ZERO: Work = { dispatches: 0, ours: {}, stock: {}, uploads: 0, uploadBytes: 0, readbacks: 0 };
const scale = (w: Work, k: number) => combine(w, ZERO, (x) => x * k);
const minus = (a: Work, b: Work) => combine(a, b, (x, y) => x - y);
const plus = (a: Work, b: Work) => combine(a, b, (x, y) => x + y);

/** Decoding needs no text: the counts never look at it. */
const NO_TEXT = { decode: () => '' } as unknown as TextTokenizer;

async function decodeCounts(sampler: Sampler, config: ModelConfig, batch: number) {
  const prompt = Int32Array.from(randomTokens(PROMPT, config.vocabSize, SEED));
  const request = (maxTokens: number) => ({
    samplerId: sampler.id,
    prompt,
    numSamples: batch,
    params: { max_tokens: maxTokens, temperature: 1, top_p: 1, top_k: -1, seed: SEED, stop: null },
    includePromptLogprobs: false,
    topkPromptLogprobs: 0,
  });
  await sampler.sample(request(2)); // first call: pipelines, first allocations
  const one = await countGpuWork(() => sampler.sample(request(1)));
  const full = await countGpuWork(() => sampler.sample(request(DECODE + 1)));
  const lengths = full.result.sequences.map((s) => s.tokens.length);
  const steps = Math.max(...lengths) - 1;
  return {
    batch,
    steps,
    perStep: scale(minus(full.work, one.work), 1 / Math.max(1, steps)),
    earlyStops: lengths.filter((n) => n < DECODE + 1).length,
  };
}

/**
 * Random weights stored as BF16 (as the Hub ships these models) and loaded the engine's way:
 * `loadWeights` with the device's limits, projections kept as bf16 pairs when our kernels are on
 * (model-registry.ts does the same).
 */
async function loadBf16Weights(config: ModelConfig) {
  let parameters = 0;
  const tensors = [...generateRandomWeights(config, SEED)].map((t) => {
    parameters += t.data.length;
    return { ...t, dtype: 'BF16' as const };
  });
  const bytes = writeSafetensors(tensors);
  tensors.length = 0;
  const weights = await loadWeights({
    config,
    readFile: async () => bytes,
    hasFile: async (name) => name === SINGLE_FILE,
    limits: currentGpuDevice()?.limits ?? null,
    packProjections: gpuKernelsActive() ? 'bf16' : false,
  });
  return { weights, float32Bytes: parameters * 4 };
}

/** One case, in this process. */
async function runCase(spec: CaseSpec): Promise<CaseResult> {
  const t0 = performance.now();
  const adapterName = await startDawnWebGpu();
  setGpuKernelsEnabled(spec.kernels);
  const config = parseModelConfig(rawConfig(spec.model, spec.layers));
  const built = await loadBf16Weights(config);
  // Every weight on the device, as after any real step (compile-only dispatches of our kernels
  // bind nothing, so they would not upload the weights they read).
  const backend = webgpuBackend();
  for (const t of built.weights.values()) backend?.uploadToGPU(t.dataId);
  const base: LoadedModel = {
    name: `${spec.model}-${spec.layers}`,
    config,
    weights: built.weights,
    tokenizer: { tokenizerJson: {}, tokenizerConfig: {} },
  };
  const lora = {
    rank: RANK,
    alpha: DEFAULT_LORA_ALPHA,
    targets: targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: false }),
    seed: SEED,
  };
  const run = new Run('counts', base, LoraAdapter.create(config, lora), config.maxPositions, SEED);
  const data = batchData(config);
  const adam = { ...ADAM_DEFAULTS, learning_rate: 1e-3 };
  const window = <T>(fn: () => Promise<T>) => (spec.compileOnly ? compileOnlyWindow(fn) : fn());
  try {
    return await window(async () => {
      console.log(`${label(spec)}: warm-up step…`);
      await run.forwardBackward(data, 'cross_entropy', {}, true);
      await run.optimStep(adam);
      console.log(`${label(spec)}: counted step…`);
      const fb = await countGpuWork(() => run.forwardBackward(data, 'cross_entropy', {}, true));
      const opt = await countGpuWork(() => run.optimStep(adam));
      const memory = tf.memory() as tf.MemoryInfo & {
        numBytesInGPU?: number;
        numBytesAllocatedInGPU?: number;
      };
      console.log(`${label(spec)}: decoding…`);
      const sampler = new Sampler('counts', base, run.adapter.snapshot(), 1, NO_TEXT);
      const decode: DecodeCounts[] = [];
      try {
        for (const batch of [1, 8]) decode.push(await decodeCounts(sampler, config, batch));
      } finally {
        sampler.dispose();
      }
      return {
        ...spec,
        adapter: adapterName,
        config: {
          hidden: config.hiddenSize,
          vocab: config.vocabSize,
          layers: config.numLayers,
          fullLayers: fullLayers(spec.model),
        },
        forwardBackward: fb.work,
        optimStep: opt.work,
        decode,
        weightsFloat32Bytes: built.float32Bytes,
        gpuBytesAllocatedAfterStep: memory.numBytesAllocatedInGPU ?? Number.NaN,
        gpuBytesInUseAfterStep: memory.numBytesInGPU ?? Number.NaN,
        wallSeconds: (performance.now() - t0) / 1000,
      };
    });
  } finally {
    run.dispose();
    disposeWeights(built.weights);
  }
}

function label(spec: CaseSpec): string {
  const depth = spec.model === 'smollm2' ? `@${spec.layers}L` : '';
  const mode = spec.compileOnly ? ' (compile-only)' : '';
  return `${spec.model}${depth} kernels ${spec.kernels ? 'on' : 'off'}${mode}`;
}

function caseArg(spec: CaseSpec): string {
  const mode = spec.compileOnly ? 'compile-only' : 'run';
  return `${spec.model}:${spec.layers}:${spec.kernels ? 'on' : 'off'}:${mode}`;
}

function parseSpec(text: string): CaseSpec {
  const [model, layers, kernels, mode] = text.split(':');
  if ((model !== 'fixture' && model !== 'smollm2') || !layers || !kernels || !mode) {
    throw new Error(
      `--case "${text}" is not <fixture|smollm2>:<layers>:<on|off>:<run|compile-only>`,
    );
  }
  return { model, layers: Number(layers), kernels: kernels === 'on', compileOnly: mode !== 'run' };
}

// ---- the report -------------------------------------------------------------------------------

interface Row {
  readonly what: string;
  readonly kernels: string;
  readonly how: string;
  readonly work: Work;
}

function top(names: Record<string, number>, n = 4): string {
  const entries = Object.entries(names).sort((a, b) => b[1] - a[1]);
  const shown = entries.slice(0, n).map(([k, v]) => `${k} ${fmt(v)}`);
  return entries.length > n ? `${shown.join(', ')}, …` : shown.join(', ') || '–';
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
const sum = (names: Record<string, number>) => Object.values(names).reduce((a, b) => a + b, 0);

function countsTable(title: string, rows: readonly Row[]): void {
  const cells = rows.map((r): Record<string, Cell> => ({
    what: r.what,
    kernels: r.kernels,
    how: r.how,
    dispatches: r.work.dispatches,
    ours: sum(r.work.ours),
    stock: sum(r.work.stock),
    uploads: r.work.uploads,
    upKiB: r.work.uploadBytes / 1024,
    readbacks: r.work.readbacks,
    topOurs: top(r.work.ours),
    topStock: top(r.work.stock),
  }));
  const columns = [
    { key: 'what', title: 'per' },
    { key: 'kernels', title: 'our kernels' },
    { key: 'how', title: 'counted' },
    { key: 'dispatches', digits: 0 },
    { key: 'ours', title: 'ours', digits: 0 },
    { key: 'stock', title: 'stock', digits: 0 },
    { key: 'uploads', digits: 1 },
    { key: 'upKiB', title: 'upload KiB', digits: 1 },
    { key: 'readbacks', digits: 1 },
    { key: 'topOurs', title: 'ours, most dispatched' },
    { key: 'topStock', title: 'stock, most dispatched' },
  ];
  console.log(`\n${title}\n\n${formatTable(columns, cells)}`);
}

function rowsOf(r: CaseResult, scaleTo?: (w: Work, pick: (c: CaseResult) => Work) => Work): Row[] {
  const k = r.kernels ? 'on' : 'off';
  const how = r.compileOnly ? 'compile-only' : 'run';
  const get = (pick: (c: CaseResult) => Work) => (scaleTo ? scaleTo(pick(r), pick) : pick(r));
  return [
    { what: 'forward_backward', kernels: k, how, work: get((c) => c.forwardBackward) },
    { what: 'optim_step', kernels: k, how, work: get((c) => c.optimStep) },
    ...r.decode.map((d, i) => ({
      what: `decode step, batch ${d.batch}${d.earlyStops ? ` (${d.earlyStops} early stops)` : ''}`,
      kernels: k,
      how,
      work: get((c) => (c.decode[i] as DecodeCounts).perStep),
    })),
  ];
}

/** For a reduced-depth model measured at two depths: the counts at its full depth. */
function extrapolate(low: CaseResult, high: CaseResult) {
  const L1 = low.config.layers;
  const L2 = high.config.layers;
  const full = low.config.fullLayers;
  return (w: Work, pick: (c: CaseResult) => Work): Work => {
    void w;
    const perLayer = scale(minus(pick(high), pick(low)), 1 / (L2 - L1));
    return plus(pick(low), scale(perLayer, full - L1));
  };
}

function report(results: CaseResult[]): void {
  const fixture = results.filter((r) => r.model === 'fixture');
  if (fixture.length) {
    const f = fixture[0] as CaseResult;
    countsTable(
      `Fixture Llama (${f.config.layers} layers, hidden ${f.config.hidden}, vocab ${f.config.vocab}), LoRA r${RANK} on attention + MLP, B ${BATCH} × T ${SEQ}; decode: ${PROMPT}-token prompt`,
      fixture.flatMap((r) => rowsOf(r)),
    );
  }
  const smol = results.filter((r) => r.model === 'smollm2');
  for (const kernels of [true, false]) {
    const byDepth = smol.filter((r) => r.kernels === kernels).sort((a, b) => a.layers - b.layers);
    for (const r of byDepth) {
      countsTable(
        `SmolLM2-135M shape, ${r.config.layers} of ${r.config.fullLayers} layers (random weights), LoRA r${RANK} on attention + MLP, B ${BATCH} × T ${SEQ}; decode: ${PROMPT}-token prompt`,
        rowsOf(r),
      );
    }
    const low = byDepth[0];
    const high = byDepth[1];
    if (low && high && low.config.layers < low.config.fullLayers) {
      countsTable(
        `SmolLM2-135M shape at its ${low.config.fullLayers} layers: extrapolated from ${low.config.layers} and ${high.config.layers} layers (per-layer difference × depth)`,
        rowsOf(low, extrapolate(low, high)),
      );
    }
  }
  const memRows = results.map((r) => ({
    model: `${r.model === 'smollm2' ? 'SmolLM2 shape' : 'fixture'}, ${r.config.layers} layers`,
    kernels: r.kernels ? 'on' : 'off',
    how: r.compileOnly ? 'compile-only' : 'run',
    weights: mib(r.weightsFloat32Bytes),
    pool: mib(r.gpuBytesAllocatedAfterStep),
    live: mib(r.gpuBytesInUseAfterStep),
    ratio: r.gpuBytesAllocatedAfterStep / r.weightsFloat32Bytes,
  }));
  if (memRows.length) {
    const columns = [
      { key: 'model' },
      { key: 'kernels', title: 'our kernels' },
      { key: 'how', title: 'counted' },
      { key: 'weights', title: 'weights f32 MiB' },
      { key: 'pool', title: 'numBytesAllocatedInGPU MiB' },
      { key: 'live', title: 'numBytesInGPU MiB (live)' },
      { key: 'ratio', title: 'allocated / f32 weights', digits: 2 },
    ];
    console.log(
      `\nGPU memory after the counted LoRA r${RANK} ${BATCH}×${SEQ} step (TF.js webgpu buffer pool; compile-only: a lower bound)\n\n${formatTable(columns, memRows)}`,
    );
  }
}

// ---- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      models: { type: 'string', default: 'fixture,smollm2' },
      'smollm2-layers': { type: 'string', default: '30' },
      'smollm2-run': { type: 'boolean', default: false },
      case: { type: 'string' },
      'child-out': { type: 'string' },
      kernels: { type: 'string', default: 'on,off' },
    },
  });
  if (v.case) {
    const result = await runCase(parseSpec(v.case));
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
    if (model !== 'fixture' && model !== 'smollm2') throw new Error(`--models: unknown "${model}"`);
    const depths =
      model === 'smollm2'
        ? v['smollm2-layers'].split(',').map(Number)
        : [FIXTURE_CONFIG.num_hidden_layers];
    const modes = model === 'fixture' ? [false, true] : [!v['smollm2-run']];
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
