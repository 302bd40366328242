/**
 * What a checkpoint load will create, checked before anything is: the names in the file matched
 * with the names the config implies (`planLoad`), each file's entries checked for shape and dtype
 * (`checkFile`), and every tensor checked against the device's buffer limits (`checkLimits`). The
 * loading itself is weights-loader.ts.
 */
import { InvalidFileError, UnsupportedModelError } from '../errors/loops-errors';
import type { ModelConfig } from '../model/config';
import { canonicalTensorName, expectedTensors } from '../model/weight-names';
import { rowsPerPart, vocabTableNames } from '../model/weight-parts';
import { isFloatDtype } from './dtype';
import type { SafetensorsEntry, SafetensorsHeader } from './safetensors';
import { elementCount } from './safetensors';

export const INDEX_FILE = 'model.safetensors.index.json';

/** The WebGPU device limits that bound one tensor's buffer (`GPUSupportedLimits` names). */
export interface BufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** What to load: file tensor name → canonical name and shape, and which file holds it. */
export interface LoadPlan {
  readonly wanted: Map<string, { canonical: string; shape: readonly number[] }>;
  readonly totalBytes: number;
}

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(2)} MiB`;
const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Every expected tensor must fit one GPU buffer and one storage binding, except the vocab tables,
 * which are split into row parts that do (weight-parts.ts): a table whose single row does not fit
 * is refused, at 2 bytes per element where the load may pack it as bf16 (`mayPack`), else 4.
 */
export function checkLimits(config: ModelConfig, limits: BufferLimits, mayPack: boolean): void {
  const tables = new Set(vocabTableNames(config));
  for (const spec of expectedTensors(config)) {
    if (tables.has(spec.name)) {
      const [rows = 0, width = 0] = spec.shape;
      rowsPerPart(spec.name, rows, width, limits, mayPack && width % 2 === 0 ? 2 : 4);
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
export function planLoad(
  config: ModelConfig,
  fileNames: readonly string[],
  source: string,
): LoadPlan {
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
export function checkFile(
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
