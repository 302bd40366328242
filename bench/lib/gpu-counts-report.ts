/**
 * The Markdown tables of bench/gpu-counts.ts: dispatches, uploads and readbacks per step and per
 * decoded token, pipelines created before the first step's end, and the GPU buffer pool, from the
 * cases' results (bench/lib/gpu-counts-case.ts).
 */
import { emptyWork, type GpuWork } from '../../src/runtime/webgpu/counters';
import {
  BATCH,
  PROMPT,
  RANK,
  SEQ,
  type CaseResult,
  type DecodeCounts,
  type ModelName,
} from './gpu-counts-case';
import { formatTable, mib, type Cell } from './table';

/** Sums two counts (or scales one: a − b, a / n) name by name. */
function combine(a: GpuWork, b: GpuWork, f: (x: number, y: number) => number): GpuWork {
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
    pipelines: {
      ours: names(a.pipelines.ours, b.pipelines.ours),
      stock: names(a.pipelines.stock, b.pipelines.stock),
    },
  };
}

const ZERO: GpuWork = emptyWork();
const scale = (w: GpuWork, k: number) => combine(w, ZERO, (x) => x * k);
const minus = (a: GpuWork, b: GpuWork) => combine(a, b, (x, y) => x - y);
const plus = (a: GpuWork, b: GpuWork) => combine(a, b, (x, y) => x + y);

interface Row {
  readonly what: string;
  readonly kernels: string;
  readonly how: string;
  readonly work: GpuWork;
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

function rowsOf(
  r: CaseResult,
  scaleTo?: (w: GpuWork, pick: (c: CaseResult) => GpuWork) => GpuWork,
): Row[] {
  const k = r.kernels ? 'on' : 'off';
  const how = r.compileOnly ? 'compile-only' : 'run';
  const get = (pick: (c: CaseResult) => GpuWork) => (scaleTo ? scaleTo(pick(r), pick) : pick(r));
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
  return (w: GpuWork, pick: (c: CaseResult) => GpuWork): GpuWork => {
    void w;
    const perLayer = scale(minus(pick(high), pick(low)), 1 / (L2 - L1));
    return plus(pick(low), scale(perLayer, full - L1));
  };
}

const TITLES: Record<ModelName, (r: CaseResult) => string> = {
  fixture: (r) =>
    `Fixture Llama (${r.config.layers} layers, hidden ${r.config.hidden}, vocab ${r.config.vocab})`,
  smollm2: (r) =>
    `SmolLM2-135M shape, ${r.config.layers} of ${r.config.fullLayers} layers (random weights)`,
  'peer-i': (r) =>
    `bench:peer config (i): GPT-2, ${r.config.layers} layers, 4 heads, ${r.config.hidden} wide, vocab ${r.config.vocab} (random F32 weights, as bench:peer serves them)`,
};
const RUN = `LoRA r${RANK} on attention + MLP, B ${BATCH} × T ${SEQ}; decode: ${PROMPT}-token prompt`;

/**
 * Pipelines created from the backend's start to the end of the first `optim_step` (cold process):
 * each a shader compile before the first step's loss (issue 12, time to first step).
 */
function pipelinesTable(results: readonly CaseResult[]): void {
  const rows = results.map((r): Record<string, Cell> => {
    const p = r.firstStep.pipelines;
    return {
      model: `${r.model}, ${r.config.layers} layers, ${r.checkpointDtype}`,
      kernels: r.kernels ? 'on' : 'off',
      how: r.compileOnly ? 'compile-only' : 'run',
      total: sum(p.ours) + sum(p.stock),
      ours: sum(p.ours),
      stock: sum(p.stock),
      compile: r.compileOnly ? null : r.firstStepCompileSeconds,
      programs: top(p.stock, 99),
    };
  });
  const columns = [
    { key: 'model' },
    { key: 'kernels', title: 'our kernels' },
    { key: 'how', title: 'counted' },
    { key: 'total', title: 'pipelines to first step', digits: 0 },
    { key: 'ours', title: 'ours', digits: 0 },
    { key: 'stock', title: 'stock', digits: 0 },
    { key: 'compile', title: 'compile s (sync, this adapter)', digits: 1 },
    { key: 'programs', title: 'stock programs (new shader keys)' },
  ];
  console.log(
    `\nPipelines created from the model load to the end of the first forward_backward + optim_step (cold process; ${RUN})\n\n${formatTable(columns, rows)}`,
  );
}

export function report(results: CaseResult[]): void {
  pipelinesTable(results);
  for (const model of ['fixture', 'peer-i'] as const) {
    const cases = results.filter((r) => r.model === model);
    if (cases.length) {
      countsTable(
        `${TITLES[model](cases[0] as CaseResult)}, ${RUN}`,
        cases.flatMap((r) => rowsOf(r)),
      );
    }
  }
  const smol = results.filter((r) => r.model === 'smollm2');
  for (const kernels of [true, false]) {
    const byDepth = smol.filter((r) => r.kernels === kernels).sort((a, b) => a.layers - b.layers);
    for (const r of byDepth) countsTable(`${TITLES.smollm2(r)}, ${RUN}`, rowsOf(r));
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
    model: `${r.model}, ${r.config.layers} layers`,
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
