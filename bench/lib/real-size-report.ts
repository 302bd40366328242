/**
 * The figures `bench/real-size.ts` gathers per model, and their tables: load, LoRA step, decode
 * and the tensor count of every phase. Tables are Markdown (table.ts); the JSON file holds the
 * same objects unrounded.
 */
import type { KnownModelId } from '../../src/model/known-configs';
import type { DecodeResult } from './decode-timing';
import type { StepResult } from './lora-step';
import { formatTable, mib, type Cell } from './table';
import type { PhaseCheck } from './tensor-ledger';

export interface LoadFigures {
  readonly parameters: number;
  readonly float32Bytes: number;
  readonly generateMs: number;
  readonly uploadMs: number;
  /** `tf.memory()` after the weights are uploaded, before the adapter exists. */
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
  readonly id: KnownModelId;
  /** 'ok', 'did not fit (<phase>): <message>' or 'failed (<phase>): <message>'. */
  status: string;
  load?: LoadFigures;
  lora?: { readonly parameters: number; readonly modules: number };
  train?: StepResult & { readonly peakOverWeights: number };
  decode?: DecodeResult;
  file?: FileFigures;
  /** The wasm heap after this model's phases (a process-wide high-water mark; null off wasm). */
  wasmHeapBytes?: number | null;
}

export interface RunShape {
  readonly backend: string;
  readonly batch: number;
  readonly seq: number;
  readonly reps: number;
  readonly decode: number;
  readonly promptTokens: number;
  readonly loraRank: number;
  readonly throughFile: boolean;
}

/** Prints the four tables to stdout. */
export function printTables(
  reports: readonly ModelReport[],
  checks: readonly PhaseCheck[],
  run: RunShape,
): void {
  const rows = reports.map(tableRow);
  const file = run.throughFile ? '; BF16 safetensors file → loadWeights' : '';
  console.log(`\nLoad (${run.backend}): random weights → tensors${file}`);
  console.log(
    formatTable(
      [
        { key: 'model' },
        { key: 'params', title: 'params (M)', digits: 2 },
        { key: 'weights', title: 'f32 MiB' },
        { key: 'gen', title: 'generate s', digits: 2 },
        { key: 'upload', title: 'upload s', digits: 2 },
        { key: 'tensors', title: 'numTensors', digits: 0 },
        { key: 'held', title: 'numBytes MiB' },
        { key: 'fileWrite', title: 'file write s', digits: 2 },
        { key: 'fileLoad', title: 'file load s', digits: 2 },
        { key: 'heap', title: 'wasm heap MiB', digits: 0 },
        { key: 'status' },
      ],
      rows,
    ),
  );
  console.log(
    `\nLoRA r=${run.loraRank} step (forward + backward), ${run.batch}×${run.seq} tokens, ` +
      `median of ${run.reps}; MiB are tf.memory().numBytes`,
  );
  console.log(
    formatTable(
      [
        { key: 'model' },
        { key: 'step', title: 'step ms', digits: 0 },
        { key: 'tokS', title: 'tokens/s' },
        { key: 'fwdPeak', title: 'after fwd MiB' },
        { key: 'peak', title: 'peak MiB (profiled)' },
        { key: 'after', title: 'after step MiB' },
        { key: 'ratio', title: 'peak / weights', digits: 2 },
      ],
      rows,
    ),
  );
  console.log(
    `\nGreedy decode, batch 1, ${run.promptTokens}-token prompt, ${run.decode} KV-cached steps`,
  );
  console.log(
    formatTable(
      [
        { key: 'model' },
        { key: 'prefill', title: 'prefill ms', digits: 0 },
        { key: 'perTok', title: 'ms / token (median)' },
        { key: 'decTokS', title: 'tokens/s', digits: 2 },
      ],
      rows,
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

function tableRow(r: ModelReport): Record<string, Cell> {
  const s = (ms: number | undefined) => (ms === undefined ? null : ms / 1000);
  const m = (bytes: number | undefined | null) => (bytes == null ? null : mib(bytes));
  return {
    model: r.key,
    params: r.load ? r.load.parameters / 1e6 : null,
    weights: m(r.load?.float32Bytes),
    gen: s(r.load?.generateMs),
    upload: s(r.load?.uploadMs),
    tensors: r.load?.numTensors ?? null,
    held: m(r.load?.numBytes),
    fileWrite: s(r.file?.writeMs),
    fileLoad: s(r.file?.loadMs),
    heap: m(r.wasmHeapBytes),
    step: r.train?.medianMs ?? null,
    tokS: r.train?.tokensPerSecond ?? null,
    fwdPeak: m(r.train?.bytesAfterForward),
    peak: m(r.train?.peakBytesProfiled),
    after: m(r.train?.bytesAfterStep),
    ratio: r.train?.peakOverWeights ?? null,
    prefill: r.decode?.prefillMs ?? null,
    perTok: r.decode?.medianStepMs ?? null,
    decTokS: r.decode?.tokensPerSecond ?? null,
    status: r.status,
  };
}
