/**
 * Loads a checkpoint's base weights into float32 TF.js tensors (projection weights optionally as
 * packed bf16 pairs, `packProjections`), tensor by tensor, checking every
 * name and shape against what the config implies (`expectedTensors`). Parsing the file format is
 * `safetensors.ts`; where files come from (hub, cache, user-picked) is the caller's `readFile`.
 *
 * Order of work, so that a bad checkpoint fails before anything is uploaded where it can:
 * 1. Device limits are checked for every tensor the config implies, before any file is read
 *    (every loaded tensor must have its expected shape, so those sizes are the loaded sizes).
 *    The vocab tables (embedding, lm_head) are instead planned in row parts that fit
 *    (model/weight-parts.ts) and created part by part, named `<name>@<i>`; a table whose one row
 *    does not fit is refused. Without limits (cpu, wasm), or when a table fits, it stays whole.
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
import { canonicalTensorName, expectedTensors, layerProjections } from '../model/weight-names';
import { partName, partRanges, rowsPerPart, vocabTableNames } from '../model/weight-parts';
import type { SafetensorsEntry, SafetensorsHeader } from './safetensors';
import {
  elementCount,
  parseSafetensorsHeader,
  parseShardIndex,
  readTensorAsFloat32,
} from './safetensors';
import { float32ToBf16Bits, isFloatDtype, packBf16Pairs } from './dtype';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** The WebGPU device limits that bound one tensor's buffer (`GPUSupportedLimits` names). */
export interface BufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

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
   * Keep the projection weights (attention and MLP, not embeddings, norms or lm_head) as bf16
   * pairs: int32 tensors of ⌈size / 2⌉ words along the flattened stored layout
   * (`packBf16Pairs`), half the bytes, read by the WebGPU GEMM kernels (src/lora/linear.ts).
   * 'bf16': those stored as BF16 (exact); 'all': F32 and F16 ones too, rounded to nearest even.
   * Absent or false: float32 everywhere. Only for webgpu with our kernels active.
   */
  readonly packProjections?: false | 'bf16' | 'all';
}

/** What to load: file tensor name → canonical name and shape, and which file holds it. */
interface LoadPlan {
  readonly wanted: Map<string, { canonical: string; shape: readonly number[] }>;
  readonly totalBytes: number;
}

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(2)} MiB`;
const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Loads the checkpoint's weights. Returns new tensors keyed by canonical name (float32, or packed
 * bf16 pairs with `packProjections`); the caller owns and disposes them.
 */
export async function loadWeights(options: LoadWeightsOptions): Promise<Map<string, tf.Tensor>> {
  const { config, readFile, hasFile } = options;
  const splits = options.limits ? checkLimits(config, options.limits) : new Map<string, number>();
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
  const packable = options.packProjections ? projectionWeightNames(config) : new Set<string>();
  const out = new Map<string, tf.Tensor>();
  try {
    let loaded = 0;
    for (const [file, names] of shards) {
      const bytes = first?.bytes ?? (await readFile(file));
      const header = first?.header ?? parseSafetensorsHeader(bytes, file);
      first = undefined; // drop the reference so a finished file can be collected
      for (const { entry, canonical, shape } of checkFile(header, file, names, plan)) {
        const perPart = splits.get(canonical);
        if (perPart !== undefined) {
          loaded += loadTableParts(bytes, entry, file, canonical, perPart, out);
          options.onProgress?.({ loaded, total: plan.totalBytes, tensor: canonical });
          continue;
        }
        const values = readTensorAsFloat32(bytes, entry, file);
        const pack =
          packable.has(canonical) && (entry.dtype === 'BF16' || options.packProjections === 'all');
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

/** Canonical names of every attention and MLP projection weight (what packing may apply to). */
function projectionWeightNames(config: ModelConfig): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < config.numLayers; i++) {
    for (const spec of layerProjections(config, i)) names.add(`${spec.path}.weight`);
  }
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
 * Creates the row parts `<name>@<i>` of a vocab table [V, C] from its bytes in the file, one part
 * at a time (each widened to float32 from its own rows), so no tensor over the limits ever exists.
 * Returns the float32 bytes created.
 */
function loadTableParts(
  bytes: Uint8Array,
  entry: SafetensorsEntry,
  file: string,
  name: string,
  perPart: number,
  out: Map<string, tf.Tensor>,
): number {
  const [rows = 0, width = 0] = entry.shape;
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
    out.set(partName(name, i), tf.tensor(values, [count, width], 'float32'));
    created += values.byteLength;
  });
  return created;
}

/**
 * Every expected tensor must fit one GPU buffer and one storage binding, except the vocab tables,
 * which are split into row parts that do (weight-parts.ts): a table whose single row does not fit
 * is refused. Returns rows per part of each table that needs splitting.
 */
function checkLimits(config: ModelConfig, limits: BufferLimits): Map<string, number> {
  const splits = new Map<string, number>();
  const tables = new Set(vocabTableNames(config));
  for (const spec of expectedTensors(config)) {
    if (tables.has(spec.name)) {
      const [rows = 0, width = 0] = spec.shape;
      const perPart = rowsPerPart(spec.name, rows, width, limits);
      if (perPart < rows) splits.set(spec.name, perPart);
      continue;
    }
    const bytes = elementCount(spec.shape) * 4;
    for (const limit of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
      if (bytes > limits[limit]) {
        throw new UnsupportedModelError(
          `Tensor "${spec.name}" ${fmt(spec.shape)} needs ${mib(bytes)} as float32, over this ` +
            `device's ${limit} of ${mib(limits[limit])}. Pick a smaller model, a device with ` +
            `higher limits, or the wasm backend (no such limit).`,
        );
      }
    }
  }
  return splits;
}

/**
 * Tensors a file may hold that transformers never loads, by canonical name: buffers it rebuilds
 * (GPT2Attention's causal masks; the rotary inverse frequencies of older Llama-family files).
 */
function isBuffer(config: ModelConfig, name: string): boolean {
  return config.family === 'gpt2'
    ? /^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)
    : /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(name);
}

/** Matches the file names with the expected ones; throws on missing, unused or doubled tensors. */
function planLoad(config: ModelConfig, fileNames: readonly string[], source: string): LoadPlan {
  const expected = new Map(expectedTensors(config).map((s) => [s.name, s.shape]));
  const wanted: LoadPlan['wanted'] = new Map();
  const byCanonical = new Map<string, string>();
  const unused: string[] = [];
  for (const name of fileNames) {
    const canonical = canonicalTensorName(config, name);
    // A tied model's unembedding is its embedding: transformers ties lm_head after loading.
    const tiedHead = config.tieWordEmbeddings && canonical === 'lm_head.weight';
    if (tiedHead || isBuffer(config, canonical)) continue;
    const shape = expected.get(canonical);
    if (!shape) {
      unused.push(name);
      continue;
    }
    const twin = byCanonical.get(canonical);
    if (twin !== undefined) {
      throw new InvalidFileError(
        `${source}: tensors "${twin}" and "${name}" are both "${canonical}"; keep only one of them.`,
      );
    }
    byCanonical.set(canonical, name);
    wanted.set(name, { canonical, shape });
  }
  const missing = [...expected.keys()].filter((name) => !byCanonical.has(name));
  if (missing.length > 0) {
    throw new UnsupportedModelError(
      `${source} lacks ${missing.length} of the ${expected.size} tensors a ${config.family} ` +
        `model with this config needs: ${listed(missing)}. Check that config.json belongs to ` +
        `these weights.`,
    );
  }
  if (unused.length > 0) {
    throw new UnsupportedModelError(
      `${source} has ${unused.length} tensor(s) a ${config.family} model with this config does ` +
        `not use: ${listed(unused)}. Computing without them would give other outputs than the ` +
        `checkpoint's; check that config.json belongs to these weights (biases need its ` +
        `attention_bias or mlp_bias).`,
    );
  }
  let totalBytes = 0;
  for (const { shape } of wanted.values()) totalBytes += elementCount(shape) * 4;
  return { wanted, totalBytes };
}

/** Up to 10 names, then how many more. */
function listed(names: readonly string[]): string {
  const more = names.length > 10 ? `, and ${names.length - 10} more` : '';
  return names.slice(0, 10).join(', ') + more;
}

/** Checks each tensor one file must provide, before any of them is created. */
function checkFile(
  header: SafetensorsHeader,
  file: string,
  names: readonly string[],
  plan: LoadPlan,
): { entry: SafetensorsEntry; canonical: string; shape: readonly number[] }[] {
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const checked = [];
  for (const name of names) {
    const want = plan.wanted.get(name);
    if (!want) continue;
    const entry = byName.get(name);
    if (!entry) {
      throw new InvalidFileError(
        `${INDEX_FILE} puts tensor "${name}" in ${file}, but that file has no such tensor; ` +
          `re-download the checkpoint (the index and shards do not match).`,
      );
    }
    if (fmt(entry.shape) !== fmt(want.shape)) {
      throw new UnsupportedModelError(
        `${file}: tensor "${name}" has shape ${fmt(entry.shape)}, but the config implies ` +
          `${fmt(want.shape)}. Check that config.json belongs to these weights.`,
      );
    }
    if (!isFloatDtype(entry.dtype)) {
      throw new UnsupportedModelError(
        `${file}: tensor "${name}" has dtype ${entry.dtype}; weights must be F32, F16 or BF16. ` +
          `Convert the checkpoint to a float dtype.`,
      );
    }
    checked.push({ entry, ...want });
  }
  return checked;
}
