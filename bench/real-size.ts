/**
 * Real-size models without downloads: for each requested model, random weights with the exact
 * Hugging Face names and shapes are built (and, with --through-file, written as a BF16
 * safetensors file and loaded back through the real loading path), then a LoRA training step
 * (forward + backward, rank 8 on every attention, MLP and unembedding projection) and a greedy
 * KV-cached decode are timed. Prints tables, writes bench/results/<date>-<backend>-real-size.json.
 *
 *   node --import tsx bench/real-size.ts [--models smollm2-135m,gpt2,qwen2.5-0.5b,qwen3-0.6b]
 *     [--backend wasm|cpu] [--batch 1] [--seq 64] [--decode 16] [--reps 3] [--through-file]
 *     [--stock-wasm]
 *
 * On wasm the engine's own kernels (runtime/wasm-kernels) are registered, as the engine does;
 * --stock-wasm measures the package's kernels alone. Each model runs in its own Node process
 * (lib/child-run.ts): wasm cannot recover from running out of memory, and its heap never shrinks.
 * A model that does not fit the backend's memory (wasm32's heap is at most 4 GiB) is reported as
 * "did not fit" and the run goes on. Exit status 1 when a phase leaks tensors (outside a model that
 * did not fit, whose process is beyond repair) or a model fails for a reason other than memory;
 * figures are never pass/fail.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../src/lora/adapter';
import { CausalLM } from '../src/model/causal-lm';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { KNOWN_CONFIGS, type KnownModelId } from '../src/model/known-configs';
import { selectBackend } from '../src/runtime/backend';
import { registerWasmKernels } from '../src/runtime/wasm-kernels';
import { tensorMemory, wasmHeapBytes } from './lib/backend-memory';
import { runInChild } from './lib/child-run';
import { measureDecode } from './lib/decode-timing';
import { measureLoraStep } from './lib/lora-step';
import { buildRandomWeights, disposeWeights, loadThroughFile } from './lib/random-model';
import { printTables, type ModelReport } from './lib/real-size-report';
import { machineInfo, writeResults } from './lib/results';
import { TensorLedger, type PhaseCheck } from './lib/tensor-ledger';

const MODELS: Readonly<Record<string, KnownModelId>> = {
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

interface Options {
  readonly models: string[];
  readonly backend: 'wasm' | 'cpu';
  readonly batch: number;
  readonly seq: number;
  readonly decode: number;
  readonly reps: number;
  readonly throughFile: boolean;
  readonly stockWasm: boolean;
  /** Set in a child process: where to write its `ChildResult`. */
  readonly childOut: string | undefined;
}

/** What a child process reports for its one model. */
interface ChildResult {
  readonly report: ModelReport;
  readonly checks: PhaseCheck[];
  readonly wasmKernels: string[];
}

function parseOptions(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: 'smollm2-135m,gpt2' },
      backend: { type: 'string', default: 'wasm' },
      batch: { type: 'string', default: '1' },
      seq: { type: 'string', default: '64' },
      decode: { type: 'string', default: '16' },
      reps: { type: 'string', default: '3' },
      'through-file': { type: 'boolean', default: false },
      'stock-wasm': { type: 'boolean', default: false },
      'child-out': { type: 'string' },
    },
  });
  const models = v.models.split(',').map((m) => m.trim().toLowerCase());
  const unknown = models.filter((m) => !(m in MODELS));
  if (unknown.length) {
    const known = Object.keys(MODELS).join(', ');
    throw new Error(`--models: unknown "${unknown.join('", "')}"; choose from ${known}.`);
  }
  if (v.backend !== 'wasm' && v.backend !== 'cpu') {
    throw new Error(`--backend is "${v.backend}"; use wasm or cpu (webgpu needs a browser).`);
  }
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (Number.isInteger(n) && n >= 1) return n;
    throw new Error(`--${name} is "${text}"; it must be an integer ≥ 1.`);
  };
  return {
    models,
    backend: v.backend,
    batch: int('batch', v.batch),
    seq: int('seq', v.seq),
    decode: int('decode', v.decode),
    reps: int('reps', v.reps),
    throughFile: v['through-file'],
    stockWasm: v['stock-wasm'],
    childOut: v['child-out'],
  };
}

/** Runs every phase of one model; a failure becomes the report's status, never a throw. */
async function runModel(key: string, options: Options, ledger: TensorLedger): Promise<ModelReport> {
  const id = MODELS[key] as KnownModelId;
  const report: ModelReport = { key, id, status: 'ok' };
  const at = { phase: 'config' };
  try {
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
    await ledger.phase(`${key}: whole model`, () =>
      trainAndDecode(key, config, options, ledger, report, at),
    );
  } catch (error) {
    report.status = describeFailure(error, at.phase);
  }
  report.wasmHeapBytes = wasmHeapBytes();
  return report;
}

/** Random weights → LoRA step → decode, filling `report`; frees all it made, even on a throw. */
async function trainAndDecode(
  key: string,
  config: ModelConfig,
  options: Options,
  ledger: TensorLedger,
  report: ModelReport,
  at: { phase: string },
): Promise<void> {
  at.phase = 'build';
  const built = buildRandomWeights(config, SEED);
  try {
    const { parameters, float32Bytes, generateMs, uploadMs } = built;
    report.load = { parameters, float32Bytes, generateMs, uploadMs, ...tensorMemory() };
    at.phase = 'adapter';
    const targets = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
    const lora = { rank: LORA_RANK, alpha: DEFAULT_LORA_ALPHA, targets, seed: SEED };
    const adapter = LoraAdapter.create(config, lora);
    try {
      report.lora = { parameters: adapter.parameterCount, modules: adapter.modules.size };
      const model = new CausalLM(config, built.weights, adapter);
      at.phase = 'train';
      const train = await ledger.phase(`${key}: train`, () =>
        measureLoraStep(model, adapter, { ...options, warmup: 1, seed: SEED }),
      );
      report.train = { ...train, peakOverWeights: train.peakBytesProfiled / float32Bytes };
      at.phase = 'decode';
      const decodeOptions = { promptLength: PROMPT_TOKENS, tokens: options.decode, seed: SEED };
      report.decode = await ledger.phase(`${key}: decode`, () =>
        measureDecode(model, decodeOptions),
      );
    } finally {
      adapter.dispose();
    }
  } finally {
    disposeWeights(built.weights);
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
  const ledger = new TensorLedger();
  const report = await runModel(options.models[0] as string, options, ledger);
  const result: ChildResult = { report, checks: ledger.checks, wasmKernels };
  writeFileSync(out, JSON.stringify(result));
}

/** The arguments that make a child run `key` with this run's settings. */
function childArgs(key: string, o: Options): string[] {
  const flags = [
    ['--models', key],
    ['--backend', o.backend],
    ['--batch', String(o.batch)],
    ['--seq', String(o.seq)],
    ['--decode', String(o.decode)],
    ['--reps', String(o.reps)],
  ].flat();
  if (o.throughFile) flags.push('--through-file');
  if (o.stockWasm) flags.push('--stock-wasm');
  return flags;
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
  return { report: { key, id: MODELS[key] as KnownModelId, status }, checks: [], wasmKernels: [] };
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
  const file = writeResults(`${backend.backend}-real-size`, {
    machine,
    run,
    models: reports,
    tensorChecks: checks,
  });
  console.log(`\nwrote ${file}`);
  const counted = children.filter((c) => !c.report.status.startsWith('did not fit'));
  const leaks = counted.flatMap((c) => c.checks.filter((k) => k.leaked !== 0));
  const failed = counted.filter((c) => c.report.status.startsWith('failed'));
  if (leaks.length > 0 || failed.length > 0) {
    console.error(
      `${leaks.length} phase(s) leaked tensors; ${failed.length} model(s) failed for a reason other than memory.`,
    );
    process.exitCode = 1;
  }
}

const options = parseOptions(process.argv.slice(2));
if (options.childOut !== undefined) await childMain(options, options.childOut);
else await parentMain(options);
