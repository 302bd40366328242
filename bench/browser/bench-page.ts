/**
 * The page side of the Chromium benchmark (bench/chromium.ts). `window.runBench(backend, options)`
 * measures one backend on the shipped model loops-tiny-llama, with the engine in its real Web
 * Worker driven through the public client only, as the lab drives it; it returns plain JSON:
 * - start: backend init, the load (`create_lora_training_client`: weights fetched and uploaded,
 *   adapter made) and the time from that call until the first forward_backward + optim_step resolve
 *   (the first step pays for kernel compiles);
 * - training: per batch × seq shape, untimed warm-up steps, then timed steps submitted all at once
 *   (the Loops API pipelines them); a step's time is the gap between consecutive optim_step results;
 * - sampling: `sample` with max_tokens 1 (one prefill of the prompt, run once whatever num_samples
 *   is, then its cache is tiled) against max_tokens decode + 1 (the same prefill plus `decode`
 *   batched KV-cached steps), same seed; the difference is the decode time;
 * - the engine's TF.js memory at each stage (EngineApi.memory() through the link), against the
 *   float32 size of the weights read from the model file's header;
 * - the backend's own matmul rate, in a worker of its own (matmul.worker.ts) once the engine is gone.
 * Nothing here judges the figures; bench/chromium.ts prints and stores them.
 */
import { wrap } from 'comlink';
import {
  AdamParams,
  Datum,
  ModelInput,
  SamplingParams,
  ServiceClient,
  TensorData,
  registerPlacement,
  workerLink,
  type BackendReport,
  type EngineLink,
  type SamplingClient,
  type TrainingClient,
} from '../../src/index';
import { elementCount, parseSafetensorsHeader } from '../../src/io/safetensors';
import type { EngineMemory } from '../../src/protocol/engine-api';
import type { BackendName } from '../../src/runtime/backend';
import { seedWords, streamRng } from '../../src/sampling/rng';
import { median } from '../lib/timing';
import type { MatmulRate, MatmulWorkerApi } from './matmul.worker';

/** The lab's defaults for a fresh adapter (src/app/train-panel.ts). */
const RANK = 8;
const ADAM = new AdamParams({ learning_rate: 5e-3 });
const SEED = 1234;
const WARMUP_STEPS = 2;
const PROMPT_TOKENS = 64;
const SAMPLE_COUNTS = [1, 8] as const;
/** Timed repetitions of each sampling call (after one untimed call per num_samples). */
const SAMPLE_REPS = 3;
const MATMUL_REPS = 5;

export interface Shape {
  readonly batch: number;
  readonly seq: number;
}

/** Which model the engine loads, and where its files can be read by the page. */
export interface BenchModel {
  /** `base_model` */
  readonly repo: string;
  /** The folder holding its config.json and model.safetensors. */
  readonly filesUrl: string;
  /** A hub serving `repo` (ServiceClient `hub_url`); none for a shipped model. */
  readonly hubUrl?: string;
}

export interface BenchOptions {
  readonly model: BenchModel;
  readonly grid: readonly Shape[];
  /** Timed training steps per shape, after WARMUP_STEPS untimed ones. */
  readonly steps: number;
  /** Decode steps timed per sampling call (max_tokens decode + 1 against max_tokens 1). */
  readonly decode: number;
  /** n of the [n, n] · [n, n] matmuls timed in the matmul worker. */
  readonly matmulSizes: readonly number[];
  /** wasm: threads to ask for (ServiceClient `wasm_threads`); undefined: the engine's default. */
  readonly wasmThreads?: number;
}

export interface TrainFigures extends Shape {
  /** Each timed step's optim_step result, ms from submitting them all. */
  readonly doneMs: number[];
  /** The timed steps' wall time over their count (they are pipelined). */
  readonly stepMs: number;
  /** batch · seq tokens (forward + backward + Adam) per second at `stepMs`. */
  readonly tokensPerSecond: number;
  readonly losses: number[];
}

export interface SampleFigures {
  readonly numSamples: number;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly prefillMs: number[];
  readonly fullMs: number[];
  /** Prompt tokens over the median max_tokens 1 call (the prompt is prefilled once). */
  readonly prefillTokensPerSecond: number;
  /** Tokens made by decode steps: Σ (length − 1) over the sequences of the last full call. */
  readonly decodeTokens: number;
  /** decodeTokens over (median full − median prefill). */
  readonly decodeTokensPerSecond: number;
  readonly lengths: number[];
  /** Sequences that stopped (EOS) before maxTokens in the last full call. */
  readonly earlyStops: number;
}

export interface BenchResult {
  readonly backend: BackendReport;
  readonly crossOriginIsolated: boolean;
  readonly hardwareConcurrency: number;
  readonly userAgent: string;
  readonly initMs: number;
  readonly loadMs: number;
  /** From the create_lora_training_client call until the first step's optim_step resolves. */
  readonly timeToFirstStepMs: number;
  readonly memory: Readonly<Record<'afterInit' | 'afterLoad' | 'afterTraining', EngineMemory>>;
  readonly weights: { readonly parameters: number; readonly float32Bytes: number };
  readonly training: TrainFigures[];
  readonly sampling: SampleFigures[];
  readonly matmul: MatmulRate[];
}

/** One line per phase on the console (bench/chromium.ts echoes it), so a slow run shows where it is. */
function progress(phase: string): void {
  console.info(`bench: ${phase} at ${(performance.now() / 1000).toFixed(1)} s`);
}

let lastLink: EngineLink | null = null;
registerPlacement('bench-worker', () => (lastLink = workerLink()));

/** `n` token ids drawn uniformly from [1, vocab): never 0, this model's EOS. */
function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = streamRng(seedWords(seed), 0);
  return Array.from({ length: n }, () => 1 + (rng.nextUint32() % (vocab - 1)));
}

/** `batch` random datums of `seq` tokens, each predicting its own next token (cross_entropy). */
function randomBatch({ batch, seq }: Shape, vocab: number): Datum[] {
  return Array.from({ length: batch }, (_, b) => {
    const ids = randomIds(seq + 1, vocab, SEED + b);
    const targets = ids.slice(1);
    return new Datum({
      model_input: ModelInput.from_ints(ids.slice(0, -1)),
      loss_fn_inputs: {
        target_tokens: new TensorData({ data: targets, dtype: 'int64', shape: [seq] }),
      },
    });
  });
}

/**
 * Submits `steps` forward_backward + optim_step pairs at once and times them together: from
 * submission to the last optim_step result, divided by `steps`. (Gaps between consecutive results
 * mean nothing: the engine reads a pipelined run's results back together, so they resolve at
 * once.) `doneMs` holds each result's time from submission. Needs an idle queue on entry.
 */
async function pipelinedSteps(tc: TrainingClient, data: Datum[], steps: number) {
  const t0 = performance.now();
  const losses: PromiseLike<number>[] = [];
  const ends: PromiseLike<number>[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(tc.forward_backward(data, 'cross_entropy').then((out) => out.loss));
    ends.push(tc.optim_step(ADAM).then(() => performance.now()));
  }
  const done = await Promise.all(ends);
  const doneMs = done.map((t) => t - t0);
  const stepMs = (doneMs.at(-1) ?? NaN) / steps;
  return { doneMs, stepMs, losses: await Promise.all(losses) };
}

async function trainShape(
  tc: TrainingClient,
  shape: Shape,
  steps: number,
  vocab: number,
): Promise<TrainFigures> {
  const data = randomBatch(shape, vocab);
  await pipelinedSteps(tc, data, WARMUP_STEPS);
  const { doneMs, stepMs, losses } = await pipelinedSteps(tc, data, steps);
  const tokensPerSecond = (shape.batch * shape.seq * 1000) / stepMs;
  return { ...shape, doneMs, stepMs, tokensPerSecond, losses };
}

/** Milliseconds one `sample` call took, with its sequences' lengths. */
async function timedSample(sc: SamplingClient, prompt: number[], n: number, maxTokens: number) {
  const params = new SamplingParams({ max_tokens: maxTokens, temperature: 1, seed: SEED });
  const t0 = performance.now();
  const out = await sc.sample(ModelInput.from_ints(prompt), n, params);
  return { ms: performance.now() - t0, lengths: out.sequences.map((s) => s.tokens.length) };
}

async function sampleFigures(
  sc: SamplingClient,
  prompt: number[],
  numSamples: number,
  decode: number,
): Promise<SampleFigures> {
  const maxTokens = decode + 1;
  await timedSample(sc, prompt, numSamples, 2); // warm-up: prefill, tile and one step compiled
  const prefillMs: number[] = [];
  const fullMs: number[] = [];
  let lengths: number[] = [];
  for (let i = 0; i < SAMPLE_REPS; i++) {
    prefillMs.push((await timedSample(sc, prompt, numSamples, 1)).ms);
    const full = await timedSample(sc, prompt, numSamples, maxTokens);
    fullMs.push(full.ms);
    lengths = full.lengths;
  }
  const decodeTokens = lengths.reduce((sum, length) => sum + length - 1, 0);
  const decodeMs = median(fullMs) - median(prefillMs);
  return {
    numSamples,
    promptTokens: prompt.length,
    maxTokens,
    prefillMs,
    fullMs,
    prefillTokensPerSecond: (prompt.length * 1000) / median(prefillMs),
    decodeTokens,
    decodeTokensPerSecond: (decodeTokens * 1000) / decodeMs,
    lengths,
    earlyStops: lengths.filter((length) => length < maxTokens).length,
  };
}

/** Parameters and their float32 bytes, from the model file's safetensors header. */
async function weightsSize(model: BenchModel): Promise<BenchResult['weights']> {
  const response = await fetch(`${model.filesUrl}/model.safetensors`);
  const header = parseSafetensorsHeader(await response.arrayBuffer());
  const parameters = header.tensors.reduce((n, t) => n + elementCount(t.shape), 0);
  return { parameters, float32Bytes: parameters * 4 };
}

async function matmulRates(backend: BackendName, sizes: readonly number[], threads?: number) {
  const worker = new Worker(new URL('./matmul.worker.ts', import.meta.url), { type: 'module' });
  try {
    return await wrap<MatmulWorkerApi>(worker).run(backend, sizes, MATMUL_REPS, threads);
  } finally {
    worker.terminate();
  }
}

function engineMemory(): Promise<EngineMemory> {
  return lastLink!.engine.memory();
}

async function modelVocab(model: BenchModel): Promise<number> {
  const response = await fetch(`${model.filesUrl}/config.json`);
  const config = (await response.json()) as { vocab_size: number };
  return config.vocab_size;
}

/** Backend init, then the load and the first step (on `first`), timed from the create call. */
async function startFigures(
  service: ServiceClient,
  model: BenchModel,
  first: Shape,
  vocab: number,
) {
  const t0 = performance.now();
  const backend = await service.backend();
  const tCreate = performance.now();
  const afterInit = await engineMemory();
  const tc = await service.create_lora_training_client({
    base_model: model.repo,
    rank: RANK,
    seed: SEED,
  });
  const loadMs = performance.now() - tCreate;
  progress(`loaded in ${loadMs.toFixed(0)} ms`);
  const afterLoad = await engineMemory();
  await pipelinedSteps(tc, randomBatch(first, vocab), 1);
  const timeToFirstStepMs = performance.now() - tCreate;
  progress('first step done');
  const initMs = tCreate - t0;
  return { tc, backend, initMs, loadMs, timeToFirstStepMs, afterInit, afterLoad };
}

/** Start, training grid and sampling on one engine; closes it before returning. */
async function engineFigures(backend: BackendName, options: BenchOptions) {
  const vocab = await modelVocab(options.model);
  const threads = options.wasmThreads;
  const service = new ServiceClient({
    engine: 'bench-worker',
    backend,
    ...(options.model.hubUrl ? { hub_url: options.model.hubUrl } : {}),
    ...(threads === undefined ? {} : { wasm_threads: threads }),
  });
  try {
    const first = options.grid[0] ?? { batch: 1, seq: PROMPT_TOKENS };
    const { tc, afterInit, afterLoad, ...start } = await startFigures(
      service,
      options.model,
      first,
      vocab,
    );
    const training: TrainFigures[] = [];
    for (const shape of options.grid) {
      training.push(await trainShape(tc, shape, options.steps, vocab));
      progress(`trained ${shape.batch}×${shape.seq}`);
    }
    const afterTraining = await engineMemory();
    const sc = await tc.save_weights_and_get_sampling_client();
    const prompt = randomIds(PROMPT_TOKENS, vocab, SEED);
    const sampling: SampleFigures[] = [];
    for (const n of SAMPLE_COUNTS) {
      sampling.push(await sampleFigures(sc, prompt, n, options.decode));
      progress(`sampled num_samples ${n}`);
    }
    const memory = { afterInit, afterLoad, afterTraining };
    return { ...start, memory, training, sampling };
  } finally {
    await service.close();
  }
}

async function runBench(backend: BackendName, options: BenchOptions): Promise<BenchResult> {
  const engine = await engineFigures(backend, options);
  progress('engine closed; matmuls next');
  return {
    ...engine,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
    weights: await weightsSize(options.model),
    matmul: await matmulRates(backend, options.matmulSizes, options.wasmThreads),
  };
}

export type RunBench = typeof runBench;

Object.assign(window, { runBench });
document.body.dataset.ready = 'true';
