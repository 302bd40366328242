/**
 * Base models held by the engine, loaded once and shared by every run and sampler that uses them
 * (reference counted). A name in the shipped manifest (`public/models/models.json`) loads from the
 * app's own folder; any other name is a Hugging Face repo id fetched from the hub URL.
 */
import type * as tf from '@tensorflow/tfjs';
import { TextTokenizer } from '../core/tokenizer';
import { UnsupportedModelError } from '../errors/loops-errors';
import { parseModelConfig, type ModelConfig } from '../model/config';
import {
  parseJsonFile,
  resolveModel,
  type ModelFiles,
  type ShippedSource,
} from '../io/model-source';
import type { FileCache } from '../io/file-cache';
import { GENERATION_CONFIG, withGenerationConfig } from '../io/generation-config';
import { loadWeights } from '../io/weights-loader';
import { disposeRopeTables } from '../model/rope';
import { gpuBufferLimits } from '../runtime/backend';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { warmUp } from './warm-up';
import type { LoadProgress, TokenizerFiles } from '../protocol/wire-types';

export interface ShippedModel {
  readonly name: string;
  readonly max_context_length: number;
  readonly description?: string;
}

export const SHIPPED_MANIFEST = 'models.json';

/** The shipped models listed in `models.json` (`{ models: [{ name, max_context_length }] }`); bad entries are skipped. */
export function parseManifest(json: unknown): ShippedModel[] {
  const list = (json as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (m): m is ShippedModel =>
      !!m &&
      typeof m === 'object' &&
      typeof (m as ShippedModel).name === 'string' &&
      typeof (m as ShippedModel).max_context_length === 'number',
  );
}

export interface LoadedModel {
  readonly name: string;
  readonly config: ModelConfig;
  readonly weights: Map<string, tf.Tensor>;
  readonly tokenizer: TokenizerFiles;
  /** The tokenizer built from `tokenizer` (checked at load, so a malformed file fails early). */
  readonly textTokenizer?: TextTokenizer;
}

export interface ModelRegistryOptions {
  /** Where shipped models live (a base URL in browsers, a folder transport in Node). */
  readonly shipped: ShippedSource;
  /** Reads the shipped manifest; [] when there is none. */
  readonly readManifest: () => Promise<ShippedModel[]>;
  readonly cache?: FileCache;
  /**
   * On webgpu with our kernels active, frozen projection weights from BF16 checkpoints are kept
   * as packed bf16 pairs (exact, half the GPU bytes); this packs F32/F16 checkpoints' too,
   * rounded to nearest even. Default false.
   */
  readonly packFloat32Weights?: boolean;
}

export class ModelRegistry {
  private readonly loaded = new Map<string, { model: Promise<LoadedModel>; users: number }>();
  private manifest: Promise<ShippedModel[]> | null = null;
  /** Compile up front at load on webgpu (warm-up.ts); the engine's `init` may turn it off. */
  warmUpOnLoad = true;

  constructor(private readonly options: ModelRegistryOptions) {}

  shippedModels(): Promise<ShippedModel[]> {
    this.manifest ??= this.options.readManifest().catch(() => []);
    return this.manifest;
  }

  /** Loads `name` (or reuses it) and counts one more user; pair with `release`. */
  async acquire(
    name: string,
    hubUrl: string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<LoadedModel> {
    let entry = this.loaded.get(name);
    if (!entry) {
      entry = { model: this.load(name, hubUrl, onProgress), users: 0 };
      this.loaded.set(name, entry);
      entry.model.catch(() => this.loaded.delete(name));
    }
    entry.users++;
    try {
      return await entry.model;
    } catch (error) {
      entry.users--;
      throw error;
    }
  }

  /** One user fewer; the weights are freed when nobody uses the model. */
  async release(name: string): Promise<void> {
    const entry = this.loaded.get(name);
    if (!entry) return;
    entry.users--;
    if (entry.users > 0) return;
    this.loaded.delete(name);
    const model = await entry.model;
    for (const t of model.weights.values()) t.dispose();
    this.freeSharedCaches();
  }

  async disposeAll(): Promise<void> {
    const entries = [...this.loaded.values()];
    this.loaded.clear();
    for (const entry of entries) {
      const model = await entry.model.catch(() => null);
      if (model) for (const t of model.weights.values()) t.dispose();
    }
    this.freeSharedCaches();
  }

  /**
   * Device tables our webgpu kernels share between models (RoPE cos/sin) live while any model is
   * loaded; the last unload frees them, so a closed engine holds no tensor.
   */
  private freeSharedCaches(): void {
    if (this.loaded.size === 0) disposeRopeTables();
  }

  private async load(
    name: string,
    hubUrl: string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<LoadedModel> {
    const shipped = (await this.shippedModels()).map((m) => m.name);
    const files = resolveModel(name, {
      shipped,
      ...this.options.shipped,
      hubUrl,
      cache: this.options.cache,
    });
    const model = await loadModelFiles(files, onProgress, {
      packFloat32Weights: this.options.packFloat32Weights ?? false,
    });
    // webgpu: compile the step's and the sampler's pipelines now, while nothing else can
    // dispatch (the only model held, so no other run or sampler exists): warm-up.ts.
    if (this.warmUpOnLoad && this.loaded.size === 1) await warmUp(model);
    return model;
  }
}

/**
 * Reads config (with `generation_config.json`'s EOS ids when the model has one), tokenizer and
 * weights from any model source. Each file is requested once: an optional or probed file is read
 * straight away (absent = a 404), never asked about with a HEAD first and then fetched again.
 */
export async function loadModelFiles(
  files: ModelFiles,
  onProgress?: (p: LoadProgress) => void,
  options: { readonly packFloat32Weights?: boolean } = {},
): Promise<LoadedModel> {
  let config = parseModelConfig(await files.json('config.json'), `${files.id}/config.json`);
  const generation = await files.read(GENERATION_CONFIG);
  if (generation) {
    const source = `${files.id}/${GENERATION_CONFIG}`;
    config = withGenerationConfig(config, parseJsonFile(generation, source), source);
  }
  const tokenizerJson = await files.read('tokenizer.json');
  if (!tokenizerJson) {
    throw new UnsupportedModelError(
      `${files.id} has no tokenizer.json; the engine needs one to encode text.`,
    );
  }
  const tokenizerConfig = await files.read('tokenizer_config.json');
  const tokenizer: TokenizerFiles = {
    tokenizerJson: parseJsonFile(tokenizerJson, `${files.id}/tokenizer.json`),
    tokenizerConfig: tokenizerConfig
      ? parseJsonFile(tokenizerConfig, `${files.id}/tokenizer_config.json`)
      : {},
  };
  // Built (and so checked) before any weight is read: a malformed tokenizer.json is an
  // InvalidFileError from create_*_client, not a surprise at the first sample.
  const textTokenizer = TextTokenizer.fromJson(tokenizer.tokenizerJson, tokenizer.tokenizerConfig);
  const download = (p: { file: string; loaded: number; total: number | null }) =>
    onProgress?.({ phase: 'download', file: p.file, loaded: p.loaded, total: p.total });
  // The weight loader asks whether a file exists before reading it: answer by reading it, and
  // hand those bytes to the read that follows.
  const fetched = new Map<string, Promise<Uint8Array | undefined>>();
  const fetchOnce = (file: string) => {
    let bytes = fetched.get(file);
    if (!bytes) fetched.set(file, (bytes = files.read(file, download)));
    return bytes;
  };
  const weights = await loadWeights({
    config,
    readFile: async (file) => {
      const bytes = await fetchOnce(file);
      fetched.delete(file);
      return bytes ?? files.bytes(file, download); // absent: bytes() throws the typed error
    },
    hasFile: async (file) => (await fetchOnce(file)) !== undefined,
    limits: gpuBufferLimits(),
    packProjections: packingFor(options.packFloat32Weights ?? false),
    onProgress: (p) =>
      onProgress?.({ phase: 'weights', file: p.tensor, loaded: p.loaded, total: p.total }),
  });
  onProgress?.({ phase: 'ready', loaded: 1, total: 1 });
  return { name: files.id, config, weights, tokenizer, textTokenizer };
}

/**
 * Which projection weights load packed as bf16 pairs: only where our WebGPU kernels read them
 * (webgpu, kernels on); BF16 checkpoints always there (exact), F32/F16 ones on request.
 */
function packingFor(packFloat32Weights: boolean): false | 'bf16' | 'all' {
  if (!gpuKernelsActive()) return false;
  return packFloat32Weights ? 'all' : 'bf16';
}
