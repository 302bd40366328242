/**
 * `npm run bench:real`: the per-model suite (lib/model-suite.ts) on the shipped tiny model and on
 * real-size models without downloads. For a real-size model, random weights with the exact Hugging
 * Face names and shapes are built (and, with --through-file, written as a BF16 safetensors file and
 * loaded back through the real loading path). Then LoRA steps (rank 8 on every attention, MLP and
 * unembedding projection, AdamW included) over a batch × seq grid against the naive baseline, with
 * MFU against this process's own large-matmul rate, and sampling with num_samples 1 and 8 against
 * the no-cache baseline. Prints tables, writes bench/results/<date>-<backend>-real-size.json.
 *
 *   node --import tsx bench/real-size.ts [--models tiny-llama,smollm2-135m,gpt2,qwen2.5-0.5b]
 *     [--backend wasm|cpu] [--grid 1x64,4x64,8x256] [--samples 1,8] [--decode 256] [--reps 2]
 *     [--naive-grid 1x64,4x64 | --no-naive] [--no-cache auto|full|sampled|off] [--through-file]
 *     [--stock-wasm] [--no-grad-hint] [--name <results file name, default <backend>-real-size>]
 *
 * On wasm the engine's own kernels (runtime/wasm-kernels) are registered, as the engine does;
 * --stock-wasm measures the package's kernels alone. The training step is the engine's
 * cross_entropy step (unit weights), which passes its ∂L/∂lp as the gradient hint
 * (target-logprobs.ts `gradHint`); --no-grad-hint times it without. Each model runs in its own Node process
 * (lib/child-run.ts): wasm cannot recover from running out of memory, and its heap never shrinks.
 * A model that does not fit the backend's memory (wasm32's heap is at most 4 GiB) is reported as
 * "did not fit" and the run goes on. Exit status 1 when a phase leaks tensors (outside a model that
 * did not fit, whose process is beyond repair) or a model fails for a reason other than memory;
 * figures are never pass/fail.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LORA_ALPHA, targetsFor, type LoraConfig } from '../src/lora/adapter';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { KNOWN_CONFIGS, type KnownModelId } from '../src/model/known-configs';
import { disposeRopeTables } from '../src/model/rope';
import { selectBackend } from '../src/runtime/backend';
import { registerWasmKernels } from '../src/runtime/wasm-kernels';
import type * as tf from '@tensorflow/tfjs';
import { tensorMemory, wasmHeapBytes } from './lib/backend-memory';
import { runInChild } from './lib/child-run';
import { matmulRate } from './lib/matmul-rate';
import { runSuite, type SuiteOptions } from './lib/model-suite';
import { childArgs, parseOptions, type Options } from './lib/real-size-options';
import { buildRandomWeights, disposeWeights, loadThroughFile } from './lib/random-model';
import { printTables, type ModelReport } from './lib/real-size-report';
import { machineInfo, writeResults } from './lib/results';
import { loadShipped } from './lib/shipped-model';
import { TensorLedger, type PhaseCheck } from './lib/tensor-ledger';

/** Real-size shapes (random weights) by key; `tiny-llama` is the shipped model's real weights. */
const MODELS: Readonly<Record<string, KnownModelId | 'loops-tiny-llama'>> = {
  'tiny-llama': 'loops-tiny-llama',
  'smollm2-135m': 'HuggingFaceTB/SmolLM2-135M',
  gpt2: 'openai-community/gpt2',
  'qwen2.5-0.5b': 'Qwen/Qwen2.5-0.5B',
  'qwen3-0.6b': 'Qwen/Qwen3-0.6B',
};
const LORA_RANK = 8;
const PROMPT_TOKENS = 32;
const SEED = 1234;
/** Emscripten's heap ceiling for wasm32 (4 GiB less one 64 KiB page). */
const WASM_MAX_HEAP = 4294901760;
/** Models below this many parameters get the full no-cache decode under `--no-cache auto`. */
const FULL_NO_CACHE_BELOW = 20e6;

/** What a child process reports for its one model. */
interface ChildResult {
  readonly report: ModelReport;
  readonly checks: PhaseCheck[];
  readonly wasmKernels: string[];
}

/** Runs every phase of one model; a failure becomes the report's status, never a throw. */
async function runModel(
  key: string,
  options: Options,
  ledger: TensorLedger,
  matmulGflops: number,
): Promise<ModelReport> {
  const id = MODELS[key] as KnownModelId | 'loops-tiny-llama';
  const report: ModelReport = { key, id, status: 'ok' };
  const at = { phase: 'load' };
  try {
    if (id === 'loops-tiny-llama') {
      const shipped = await loadShipped(id);
      try {
        const { config, weights, loadMs } = shipped;
        report.load = { ...loadFigures(weights), generateMs: 0, uploadMs: loadMs };
        await ledger.phase(`${key}: suite`, () =>
          suite(key, config, weights, options, report, matmulGflops, at),
        );
      } finally {
        disposeWeights(shipped.weights);
      }
    } else {
      const config = parseModelConfig(KNOWN_CONFIGS[id], id);
      if (options.throughFile) {
        // First, so a model whose training does not fit still gets its load figures.
        at.phase = 'file';
        await ledger.phase(`${key}: through file`, async () => {
          const loaded = await loadThroughFile(KNOWN_CONFIGS[id], SEED, 'BF16');
          const { writeMs, fileBytes, loadMs } = loaded;
          report.file = { writeMs, fileBytes, loadMs, ...tensorMemory() };
          disposeWeights(loaded.weights);
        });
      }
      at.phase = 'build';
      const built = buildRandomWeights(config, SEED);
      try {
        const { generateMs, uploadMs } = built;
        report.load = { ...loadFigures(built.weights), generateMs, uploadMs };
        await ledger.phase(`${key}: suite`, () =>
          suite(key, config, built.weights, options, report, matmulGflops, at),
        );
      } finally {
        disposeWeights(built.weights);
      }
    }
  } catch (error) {
    report.status = describeFailure(error, at.phase);
  }
  report.wasmHeapBytes = wasmHeapBytes();
  return report;
}

function loadFigures(weights: ReadonlyMap<string, tf.Tensor>) {
  const parameters = [...weights.values()].reduce((n, t) => n + t.size, 0);
  return { parameters, float32Bytes: 4 * parameters, ...tensorMemory() };
}

/** The suite on loaded weights, into `report.suite`. */
async function suite(
  key: string,
  config: ModelConfig,
  weights: ReadonlyMap<string, tf.Tensor>,
  options: Options,
  report: ModelReport,
  matmulGflops: number,
  at: { phase: string },
): Promise<void> {
  at.phase = 'suite';
  const targets = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
  const lora: LoraConfig = { rank: LORA_RANK, alpha: DEFAULT_LORA_ALPHA, targets, seed: SEED };
  const parameters = report.load?.parameters ?? 0;
  const noCache =
    options.noCache === 'auto'
      ? parameters < FULL_NO_CACHE_BELOW
        ? 'full'
        : 'sampled'
      : options.noCache;
  const suiteOptions: SuiteOptions = {
    grid: options.grid,
    reps: options.reps,
    naive: options.naive,
    samples: options.samples,
    promptLength: PROMPT_TOKENS,
    decodeTokens: options.decode,
    noCache,
    lora,
    seed: SEED,
    matmulGflops,
    gradHint: options.gradHint,
  };
  try {
    report.suite = await runSuite(config, weights, suiteOptions, (line) =>
      console.log(`${key}${line}`),
    );
  } finally {
    // RoPE's tables stay cached on wasm and webgpu for the model's life (src/model/rope.ts); the
    // engine frees them when its last model unloads, the suite when it is done with its model.
    disposeRopeTables();
  }
}

/**
 * 'did not fit (<phase>): …' or 'failed (<phase>): …'. An allocation failure is out of memory; a
 * wasm abort or trap is too when the heap has reached its ceiling (Emscripten aborts when malloc
 * cannot grow it), and is otherwise a failure.
 */
function describeFailure(error: unknown, phase: string): string {
  const full = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // First line only, without Emscripten's advice to rebuild the package with assertions.
  const message = (full.split('\n')[0] ?? '').replace(/\s*Build with -sASSERTIONS.*$/, '');
  const heap = wasmHeapBytes();
  const atCeiling = heap !== null && heap >= WASM_MAX_HEAP - 256 * 2 ** 20;
  const allocation = /allocation failed|out of memory|maximum memory|invalid array length/i;
  const trap = /aborted|memory access out of bounds/i;
  const fits = !(allocation.test(message) || (atCeiling && trap.test(message)));
  const where = atCeiling
    ? ` (wasm heap at ${Math.round((heap as number) / 2 ** 20)} MiB, its 4 GiB ceiling)`
    : '';
  return `${fits ? 'failed' : 'did not fit'} (${phase}): ${message}${where}`;
}

/** In a child process: one model, its result written to `options.childOut`. */
async function childMain(options: Options, out: string): Promise<void> {
  const backend = await selectBackend(options.backend);
  const wasmKernels = backend.backend === 'wasm' && !options.stockWasm ? registerWasmKernels() : [];
  const rate = await matmulRate(1024, 5);
  const ledger = new TensorLedger();
  const report = await runModel(options.models[0] as string, options, ledger, rate.gflops);
  report.matmul = rate;
  const result: ChildResult = { report, checks: ledger.checks, wasmKernels };
  writeFileSync(out, JSON.stringify(result));
}

/** A child that wrote no result: it crashed (JS heap exhausted, killed, …). */
function crashedChild(
  key: string,
  exitCode: number | null,
  signal: string | null,
  tail: string,
): ChildResult {
  const lastLine =
    tail
      .split('\n')
      .filter((l) => l.trim())
      .at(-1) ?? '';
  const jsHeap = /heap out of memory|allocation failed/i.test(tail);
  const how = signal ? `signal ${signal}` : `exit code ${exitCode}`;
  const status = `${jsHeap ? 'did not fit' : 'failed'} (process): ${how}: ${lastLine}`;
  const id = MODELS[key] as ModelReport['id'];
  return { report: { key, id, status }, checks: [], wasmKernels: [] };
}

/** The parent: one child per model, then tables, the JSON file and the exit status. */
async function parentMain(options: Options): Promise<void> {
  const backend = await selectBackend(options.backend);
  const script = fileURLToPath(import.meta.url);
  const children: ChildResult[] = [];
  for (const key of options.models) {
    const t0 = performance.now();
    const outcome = await runInChild<ChildResult>(script, childArgs(key, options));
    const child =
      outcome.result ?? crashedChild(key, outcome.exitCode, outcome.signal, outcome.stderrTail);
    children.push(child);
    console.log(
      `${key}: ${child.report.status} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  const reports = children.map((c) => c.report);
  const checks = children.flatMap((c) => c.checks);
  const wasmKernels = children.find((c) => c.wasmKernels.length > 0)?.wasmKernels ?? [];
  const run = {
    ...options,
    backend: backend.backend,
    promptTokens: PROMPT_TOKENS,
    loraRank: LORA_RANK,
    loraAlpha: DEFAULT_LORA_ALPHA,
    seed: SEED,
    wasmKernels,
  };
  console.log(
    `\nbackend ${backend.backend}; own wasm kernels: ${wasmKernels.join(', ') || 'none'}`,
  );
  printTables(reports, checks, run);
  const machine = machineInfo();
  const file = writeResults(options.name, {
    machine,
    run,
    models: reports,
    tensorChecks: checks,
  });
  console.log(`\nwrote ${file}`);
  // A wasm abort (a baseline out of memory) leaves the module's tensors beyond counting.
  const aborted = (c: ChildResult) =>
    (c.report.suite?.train ?? []).some((t) => /Aborted/.test(t.oursStatus + t.naiveStatus));
  const counted = children.filter((c) => !c.report.status.startsWith('did not fit') && !aborted(c));
  const leaks = counted.flatMap((c) => c.checks.filter((k) => k.leaked !== 0));
  const failed = counted.filter((c) => c.report.status.startsWith('failed'));
  if (leaks.length > 0 || failed.length > 0) {
    console.error(
      `${leaks.length} phase(s) leaked tensors; ${failed.length} model(s) failed for a reason other than memory.`,
    );
    process.exitCode = 1;
  }
}

const options = parseOptions(process.argv.slice(2), Object.keys(MODELS));
if (options.childOut !== undefined) await childMain(options, options.childOut);
else await parentMain(options);
