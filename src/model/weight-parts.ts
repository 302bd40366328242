/**
 * Vocab-sized tables held in row parts, so that no single GPU buffer exceeds the device's limits.
 *
 * The embedding and the unembedding are [V, C]: Qwen3-0.6B's is 151,936 × 1,024 floats = 594 MiB,
 * over a 128 MiB `maxStorageBufferBindingSize` (the WebGPU default, still what some adapters give)
 * and a 256 MiB `maxBufferSize`. Such a table is loaded as row parts [V_i, C] of at most
 * `rowsPerPart` rows each, stored in the weights map under `<name>@<i>` (part i starts at row
 * i·rowsPerPart), and every use works part by part:
 *   gather:   x[n] = W_p[id_n − s_p] for the part p holding id_n (masked sum over parts)
 *   unembed:  logits = [h·W_0ᵀ | h·W_1ᵀ | …]  (concatenated along V)
 * On cpu and wasm (no such limits) and wherever a table fits, it stays one tensor under its own
 * name and these helpers run exactly today's single ops.
 *
 * On webgpu with our kernels, a frozen table may be held as bf16 pairs: each part (or the whole
 * table) an int32 tensor [V_i, C / 2] (io/dtype.ts `packBf16Pairs`, a row is whole words), half
 * the bytes, so parts of twice the rows (`rowsPerPart(..., 2)`). The ops then run our kernels
 * (packed-vocab.ts): a gather kernel and GEMMs that read the packed words.
 *
 * This module plans the parts and does the two ops; the loader (io/weights-loader.ts) creates the
 * parts from the file and the model (causal-lm.ts, target-logprobs.ts) calls these ops.
 */
import * as tf from '@tensorflow/tfjs';
import { UnsupportedModelError } from '../errors/loops-errors';
import type { ModelConfig } from './config';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { gatherRowsGpu, gathersRows } from '../runtime/webgpu/kernels/gather-rows';
import { gemm } from '../runtime/webgpu/kernels/gemm';
import { isPacked, partLogits, tableRows } from './packed-vocab';
import { embeddingName } from './weight-names';

/** The buffer limits a part must respect, in bytes (`GPUSupportedLimits` names). */
export interface PartLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** A [V, C] table as the model uses it: its parts in row order and where each starts. */
export interface VocabTable {
  readonly name: string;
  /**
   * [V_i, C] float32 each, or int32 [V_i, C / 2] bf16 pairs when `packed`; one part when the
   * table was not split.
   */
  readonly parts: readonly tf.Tensor2D[];
  /** First row of each part. */
  readonly starts: readonly number[];
  /** V */
  readonly rows: number;
  /** C */
  readonly width: number;
  /** The parts are bf16 pairs (int32 words). */
  readonly packed: boolean;
}

const MIB = 2 ** 20;
const size = (bytes: number): string =>
  bytes < MIB ? `${bytes} bytes` : `${(bytes / MIB).toFixed(2)} MiB`;

/** The weights-map key of part `i` of the table `name`. */
export function partName(name: string, i: number): string {
  return `${name}@${i}`;
}

/** Names of the [V, C] tables of a config: the embedding, and `lm_head.weight` when untied. */
export function vocabTableNames(config: ModelConfig): string[] {
  const names = [embeddingName(config)];
  if (!config.tieWordEmbeddings && config.family !== 'gpt2') names.push('lm_head.weight');
  return names;
}

/** The largest buffer one tensor may take under `limits`. */
export function maxTensorBytes(limits: PartLimits): number {
  return Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
}

/**
 * Rows per part for a table [rows, width] of `elementBytes`-byte elements: all of them when it
 * fits (or there are no limits). Throws `UnsupportedModelError` when a single row does not fit.
 */
export function rowsPerPart(
  name: string,
  rows: number,
  width: number,
  limits: PartLimits | null,
  elementBytes = 4,
): number {
  if (!limits) return rows;
  const rowBytes = width * elementBytes;
  const cap = maxTensorBytes(limits);
  if (rowBytes > cap) {
    const limit =
      limits.maxStorageBufferBindingSize <= limits.maxBufferSize
        ? 'maxStorageBufferBindingSize'
        : 'maxBufferSize';
    const as = elementBytes === 2 ? 'as bf16' : 'as float32';
    throw new UnsupportedModelError(
      `Tensor "${name}" [${rows}, ${width}] cannot be split to fit this device: one row is ` +
        `${size(rowBytes)} ${as}, over its ${limit} of ${size(cap)}. Pick a model with a ` +
        `narrower hidden size, a device with higher limits, or the wasm backend (no such limit).`,
    );
  }
  return Math.min(rows, Math.floor(cap / rowBytes));
}

/** [start, count] of each part of `rows` rows, `perPart` at a time. */
export function partRanges(rows: number, perPart: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < rows; s += perPart) out.push([s, Math.min(perPart, rows - s)]);
  return out;
}

/**
 * The table `name` from a weights map: the whole tensor when present, else its parts
 * `<name>@0`, `<name>@1`, … Throws `UnsupportedModelError` when neither is there.
 */
export function vocabTable(weights: ReadonlyMap<string, tf.Tensor>, name: string): VocabTable {
  const whole = weights.get(name) as tf.Tensor2D | undefined;
  const parts: tf.Tensor2D[] = whole ? [whole] : [];
  if (!whole)
    for (let t = weights.get(partName(name, 0)); t; t = weights.get(partName(name, parts.length)))
      parts.push(t as tf.Tensor2D);
  if (parts.length === 0)
    throw new UnsupportedModelError(`weight ${name} is missing (neither whole nor in parts).`);
  const starts: number[] = [];
  let rows = 0;
  for (const p of parts) {
    starts.push(rows);
    rows += p.shape[0];
  }
  const packed = isPacked(parts[0] as tf.Tensor2D);
  if (parts.some((p) => isPacked(p) !== packed))
    throw new UnsupportedModelError(`weight ${name} mixes float32 and bf16-packed parts.`);
  const width = (parts[0] as tf.Tensor2D).shape[1] * (packed ? 2 : 1);
  return { name, parts, starts, rows, width, packed };
}

/**
 * Splits a whole [V, C] tensor into row parts of at most `perPart` rows: new tensors, which the
 * caller owns (the input is left as is). For tests and benchmarks that build weights in memory.
 */
export function splitRows(t: tf.Tensor2D, perPart: number): tf.Tensor2D[] {
  return partRanges(t.shape[0], perPart).map(([s, n]) => tf.slice(t, [s, 0], [n, -1]));
}

/**
 * A weights map with the vocab tables of `config` split into parts of `perPart` rows: the other
 * tensors are the same objects, the parts are new (the caller disposes them; the whole tables
 * stay with whoever owns `weights`).
 */
export function withSplitVocab(
  config: ModelConfig,
  weights: ReadonlyMap<string, tf.Tensor>,
  perPart: number,
): Map<string, tf.Tensor> {
  const out = new Map(weights);
  for (const name of vocabTableNames(config)) {
    const whole = weights.get(name) as tf.Tensor2D | undefined;
    if (!whole || whole.shape[0] <= perPart) continue;
    out.delete(name);
    splitRows(whole, perPart).forEach((part, i) => out.set(partName(name, i), part));
  }
  return out;
}

/** Learned position rows to add to gathered rows (GPT-2's `wpe`): positions first.. of ids' last axis. */
export interface PositionTable {
  /** float32 [positions, C] */
  readonly table: tf.Tensor2D;
  readonly first: number;
}

/**
 * Rows `ids` (int32, any shape S) of the table: [...S, C], plus `positions.table` rows
 * first + j for ids' last index j when given. With our WebGPU kernels and frozen tables, one
 * dispatch per part (kernels/gather-rows.ts), the position add in it. Returns a new tensor.
 */
export function gatherRows(
  table: VocabTable,
  ids: tf.Tensor,
  positions: PositionTable | null = null,
): tf.Tensor {
  const frozen = [...table.parts, positions?.table].every((t) => !(t instanceof tf.Variable));
  if (gpuKernelsActive() && frozen && gathersRows(table.width, table.packed)) {
    const seq = ids.shape[ids.rank - 1] ?? 1;
    const pos = positions ? { table: positions.table, first: positions.first, seq } : null;
    return gatherRowsGpu(ids, table.parts, table.starts, table.width, table.packed, pos);
  }
  if (!positions) return stockRows(table, ids);
  return tf.tidy(() => {
    const seq = ids.shape[ids.rank - 1] ?? 1;
    const at = tf.range(positions.first, positions.first + seq, 1, 'int32');
    return tf.add(stockRows(table, ids), tf.gather(positions.table, at));
  });
}

/** The stock ops' rows (tables trained or frozen): packed-vocab.ts `tableRows` without our kernel. */
function stockRows(table: VocabTable, ids: tf.Tensor): tf.Tensor {
  return tableRows(table.parts, table.starts, ids, table.width, false);
}

/** A LoRA on the unembedding: logits += scale·(h·Aᵀ)·Bᵀ. */
export interface UnembedLoraFactors {
  /** [R, C] */
  readonly a: tf.Tensor2D;
  /** [V, R] */
  readonly b: tf.Tensor2D;
  readonly scale: number;
}

/**
 * h [N, C] times the table transposed, part by part, plus a LoRA's term when given: logits
 * [N, V]. With our kernels (a packed or a float32 table): scale·h·Aᵀ in one GEMM, then one GEMM
 * per part with the LoRA term folded in (2 dispatches for one part, instead of 5 on stock ops).
 * Not differentiable on that path (our GEMM has no gradient): for sampling and scoring. Returns a
 * new tensor.
 */
export function unembedRows(
  table: VocabTable,
  h: tf.Tensor2D,
  lora: UnembedLoraFactors | null = null,
): tf.Tensor2D {
  return tf.tidy(() => {
    if (gpuKernelsActive()) {
      const hA = lora ? gemm(h, lora.a, { transB: true, alpha: lora.scale }) : null; // [N, R]
      const perPart = table.parts.map((p, i) => {
        const b =
          lora && table.parts.length > 1
            ? tf.slice(lora.b, [table.starts[i] ?? 0, 0], [p.shape[0], -1])
            : lora?.b;
        return partLogits(h, p, hA && b ? { hA, b } : null); // [N, V_p]
      });
      return (perPart.length === 1 ? perPart[0] : tf.concat(perPart, 1)) as tf.Tensor2D; // [N, V]
    }
    const times = (p: tf.Tensor2D) =>
      table.packed ? partLogits(h, p) : (tf.matMul(h, p, false, true) as tf.Tensor2D); // [N, V_p]
    const [first] = table.parts;
    const base =
      table.parts.length === 1 && first ? times(first) : tf.concat(table.parts.map(times), 1);
    if (!lora) return base as tf.Tensor2D; // [N, V]
    const up = tf.matMul(tf.matMul(h, lora.a, false, true), lora.b, false, true); // [N, V]
    return tf.add(base, tf.mul(up, lora.scale)) as tf.Tensor2D;
  });
}
