/**
 * `npm run bench:peer`: our engine against the peer `@genai-fi/nanogpt` (a devDependency, pinned;
 * nothing is installed at run time) in the same Chromium, at the peer's model sizes:
 *   (i)  2 layers, 4 heads, 64 wide, vocab 128, batch 4 × 64 tokens
 *   (ii) 4 layers, 4 heads, 192 wide, vocab 128, batch 8 × 128 tokens
 * For each: LoRA r8 training tokens/s (one loss read back per step), decode tokens/s at batch 1,
 * and the time to the first step, per backend both have (webgpu, cpu) plus our wasm, our webgpu
 * with our kernels on and off (`gpu_kernels`), and each side's best. Our side is a GPT-2-family
 * model of the same dimensions (fused QKV, GELU MLP 4×, tied embeddings) with random weights,
 * served by this script as a Hugging Face repo on the page's own origin and loaded through the
 * public client in its Worker; the peer's is its own GPT (v2) of those dimensions, on the page.
 *
 *   node --import tsx bench/peer.ts [--configs i,ii] [--variants <list>] [--steps 3]
 *     [--warmup 1] [--decode 16] [--prompt 16]
 *
 * Variants: peer-webgpu, peer-cpu, ours-webgpu-kernels, ours-webgpu-stock, ours-wasm, ours-cpu,
 * and ours-webgpu-kernels-no-warm-up (the engine's compile-up-front warm-up off: its effect on the
 * time to the first step, same run).
 * The peer runs its default GPT (v2: RoPE, RMSNorm) except on cpu, where 1.3.0 lacks a kernel
 * (RMSNormNoGamma) and its v1 GPT with learned positions runs instead (say so with the figures).
 * Each runs in a fresh browser context and page. Chromium is Debian's /usr/bin/chromium (or
 * $CHROMIUM_PATH) with the browser tests' flags; without a GPU its WebGPU adapter is SwiftShader,
 * a software adapter: compare ratios within one run, never absolute GPU figures. Prints Markdown
 * tables and writes bench/results/<date>-peer-<configs>.json. The exit status is 1 when a variant failed.
 */
import { chromium, type Browser } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from 'vite';
import { chromiumArgs } from '../playwright.config';
import type { PeerShape, RunSide, SideOptions, SideResult } from './browser/peer-page';
import { createHubFolder, hubPlugin, removeHub, writeRandomRepo } from './lib/bench-hub';
import { runBenchPage } from './lib/page-run';
import { PEER_CONFIGS, peerGpt2Config } from './lib/peer-configs';
import { machineInfo, writeResults } from './lib/results';
import { formatTable, type Cell } from './lib/table';

const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RANK = 8;
const HUB_PATH = '/peer-hub';

const CONFIGS = PEER_CONFIGS;

interface Variant {
  readonly name: string;
  readonly side: SideOptions['side'];
  readonly backend: SideOptions['backend'];
  readonly gpuKernels?: boolean;
  readonly peerModel?: 'v1' | 'v2';
  readonly warmUp?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'peer-webgpu', side: 'peer', backend: 'webgpu' },
  { name: 'ours-webgpu-stock', side: 'ours', backend: 'webgpu', gpuKernels: false },
  { name: 'ours-webgpu-kernels', side: 'ours', backend: 'webgpu', gpuKernels: true },
  {
    name: 'ours-webgpu-kernels-no-warm-up',
    side: 'ours',
    backend: 'webgpu',
    gpuKernels: true,
    warmUp: false,
  },
  { name: 'peer-cpu', side: 'peer', backend: 'cpu', peerModel: 'v1' },
  { name: 'ours-cpu', side: 'ours', backend: 'cpu' },
  { name: 'ours-wasm', side: 'ours', backend: 'wasm' },
];

interface Outcome {
  readonly config: string;
  readonly variant: Variant;
  readonly status: string;
  readonly wallSeconds: number;
  readonly result: SideResult | null;
}

/** Writes each config's model as a hub repo `bench/loops-gpt2-<config>` under a temp folder. */
function writeHub(configs: readonly string[]): string {
  const root = createHubFolder();
  for (const name of configs)
    writeRandomRepo(root, repoOf(name), peerGpt2Config(CONFIGS[name] as PeerShape));
  return root;
}

function repoOf(config: string): string {
  return `bench/loops-gpt2-${config}`;
}

async function runVariant(
  browser: Browser,
  url: string,
  config: string,
  variant: Variant,
  options: Omit<SideOptions, 'side' | 'backend' | 'gpuKernels' | 'shape' | 'repo'>,
): Promise<Outcome> {
  const tag = `(${config}) ${variant.name}`;
  const run = await runBenchPage(browser, url, { log: tag, error: tag }, (page) => {
    const side: SideOptions = {
      ...options,
      side: variant.side,
      backend: variant.backend,
      ...(variant.gpuKernels === undefined ? {} : { gpuKernels: variant.gpuKernels }),
      ...(variant.peerModel === undefined ? {} : { peerModel: variant.peerModel }),
      ...(variant.warmUp === undefined ? {} : { warmUp: variant.warmUp }),
      shape: CONFIGS[config] as PeerShape,
      repo: repoOf(config),
    };
    return page.evaluate((o) => (window as unknown as { runSide: RunSide }).runSide(o), side);
  });
  return { config, variant, ...run };
}

function describeShape(name: string): string {
  const s = CONFIGS[name] as PeerShape;
  return `(${name}) ${s.layers} layers / ${s.heads} heads / ${s.width} wide, vocab ${s.vocab}, B ${s.batch} × T ${s.seq}`;
}

function printTables(outcomes: readonly Outcome[], configs: readonly string[]): void {
  for (const config of configs) {
    const mine = outcomes.filter((o) => o.config === config);
    const rows = mine.map((o): Record<string, Cell> => ({
      variant: o.variant.name,
      status: o.status,
      backend: o.result?.backend ?? null,
      first: o.result ? o.result.timeToFirstStepMs / 1000 : null,
      step: o.result?.medianStepMs ?? null,
      tps: o.result?.tokensPerSecond ?? null,
      dtps: o.result?.decodeTokensPerSecond ?? null,
      loss: o.result?.losses.at(-1) ?? null,
    }));
    const columns = [
      { key: 'variant' },
      { key: 'status' },
      { key: 'backend' },
      { key: 'first', title: 'time to first step s', digits: 1 },
      { key: 'step', title: 'step ms', digits: 0 },
      { key: 'tps', title: 'LoRA train tokens/s', digits: 1 },
      { key: 'dtps', title: 'decode tokens/s (batch 1)', digits: 2 },
      { key: 'loss', title: 'last loss / token', digits: 3 },
    ];
    console.log(`\n${describeShape(config)}, LoRA r${RANK}\n\n${formatTable(columns, rows)}`);
    ratioTable(config, mine);
  }
}

/** Ours against the peer on the same backend, and each side's best against the other's. */
function ratioTable(config: string, mine: readonly Outcome[]): void {
  const get = (name: string) => mine.find((o) => o.variant.name === name)?.result ?? null;
  const best = (side: string, pick: (r: SideResult) => number) => {
    const all = mine.filter((o) => o.variant.side === side && o.result);
    const top = all.sort((a, b) => pick(b.result!) - pick(a.result!))[0];
    return top ? { name: top.variant.name, value: pick(top.result!) } : null;
  };
  const measures: [string, (r: SideResult) => number][] = [
    ['LoRA train tokens/s', (r) => r.tokensPerSecond],
    ['decode tokens/s', (r) => r.decodeTokensPerSecond],
    ['1 / time to first step', (r) => 1000 / r.timeToFirstStepMs],
  ];
  const pairs: [string, string][] = [
    ['ours-webgpu-kernels', 'peer-webgpu'],
    ['ours-webgpu-stock', 'peer-webgpu'],
    ['ours-cpu', 'peer-cpu'],
  ];
  const rows: Record<string, Cell>[] = [];
  for (const [what, pick] of measures) {
    for (const [ours, peer] of pairs) {
      const a = get(ours);
      const b = get(peer);
      if (a && b) rows.push({ what, ours, peer, ratio: pick(a) / pick(b) });
    }
    const o = best('ours', pick);
    const p = best('peer', pick);
    if (o && p)
      rows.push({
        what,
        ours: `best: ${o.name}`,
        peer: `best: ${p.name}`,
        ratio: o.value / p.value,
      });
  }
  const warm = get('ours-webgpu-kernels');
  const cold = get('ours-webgpu-kernels-no-warm-up');
  if (warm && cold) {
    const pick = (r: SideResult) => 1000 / r.timeToFirstStepMs;
    rows.push({
      what: '1 / time to first step',
      ours: 'ours-webgpu-kernels',
      peer: 'ours, warm-up off',
      ratio: pick(warm) / pick(cold),
    });
  }
  const columns = [
    { key: 'what', title: 'measure' },
    { key: 'ours' },
    { key: 'peer' },
    { key: 'ratio', title: 'ours / peer (higher: ours faster)', digits: 2 },
  ];
  if (rows.length)
    console.log(`\n${describeShape(config)}: ratios\n\n${formatTable(columns, rows)}`);
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      configs: { type: 'string', default: 'i,ii' },
      variants: { type: 'string', default: VARIANTS.map((x) => x.name).join(',') },
      steps: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      decode: { type: 'string', default: '16' },
      prompt: { type: 'string', default: '16' },
      reps: { type: 'string', default: '2' },
    },
  });
  const configs = v.configs.split(',').map((c) => c.trim());
  for (const c of configs) if (!CONFIGS[c]) throw new Error(`--configs: unknown "${c}"; use i, ii`);
  const variants = v.variants.split(',').map((name) => {
    const found = VARIANTS.find((x) => x.name === name.trim());
    if (!found) throw new Error(`--variants: unknown "${name}"`);
    return found;
  });
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (Number.isInteger(n) && n >= min) return n;
    throw new Error(`--${name} is "${text}"; it must be an integer ≥ ${min}.`);
  };
  const port = Number(process.env.LOOPS_BENCH_PORT ?? 5176);
  const hub = writeHub(configs);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const server = await createServer({
    root,
    logLevel: 'warn',
    cacheDir: 'node_modules/.vite-bench-peer',
    optimizeDeps: { entries: ['bench/browser/peer.html'] },
    plugins: [hubPlugin(hub, HUB_PATH)],
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false, watch: null },
  });
  await server.listen();
  const origin = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: EXECUTABLE, args: chromiumArgs });
  const outcomes: Outcome[] = [];
  const side = {
    hubUrl: `${origin}${HUB_PATH}`,
    rank: RANK,
    warmupSteps: int('warmup', v.warmup, 0),
    steps: int('steps', v.steps, 1),
    decode: int('decode', v.decode, 1),
    prompt: int('prompt', v.prompt, 1),
    decodeReps: int('reps', v.reps, 1),
  };
  try {
    for (const config of configs) {
      for (const variant of variants) {
        const outcome = await runVariant(
          browser,
          `${origin}/bench/browser/peer.html`,
          config,
          variant,
          side,
        );
        outcomes.push(outcome);
        console.log(
          `(${config}) ${variant.name}: ${outcome.status} (${outcome.wallSeconds.toFixed(0)} s)`,
        );
      }
    }
  } finally {
    const version = browser.version();
    await browser.close();
    await server.close();
    removeHub(hub);
    printTables(outcomes, configs);
    const file = writeResults(`peer-${configs.join('-')}`, {
      machine: machineInfo(),
      browser: { name: 'chromium', version, executablePath: EXECUTABLE, args: chromiumArgs },
      peer: { package: '@genai-fi/nanogpt', version: peerVersion() },
      run: {
        ...side,
        hubUrl: undefined,
        configs: Object.fromEntries(configs.map((c) => [c, CONFIGS[c]])),
      },
      outcomes,
    });
    console.log(`\nwrote ${file}`);
  }
  if (outcomes.some((o) => o.result === null)) process.exitCode = 1;
}

function peerVersion(): string {
  const pkg = fileURLToPath(
    new URL('../node_modules/@genai-fi/nanogpt/package.json', import.meta.url),
  );
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

await main();
