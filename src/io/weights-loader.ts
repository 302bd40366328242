/**
 * Loads a checkpoint's base weights into float32 TF.js tensors (projection weights and vocab
 * tables optionally as packed bf16 pairs, `packProjections`), tensor by tensor, checking every
 * name and shape against what the config implies (`expectedTensors`, weights-plan.ts). Parsing the
 * file format is `safetensors.ts`; where files come from (hub, cache, user-picked) is the caller's
 * `readFile`.
 *
 * Order of work, so that a bad checkpoint fails before anything is uploaded where it can:
 * 1. Device limits are checked for every tensor the config implies, before any file is read
 *    (every loaded tensor must have its expected shape, so those sizes are the loaded sizes).
 *    The vocab tables (embedding, lm_head) are instead planned in row parts that fit
 *    (model/weight-parts.ts) and created part by part, named `<name>@<i>`; a table whose one row
 *    does not fit is refused. Without limits (cpu, wasm), or when a table fits, it stays whole.
 *    A packed table (2 bytes an element) gets parts of twice the rows.
 * 2. The tensor names (the header of `model.safetensors`, or the `weight_map` of
 *    `model.safetensors.index.json`) are matched with the expected names: missing ones fail, and
 *    so do tensors the model would not use (computing without them would silently give other
 *    logits than the checkpoint's), except what transformers itself never reads from a file:
 *    buffers it rebuilds (GPT-2's causal masks `attn.bias` / `attn.masked_bias`, older Llama
 *    files' `rotary_emb.inv_freq`) and a tied model's `lm_head.weight` (the embedding is used).
 * 3. Per file: every needed tensor's shape and dtype is checked from the header, then one tensor
 *    at a time is widened to float32 and handed to `tf.tensor`. Shards are read one by one.
 * On any failure, every tensor already created is disposed before the error propagates.
 *
 * Peak memory, honestly: `readFile` returns a whole file, so while one file is being loaded the
 * JS heap holds that file (S bytes) plus the float32 copies made so far. On the cpu backend those
 * copies are the tensors' storage; the webgpu backend keeps each copy until its first upload; wasm
 * copies it into its heap. So the peak is about S + the float32 model size (for an F16/BF16 file,
 * about 3 S), and for a sharded checkpoint the largest shard + the model. The loader keeps no
 * reference to a file after moving on, so the file is collectable once its tensors exist. Reading
 * one tensor at a time from a `Blob` (header first, via `parseSafetensorsHeader(..., fileSize)`)
 * would lower this to one tensor + the model; `readFile` would need a range form for that.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidFileError, UnsupportedModelError } from '../errors/loops-errors';
import type { ModelConfig } from '../model/config';
import { layerProjections } from '../model/weight-names';
import { partName, partRanges, rowsPerPart, vocabTableNames } from '../model/weight-parts';
import type { FloatDtype } from './dtype';
import type { SafetensorsEntry, SafetensorsHeader } from './safetensors';
import { parseSafetensorsHeader, parseShardIndex, readTensorAsFloat32 } from './safetensors';
import { float32ToBf16Bits, packBf16Pairs } from './dtype';
import { checkFile, checkLimits, INDEX_FILE, planLoad, type BufferLimits } from './weights-plan';

export { INDEX_FILE, type BufferLimits } from './weights-plan';

export const SINGLE_FILE = 'model.safetensors';

export interface LoadProgress {
  /** Float32 bytes of the tensors created so far. */
  readonly loaded: number;
  /** Float32 bytes of every tensor that will be created. */
  readonly total: number;
  /** Canonical name of the tensor just created. */
  readonly tensor: string;
}

export interface LoadWeightsOptions {
  readonly config: ModelConfig;
  /** The bytes of a file of the checkpoint, by name (`model.safetensors`, shard names, the index). */
  readonly readFile: (name: string) => Promise<Uint8Array>;
  readonly hasFile: (name: string) => Promise<boolean>;
  /** Device limits to respect (webgpu); null or absent when the backend has none. */
  readonly limits?: BufferLimits | null;
  readonly onProgress?: (progress: LoadProgress) => void;
  /**
   * Keep the frozen weights our WebGPU kernels read packed as bf16 pairs (`packBf16Pairs`), half
   * the bytes: the projection weights (attention and MLP) as int32 tensors of ⌈size / 2⌉ words
   * along the flattened stored layout (src/lora/linear.ts), and the vocab tables (embedding,
   * untied lm_head; when the hidden size is even) as int32 [rows, C / 2] per part
   * (model/packed-vocab.ts); norms, biases and GPT-2's positions stay float32.
   * 'bf16': those stored as BF16 (exact); 'all': F32 and F16 ones too, rounded to nearest even.
   * Absent or false: float32 everywhere. Only for webgpu with our kernels active, and only for
   * LoRA training: packed tables are frozen (full-parameter training needs them float32).
   */
  readonly packProjections?: false | 'bf16' | 'all';
}

/**
 * Loads the checkpoint's weights. Returns new tensors keyed by canonical name (float32, or packed
 * bf16 pairs with `packProjections`); the caller owns and disposes them.
 */
export async function loadWeights(options: LoadWeightsOptions): Promise<Map<string, tf.Tensor>> {
  const { config, readFile, hasFile } = options;
  const limits = options.limits ?? null;
  if (limits) checkLimits(config, limits, !!options.packProjections);
  const listed = await listFiles(readFile, hasFile);
  const source = listed === 'single' ? SINGLE_FILE : INDEX_FILE;
  let first: { bytes: Uint8Array; header: SafetensorsHeader } | undefined;
  let shards: Map<string, string[]>;
  if (listed === 'single') {
    // The names are in the file's own header: read it once and keep it for the load below.
    const bytes = await readFile(SINGLE_FILE);
    first = { bytes, header: parseSafetensorsHeader(bytes, SINGLE_FILE) };
    shards = new Map([[SINGLE_FILE, first.header.tensors.map((t) => t.name)]]);
  } else {
    shards = listed;
  }
  const plan = planLoad(config, [...shards.values()].flat(), source);
  const packable = options.packProjections ? packableNames(config) : new Set<string>();
  const tables = new Set(vocabTableNames(config));
  const packs = (name: string, dtype: FloatDtype) =>
    packable.has(name) && (dtype === 'BF16' || options.packProjections === 'all');
  const out = new Map<string, tf.Tensor>();
  try {
    let loaded = 0;
    for (const [file, names] of shards) {
      const bytes = first?.bytes ?? (await readFile(file));
      const header = first?.header ?? parseSafetensorsHeader(bytes, file);
      first = undefined; // drop the reference so a finished file can be collected
      for (const { entry, canonical, shape } of checkFile(header, file, names, plan)) {
        const pack = packs(canonical, entry.dtype as FloatDtype);
        if (tables.has(canonical)) {
          loaded += loadTable(bytes, entry, file, canonical, pack, limits, out);
          options.onProgress?.({ loaded, total: plan.totalBytes, tensor: canonical });
          continue;
        }
        const values = readTensorAsFloat32(bytes, entry, file);
        out.set(
          canonical,
          pack
            ? tf.tensor1d(packBf16Pairs(float32ToBf16Bits(values)), 'int32') // exact for BF16
            : tf.tensor(values, [...shape], 'float32'),
        );
        loaded += values.byteLength;
        options.onProgress?.({ loaded, total: plan.totalBytes, tensor: canonical });
      }
    }
    return out;
  } catch (error) {
    for (const t of out.values()) t.dispose();
    throw error;
  }
}

/**
 * Canonical names of what packing may apply to: every attention and MLP projection weight, and
 * the vocab tables when a row is whole words (even hidden size).
 */
function packableNames(config: ModelConfig): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < config.numLayers; i++) {
    for (const spec of layerProjections(config, i)) names.add(`${spec.path}.weight`);
  }
  if (config.hiddenSize % 2 === 0) for (const name of vocabTableNames(config)) names.add(name);
  return names;
}

/** Which files to read: `model.safetensors` alone, or the shards the index names (in order). */
async function listFiles(
  readFile: LoadWeightsOptions['readFile'],
  hasFile: LoadWeightsOptions['hasFile'],
): Promise<'single' | Map<string, string[]>> {
  if (await hasFile(SINGLE_FILE)) return 'single';
  if (!(await hasFile(INDEX_FILE))) {
    throw new UnsupportedModelError(
      `The checkpoint has neither ${SINGLE_FILE} nor ${INDEX_FILE}; only safetensors weights ` +
        `load here (convert pytorch_model.bin with safetensors.torch.save_file).`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(INDEX_FILE));
  } catch {
    throw new InvalidFileError(`${INDEX_FILE} is not valid UTF-8; re-download it.`);
  }
  return parseShardIndex(text, INDEX_FILE);
}

/**
 * Creates a vocab table [V, C] from its bytes in the file: whole when it fits the device's limits
 * (or there are none), else as row parts `<name>@<i>` of `rowsPerPart` rows, one part at a time
 * (each widened to float32 from its own rows), so no tensor over the limits ever exists. Packed:
 * int32 [rows, C / 2] bf16 pairs, at 2 bytes an element. Returns the float32 bytes read.
 */
function loadTable(
  bytes: Uint8Array,
  entry: SafetensorsEntry,
  file: string,
  name: string,
  pack: boolean,
  limits: BufferLimits | null,
  out: Map<string, tf.Tensor>,
): number {
  const [rows = 0, width = 0] = entry.shape;
  const perPart = rowsPerPart(name, rows, width, limits, pack ? 2 : 4);
  const rowBytes = (entry.end - entry.begin) / rows; // the file's bytes per row, any float dtype
  let created = 0;
  partRanges(rows, perPart).forEach(([start, count], i) => {
    const part: SafetensorsEntry = {
      ...entry,
      shape: [count, width],
      begin: entry.begin + start * rowBytes,
      end: entry.begin + (start + count) * rowBytes,
    };
    const values = readTensorAsFloat32(bytes, part, file);
    const tensor = pack
      ? tf.tensor2d(packBf16Pairs(float32ToBf16Bits(values)), [count, width / 2], 'int32')
      : tf.tensor(values, [count, width], 'float32');
    out.set(perPart < rows ? partName(name, i) : name, tensor);
    created += values.byteLength;
  });
  return created;
}
