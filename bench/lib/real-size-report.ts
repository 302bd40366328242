/**
 * The figures `bench/real-size.ts` gathers per model, and their tables: load, LoRA training over
 * the grid (ours, naive, MFU, memory), sampling (cached vs no cache) and the tensor count of every
 * phase. Tables are Markdown (table.ts); the JSON file holds the same objects unrounded.
 */
import type { KnownModelId } from '../../src/model/known-configs';
import type { MatmulRate } from './matmul-rate';
import type { SuiteReport } from './model-suite';
import { formatTable, mib, type Cell } from './table';
import type { PhaseCheck } from './tensor-ledger';

export interface LoadFigures {
  readonly parameters: number;
  readonly float32Bytes: number;
  /** Random weights only: time to generate them (0 for real weights). */
  readonly generateMs: number;
  /** Time to upload (random) or load from files (shipped) the weights. */
  readonly uploadMs: number;
  /** `tf.memory()` after the weights are in place, before any adapter exists. */
  readonly numTensors: number;
  readonly numBytes: number;
}

export interface FileFigures {
  readonly writeMs: number;
  readonly fileBytes: number;
  readonly loadMs: number;
  /** `tf.memory()` with the loaded weights alive. */
  readonly numTensors: number;
  readonly numBytes: number;
}

export interface ModelReport {
  readonly key: string;
  readonly id: KnownModelId | 'loops-tiny-llama';
  /** 'ok', 'did not fit (<phase>): <message>' or 'failed (<phase>): <message>'. */
  status: string;
  load?: LoadFigures;
  file?: FileFigures;
  /** This process's large-matmul rate (MFU's denominator). */
  matmul?: MatmulRate;
  suite?: SuiteReport;
  /** The wasm heap after this model's phases (a process-wide high-water mark; null off wasm). */
  wasmHeapBytes?: number | null;
}

export interface RunShape {
  readonly backend: string;
  readonly reps: number;
  readonly decode: number;
  readonly promptTokens: number;
  readonly loraRank: number;
  readonly throughFile: boolean;
}

/** Prints the tables to stdout. */
export function printTables(
  reports: readonly ModelReport[],
  checks: readonly PhaseCheck[],
  run: RunShape,
): void {
  const m = (bytes: number | undefined | null) => (bytes == null ? null : mib(bytes));
  const s = (ms: number | undefined) => (ms === undefined ? null : ms / 1000);
  const file = run.throughFile ? '; BF16 safetensors file → loadWeights' : '';
  console.log(`\nLoad (${run.backend}): weights → tensors${file}; matmul = 1024³ rate here`);
  console.log(
    formatTable(
      [
        { key: 'model' },
        { key: 'params', title: 'params (M)', digits: 2 },
        { key: 'weights', title: 'f32 MiB' },
        { key: 'load', title: 'load s', digits: 2 },
        { key: 'fileLoad', title: 'file load s', digits: 2 },
        { key: 'matmul', title: 'matmul GFLOP/s' },
        { key: 'heap', title: 'wasm heap MiB', digits: 0 },
        { key: 'status' },
      ],
      reports.map((r) => ({
        model: r.key,
        params: r.load ? r.load.parameters / 1e6 : null,
        weights: m(r.load?.float32Bytes),
        load: s(r.load ? r.load.generateMs + r.load.uploadMs : undefined),
        fileLoad: s(r.file?.loadMs),
        matmul: r.matmul?.gflops ?? null,
        heap: m(r.wasmHeapBytes),
        status: r.status,
      })),
    ),
  );

  console.log(
    `\nLoRA r=${run.loraRank} training step (forward + backward + AdamW), median of ${run.reps}; ` +
      `first = first step (setup included); peak = high-water of distinct tensor buffers / f32 ` +
      `weights (numBytes, which counts clones twice, in brackets); ` +
      `MFU = model FLOPs / step time / matmul rate; naive = materialised W+ΔW, full-vocab softmax`,
  );
  const trainRows: Record<string, Cell>[] = [];
  for (const r of reports) {
    for (const t of r.suite?.train ?? []) {
      trainRows.push({
        model: r.key,
        shape: `${t.batch}×${t.seq}`,
        ckpt: t.ours ? (t.ours.checkpointed ? 'yes' : 'no') : null,
        first: s(t.ours?.firstStepMs),
        step: t.ours?.medianMs ?? t.oursStatus,
        tokS: t.ours?.tokensPerSecond ?? null,
        gflop: t.modelGflop,
        mfu: t.ours ? 100 * t.ours.mfu : null,
        peak: t.ours
          ? `${t.ours.peakOverWeights.toFixed(2)} (${t.ours.peakNumBytesOverWeights.toFixed(2)})`
          : null,
        naive: t.naive?.medianMs ?? t.naiveStatus,
        speedup: t.speedup,
      });
    }
  }
  console.log(
    formatTable(
      [
        { key: 'model' },
        { key: 'shape', title: 'B×T' },
        { key: 'ckpt', title: 'ckpt' },
        { key: 'first', title: 'first s', digits: 2 },
        { key: 'step', title: 'step ms', digits: 0 },
        { key: 'tokS', title: 'tokens/s' },
        { key: 'gflop', title: 'GFLOP/step', digits: 1 },
        { key: 'mfu', title: 'MFU %' },
        { key: 'peak', title: 'peak / weights', digits: 2 },
        { key: 'naive', title: 'naive ms', digits: 0 },
        { key: 'speedup', title: 'naive / ours', digits: 2 },
      ],
      trainRows,
    ),
  );

  console.log(
    '\nWhere a step goes: kernels of one profiled step (largest shape profiled per model), ' +
      'share of the profiled kernel time (profiling reads back every output, so shares, not ms)',
  );
  console.log(formatTable(BREAKDOWN_COLUMNS, reports.flatMap(breakdownRows)));

  console.log(
    `\nSampling, ${run.promptTokens}-token prompt, ${run.decode} tokens per sequence, temperature 1; ` +
      `decode tokens/s counts every sequence; no-cache total is measured or fitted (mode)`,
  );
  const decodeRows: Record<string, Cell>[] = [];
  for (const r of reports) {
    for (const d of r.suite?.decode ?? []) {
      decodeRows.push({
        model: r.key,
        n: d.samples,
        prefill: d.cached?.prefillTokensPerSecond ?? null,
        perStep: d.cached?.medianStepMs ?? d.cachedStatus,
        tokS: d.cached?.tokensPerSecond ?? null,
        total: s(d.cached?.totalStepsMs),
        noCache: s(d.noCache?.totalStepsMs),
        mode: d.noCache?.mode ?? null,
        speedup: d.speedup,
      });
    }
  }
  console.log(
    formatTable(
      [
        { key: 'model' },
        { key: 'n', title: 'num_samples', digits: 0 },
        { key: 'prefill', title: 'prefill tok/s' },
        { key: 'perStep', title: 'ms / step' },
        { key: 'tokS', title: 'decode tok/s' },
        { key: 'total', title: 'cached s', digits: 2 },
        { key: 'noCache', title: 'no cache s', digits: 1 },
        { key: 'mode' },
        { key: 'speedup', title: 'no cache / cached', digits: 1 },
      ],
      decodeRows,
    ),
  );

  console.log('\nTensor counts per phase (each must return to its start)');
  console.log(
    formatTable(
      [
        { key: 'phase' },
        { key: 'before', digits: 0 },
        { key: 'after', digits: 0 },
        { key: 'leaked', digits: 0 },
      ],
      checks.map((c) => ({
        phase: c.phase,
        before: c.tensorsBefore,
        after: c.tensorsAfter,
        leaked: c.leaked,
      })),
    ),
  );
}

const BREAKDOWN_COLUMNS = [
  { key: 'model' },
  { key: 'shape', title: 'B×T' },
  { key: 'kernel' },
  { key: 'calls', digits: 0 },
  { key: 'share', title: 'share %' },
];

/** The kernels that make up 90% of the profiled time of the model's largest trained shape. */
function breakdownRows(r: ModelReport): Record<string, Cell>[] {
  const runs = (r.suite?.train ?? []).filter((t) => t.ours && Object.keys(t.ours.kernels).length);
  const last = runs.at(-1);
  if (!last?.ours) return [];
  const entries = Object.entries(last.ours.kernels).sort((a, b) => b[1].ms - a[1].ms);
  const total = entries.reduce((sum, [, k]) => sum + k.ms, 0);
  const rows: Record<string, Cell>[] = [];
  let covered = 0;
  for (const [kernel, k] of entries) {
    if (covered >= 0.9 * total) break;
    covered += k.ms;
    rows.push({
      model: r.key,
      shape: `${last.batch}×${last.seq}`,
      kernel,
      calls: k.calls,
      share: (100 * k.ms) / total,
    });
  }
  return rows;
}
