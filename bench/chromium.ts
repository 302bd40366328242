/**
 * The Chromium side of the benchmarks: the engine in its real Web Worker, driven through the public
 * client by bench/browser/bench-page.ts, on the shipped model loops-tiny-llama (or `--model`), once per backend.
 * Starts a Vite dev server (the repo as its root, so bench/browser/bench.html is served as the test
 * harness pages are), launches Debian's Chromium (or $CHROMIUM_PATH) with the browser tests' flags,
 * and runs each backend in a fresh browser context and page, so no backend's memory, caches or
 * compiled kernels carry into the next. Prints Markdown tables and writes
 * bench/results/<date>-chromium-<backend>.json per backend. Figures are never pass/fail; the exit
 * status is 1 only when a backend could not be measured.
 *
 *   node --import tsx bench/chromium.ts [--backends webgpu,wasm,cpu] [--grid 4x64,8x256]
 *     [--steps 3] [--decode 64] [--wasm-threads auto,1] [--model <id>]
 *
 * `--model`: the shipped loops-tiny-llama (default), or one of the known real configs
 * (src/model/known-configs.ts, e.g. HuggingFaceTB/SmolLM2-135M) with seeded random weights
 * written as a BF16 safetensors file and served as a hub repo on the page's origin, loaded
 * through the engine's download path (real shapes, no download).
 *
 * The page is served cross-origin isolated (vite.config.ts's headers), so wasm may run threads;
 * `--wasm-threads` runs wasm once per entry ('auto': the engine's default count; a number: that
 * many), one after the other in the same browser, so threads vs one thread is one run's ratio.
 *
 * Without a GPU, Chromium's WebGPU adapter is SwiftShader (Vulkan on the CPU): correct, slow, and
 * the webgpu run is the longest; `--grid 4x64` shortens every run.
 */
import { chromium, type Browser } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from 'vite';
import { chromiumArgs } from '../playwright.config';
import type { BackendName } from '../src/runtime/backend';
import { targetsFor } from '../src/lora/adapter';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import {
  KNOWN_CONFIGS,
  KNOWN_MODEL_IDS,
  type HfConfigJson,
  type KnownModelId,
} from '../src/model/known-configs';
import type { BenchModel, BenchOptions, BenchResult, RunBench, Shape } from './browser/bench-page';
import { createHubFolder, hubPlugin, removeHub, writeRandomRepo } from './lib/bench-hub';
import { loraShapesFor, trainingFlops } from './lib/model-suite';
import { runBenchPage } from './lib/page-run';
import { machineInfo, writeResults } from './lib/results';
import { formatTable, mib, type Cell, type Column } from './lib/table';
import { median } from './lib/timing';

const BACKENDS: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];
/** Matmul sizes per backend: SwiftShader takes seconds for one 1024³ product. */
const MATMUL_SIZES: Readonly<Record<BackendName, readonly number[]>> = {
  webgpu: [256, 512],
  wasm: [512, 1024],
  cpu: [512, 1024],
};
const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHIPPED = 'loops-tiny-llama';
/** The rank bench-page.ts asks for. */
const LORA_RANK = 8;
const HUB_PATH = '/bench-hub';

/** The config of the benchmarked model (the shipped one's from public/models). */
function modelConfig(model: string): ModelConfig {
  if (model !== SHIPPED) return parseModelConfig(KNOWN_CONFIGS[model as KnownModelId]);
  const file = fileURLToPath(new URL(`../public/models/${SHIPPED}/config.json`, import.meta.url));
  return parseModelConfig(JSON.parse(readFileSync(file, 'utf8')) as HfConfigJson);
}

/** The hub repo id a known model's random-weight copy is served under. */
function hubRepo(id: string): string {
  return `bench/${id.split('/').at(-1)?.toLowerCase()}-random`;
}

/** A temp hub holding `id`'s config with seeded random BF16 weights (real shapes, no download). */
function writeModelHub(id: string): string {
  const root = createHubFolder();
  console.log(`writing random BF16 weights for ${id}…`);
  writeRandomRepo(root, hubRepo(id), KNOWN_CONFIGS[id as KnownModelId], { dtype: 'BF16' });
  return root;
}

interface Options {
  readonly backends: BackendName[];
  readonly grid: Shape[];
  readonly steps: number;
  readonly decode: number;
  /** wasm runs: undefined = the engine's default thread count. */
  readonly wasmThreads: (number | undefined)[];
  /** loops-tiny-llama or a known model id. */
  readonly model: string;
}

/** One measured configuration: a backend, and for wasm a thread count. */
interface Variant {
  /** 'webgpu', 'wasm', 'wasm-1t', 'cpu': the table's row name and the results file's suffix. */
  readonly label: string;
  readonly backend: BackendName;
  readonly threads?: number;
}

interface Outcome {
  readonly label: string;
  readonly backend: BackendName;
  /** 'ok', or 'failed: <message>'. */
  readonly status: string;
  /** The backend's whole run: page load, engine, matmul worker. */
  readonly wallSeconds: number;
  readonly result: BenchResult | null;
}

function parseOptions(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      backends: { type: 'string', default: BACKENDS.join(',') },
      grid: { type: 'string', default: '4x64,8x256' },
      steps: { type: 'string', default: '3' },
      decode: { type: 'string', default: '64' },
      'wasm-threads': { type: 'string', default: 'auto,1' },
      model: { type: 'string', default: SHIPPED },
    },
  });
  if (v.model !== SHIPPED && !(KNOWN_MODEL_IDS as readonly string[]).includes(v.model)) {
    throw new Error(
      `--model: "${v.model}" is neither ${SHIPPED} nor one of ${KNOWN_MODEL_IDS.join(', ')}.`,
    );
  }
  const backends = v.backends.split(',').map((b) => b.trim());
  const unknown = backends.filter((b) => !BACKENDS.includes(b as BackendName));
  if (unknown.length) {
    throw new Error(`--backends: unknown "${unknown.join('", "')}"; use ${BACKENDS.join(', ')}.`);
  }
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (Number.isInteger(n) && n >= 1) return n;
    throw new Error(`--${name} is "${text}"; it must be an integer ≥ 1.`);
  };
  const grid = v.grid.split(',').map((cell) => {
    const match = /^(\d+)x(\d+)$/.exec(cell.trim());
    if (!match) throw new Error(`--grid cell "${cell}" is not <batch>x<seq>, e.g. 4x64.`);
    return {
      batch: int('grid batch', match[1] as string),
      seq: int('grid seq', match[2] as string),
    };
  });
  const wasmThreads = v['wasm-threads']
    .split(',')
    .map((t) => (t.trim() === 'auto' ? undefined : int('wasm-threads', t.trim())));
  return {
    backends: backends as BackendName[],
    grid,
    steps: int('steps', v.steps),
    decode: int('decode', v.decode),
    wasmThreads,
    model: v.model,
  };
}

function variants(options: Options): Variant[] {
  return options.backends.flatMap((backend): Variant[] =>
    backend === 'wasm'
      ? options.wasmThreads.map((threads) =>
          threads === undefined
            ? { label: 'wasm', backend }
            : { label: `wasm-${threads}t`, backend, threads },
        )
      : [{ label: backend, backend }],
  );
}

/** One backend in a fresh context and page; a failure becomes the outcome's status. */
async function benchBackend(
  browser: Browser,
  url: string,
  variant: Variant,
  options: Options,
  model: BenchModel,
): Promise<Outcome> {
  const { label, backend } = variant;
  const labels = { log: label, error: `[${label}]` };
  const run = await runBenchPage(browser, url, labels, (page, seconds) => {
    console.log(`${label}: page ready after ${seconds().toFixed(1)} s; measuring…`);
    const benchOptions: BenchOptions = {
      model,
      grid: options.grid,
      steps: options.steps,
      decode: options.decode,
      matmulSizes: MATMUL_SIZES[backend],
      ...(variant.threads === undefined ? {} : { wasmThreads: variant.threads }),
    };
    const args = [backend, benchOptions] as const;
    return page.evaluate(
      ([b, o]) => (window as unknown as { runBench: RunBench }).runBench(b, o),
      args,
    );
  });
  return { label, backend, ...run };
}

type Measured = Outcome & { readonly result: BenchResult };
type Row = Record<string, Cell>;

/** Prints a titled table; nothing when there are no rows (every backend failed). */
function section(title: string, columns: readonly Column[], rows: readonly Row[]): void {
  if (rows.length > 0) console.log(`\n${title}\n\n${formatTable(columns, rows)}`);
}

function startTable(outcomes: readonly Outcome[]): void {
  const rows = outcomes.map((o) => {
    const adapter = o.result?.backend.adapter;
    return {
      backend: o.label,
      status: o.status,
      adapter: adapter ? adapter.description || adapter.architecture || adapter.vendor : null,
      threads: o.result?.backend.wasm?.threads ?? null,
      binary: o.result?.backend.wasm?.binary ?? null,
      isolated: o.result ? String(o.result.crossOriginIsolated) : null,
      init: o.result?.initMs ?? null,
      load: o.result?.loadMs ?? null,
      first: o.result?.timeToFirstStepMs ?? null,
      wall: o.wallSeconds,
    };
  });
  const columns = [
    { key: 'backend' },
    { key: 'status' },
    { key: 'adapter', title: 'WebGPU adapter seen' },
    { key: 'threads', title: 'wasm threads', digits: 0 },
    { key: 'binary', title: 'wasm binary' },
    { key: 'isolated', title: 'crossOriginIsolated' },
    { key: 'init', title: 'init ms', digits: 0 },
    { key: 'load', title: 'load ms', digits: 0 },
    { key: 'first', title: 'call → first step done ms', digits: 0 },
    { key: 'wall', title: 'whole run s' },
  ];
  section('Start', columns, rows);
}

/**
 * Model FLOPs of one LoRA r8 step at `shape` (bench/lib/model-suite.ts `trainingFlops`), with the
 * targets `create_lora_training_client` gives by default: attention, MLP and the unembedding.
 */
function stepGflop(config: ModelConfig, shape: Shape): number {
  const targets = targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true });
  return trainingFlops(config, LORA_RANK, loraShapesFor(config, targets), shape) / 1e9;
}

function trainingTable(measured: readonly Measured[], config: ModelConfig): void {
  const rows = measured.flatMap((o) => {
    // MFU's denominator: the backend's largest matmul measured in the same page.
    const rate = o.result.matmul.at(-1);
    return o.result.training.map((t) => {
      const gflop = stepGflop(config, t);
      return {
        backend: o.label,
        shape: `${t.batch}×${t.seq}`,
        step: t.stepMs,
        tps: t.tokensPerSecond,
        gflop,
        mfu: rate ? (100 * gflop) / (t.stepMs / 1000) / rate.gflops : null,
        loss: (t.losses.at(-1) ?? Number.NaN) / (t.batch * t.seq),
      };
    });
  });
  const columns = [
    { key: 'backend' },
    { key: 'shape', title: 'batch×seq' },
    { key: 'step', title: 'step ms', digits: 0 },
    { key: 'tps', title: 'tokens/s', digits: 0 },
    { key: 'gflop', title: 'model GFLOP', digits: 1 },
    { key: 'mfu', title: 'MFU % (of its largest matmul)', digits: 1 },
    { key: 'loss', title: 'last loss / token', digits: 3 },
  ];
  section(
    'Training: forward_backward + optim_step, pipelined: wall time of the timed steps / their count',
    columns,
    rows,
  );
}

function samplingTable(measured: readonly Measured[]): void {
  const rows = measured.flatMap((o) =>
    o.result.sampling.map((s) => ({
      backend: o.label,
      n: String(s.numSamples),
      prefill: median(s.prefillMs),
      ptps: s.prefillTokensPerSecond,
      full: median(s.fullMs),
      dtps: s.decodeTokensPerSecond,
      early: String(s.earlyStops),
    })),
  );
  const columns = [
    { key: 'backend' },
    { key: 'n', title: 'num_samples' },
    { key: 'prefill', title: 'max_tokens 1 ms', digits: 0 },
    { key: 'ptps', title: 'prefill tok/s', digits: 0 },
    { key: 'full', title: 'full call ms', digits: 0 },
    { key: 'dtps', title: 'decode tok/s' },
    { key: 'early', title: 'early stops' },
  ];
  const prompt = measured[0]?.result.sampling[0];
  const what = prompt ? `${prompt.promptTokens}-token prompt, max_tokens ${prompt.maxTokens}` : '';
  section(`Sampling: ${what}, temperature 1, fixed seed, medians`, columns, rows);
}

function memoryTable(measured: readonly Measured[]): void {
  const rows = measured.map(({ label, result: { memory: m, weights } }) => ({
    backend: label,
    init: mib(m.afterInit.numBytes),
    load: mib(m.afterLoad.numBytes),
    train: mib(m.afterTraining.numBytes),
    weights: mib(weights.float32Bytes),
    ratio: m.afterTraining.numBytes / weights.float32Bytes,
  }));
  const columns = [
    { key: 'backend' },
    { key: 'init', title: 'after init', digits: 2 },
    { key: 'load', title: 'after load', digits: 2 },
    { key: 'train', title: 'after training', digits: 2 },
    { key: 'weights', title: 'weights (f32)', digits: 2 },
    { key: 'ratio', title: 'after training / weights', digits: 2 },
  ];
  section('Engine tensor memory, tf.memory().numBytes in MiB', columns, rows);
}

function matmulTable(measured: readonly Measured[]): void {
  const rows = measured.flatMap((o) =>
    o.result.matmul.map((r) => ({
      backend: o.label,
      size: `${r.size}³`,
      ms: r.medianMs,
      gflops: r.gflops,
    })),
  );
  const columns = [
    { key: 'backend' },
    { key: 'size', title: 'n×n · n×n' },
    { key: 'ms', title: 'median ms' },
    { key: 'gflops', title: 'GFLOP/s', digits: 2 },
  ];
  section('Backend matmul in its own worker', columns, rows);
}

/** (measure, rate) pairs of one run; higher is faster (a step's rate is 1 / its time). */
function rates(r: BenchResult): [string, number][] {
  return [
    ...r.training.map((t): [string, number] => [`train ${t.batch}×${t.seq}`, 1 / t.stepMs]),
    ...r.sampling.map((s): [string, number] => [
      `decode ×${s.numSamples}`,
      s.decodeTokensPerSecond,
    ]),
    ...r.matmul.map((m): [string, number] => [`matmul ${m.size}³`, m.gflops]),
  ];
}

/** Each wasm run with more than one thread against the one-thread run of the same invocation. */
function threadsTable(measured: readonly Measured[]): void {
  const one = measured.find((o) => o.backend === 'wasm' && o.result.backend.wasm?.threads === 1);
  if (!one) return;
  const base = new Map(rates(one.result));
  const rows = measured
    .filter((o) => o.backend === 'wasm' && o !== one)
    .flatMap((o) =>
      rates(o.result).map(([what, rate]) => ({
        run: o.label,
        threads: o.result.backend.wasm?.threads ?? null,
        what,
        speedup: base.has(what) ? rate / (base.get(what) as number) : null,
      })),
    );
  const columns = [
    { key: 'run' },
    { key: 'threads', digits: 0 },
    { key: 'what', title: 'measure' },
    { key: 'speedup', title: `× ${one.label} (1 thread)`, digits: 2 },
  ];
  section('wasm: threads against one thread, same run', columns, rows);
}

function printTables(outcomes: readonly Outcome[], config: ModelConfig): void {
  const measured = outcomes.filter((o): o is Measured => o.result !== null);
  startTable(outcomes);
  trainingTable(measured, config);
  threadsTable(measured);
  samplingTable(measured);
  memoryTable(measured);
  matmulTable(measured);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const port = Number(process.env.LOOPS_BENCH_PORT ?? 5175);
  const root = fileURLToPath(new URL('..', import.meta.url));
  // No file watching and no HMR: an edit anywhere in the repo (another session, an editor) would
  // otherwise reload the page mid-run. A cache folder of its own: a test server optimising deps
  // in node_modules/.vite at the same time cannot swap modules under this one.
  const hub = options.model === SHIPPED ? null : writeModelHub(options.model);
  const server = await createServer({
    root,
    logLevel: 'warn',
    cacheDir: 'node_modules/.vite-bench',
    plugins: hub ? [hubPlugin(hub, HUB_PATH)] : [],
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false, watch: null },
  });
  await server.listen();
  const origin = `http://127.0.0.1:${port}`;
  const model: BenchModel = hub
    ? {
        repo: hubRepo(options.model),
        filesUrl: `${origin}${HUB_PATH}/${hubRepo(options.model)}/resolve/main`,
        hubUrl: `${origin}${HUB_PATH}`,
      }
    : { repo: SHIPPED, filesUrl: `${origin}/models/${SHIPPED}` };
  const browser = await chromium.launch({ executablePath: EXECUTABLE, args: chromiumArgs });
  const outcomes: Outcome[] = [];
  try {
    const browserInfo = {
      name: 'chromium',
      version: browser.version(),
      executablePath: EXECUTABLE,
      args: chromiumArgs,
    };
    const url = `${origin}/bench/browser/bench.html`;
    for (const variant of variants(options)) {
      const { label, backend } = variant;
      const outcome = await benchBackend(browser, url, variant, options, model);
      outcomes.push(outcome);
      console.log(`${label}: ${outcome.status} (${outcome.wallSeconds.toFixed(1)} s)`);
      const file = writeResults(`chromium-${label}`, {
        machine: { ...machineInfo(), backend },
        browser: browserInfo,
        run: {
          ...options,
          wasmThreads: variant.threads ?? 'auto',
          model: options.model,
          matmulSizes: MATMUL_SIZES[backend],
        },
        status: outcome.status,
        wallSeconds: outcome.wallSeconds,
        adapter: outcome.result?.backend ?? null,
        result: outcome.result,
      });
      console.log(`wrote ${file}`);
    }
  } finally {
    await browser.close();
    await server.close();
    if (hub) removeHub(hub);
  }
  printTables(outcomes, modelConfig(options.model));
  if (outcomes.some((o) => o.result === null)) process.exitCode = 1;
}

await main();
