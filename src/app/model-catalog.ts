/**
 * The models the lab offers: those shipped with the app (listed in `models/models.json`, ready
 * without a download) and a few Hugging Face repos the engine supports, with their size known
 * before anything is fetched. Sizes are parameter counts × 4 bytes: the engine holds weights as
 * float32, so this is the memory a model takes (the download is half of it for bf16 files).
 * Whether a hub model is already in the browser's model cache is asked of Cache Storage under the
 * engine's own keys (`<hub>/<repo>/resolve/main/<file>` in `loops-web-models`).
 *
 * For models whose config the engine knows (`KNOWN_CONFIGS`), `fitCheck` gives the GPU bytes a
 * LoRA run needs on this backend (engine/memory-plan.ts's plan: weights, adapter, optimizer, a
 * training step at batch × length) and why it will not fit the adapter's limits or the memory
 * budget: the list shows it, and the panel refuses such a model before downloading it.
 */
import { backendBudget } from '../engine/memory-budget';
import { modelMemoryPlan, planProblems, type ModelMemoryPlan } from '../engine/memory-plan';
import { parseModelConfig } from '../model/config';
import { KNOWN_CONFIGS, type KnownModelId } from '../model/known-configs';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../model/weight-names';
import type { BackendReport } from '../index';

export interface CatalogModel {
  /** The `base_model` name: a shipped folder name or a hub repo id. */
  readonly id: string;
  readonly label: string;
  readonly source: 'shipped' | 'hub';
  /** Parameter count, tied embeddings once; null when unknown. */
  readonly params: number | null;
  readonly description: string;
}

export const MODEL_CACHE = 'loops-web-models';

/**
 * Hub models with their parameter counts, counted from the tensor shapes of each repo's
 * config.json (tests/unit/app-model-catalog.test.ts recounts them with the engine's tensor list).
 */
export const HUB_MODELS: readonly CatalogModel[] = Object.freeze([
  hub('HuggingFaceTB/SmolLM2-135M', 'SmolLM2-135M', 134_515_008, 'Llama-style, 30 layers'),
  hub('openai-community/gpt2', 'GPT-2 (124M)', 124_439_808, 'The classic, 12 layers'),
  hub('Qwen/Qwen2.5-0.5B', 'Qwen2.5-0.5B', 494_032_768, 'Qwen2, 24 layers'),
  hub('Qwen/Qwen3-0.6B', 'Qwen3-0.6B', 596_049_920, 'Qwen3, 28 layers'),
]);

function hub(id: string, label: string, params: number, description: string): CatalogModel {
  return { id, label, source: 'hub', params, description };
}

/** Bytes of float32 weights. */
export function modelBytes(model: CatalogModel): number | null {
  return model.params === null ? null : model.params * 4;
}

/** Shipped models from a parsed `models.json` (`{ models: [{ name, description? }] }`). */
export function shippedModels(manifest: unknown): CatalogModel[] {
  const list = (manifest as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) return [];
  return list
    .filter((m): m is { name: string } => typeof (m as { name?: unknown })?.name === 'string')
    .map((m) => {
      const extra = m as { description?: unknown; parameters?: unknown; params?: unknown };
      const params = [extra.parameters, extra.params].find((v) => typeof v === 'number');
      return {
        id: m.name,
        label: m.name,
        source: 'shipped' as const,
        params: (params as number | undefined) ?? null,
        description:
          typeof extra.description === 'string' ? extra.description : 'Shipped with the app',
      };
    });
}

/** The model to select first: `wanted` when listed, else the first shipped model, else the first. */
export function defaultModel(
  models: readonly CatalogModel[],
  wanted: string | null,
): string | null {
  if (wanted && models.some((m) => m.id === wanted)) return wanted;
  return (models.find((m) => m.source === 'shipped') ?? models[0])?.id ?? null;
}

/** The URL the engine caches a hub file under. */
export function hubFileUrl(hubUrl: string, repo: string, file: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/${repo}/resolve/main/${file}`;
}

/** What this module needs of Cache Storage. */
export interface CacheLookup {
  open(name: string): Promise<{ match(url: string): Promise<Response | undefined> }>;
}

/**
 * Whether every weight file of `repo` is cached: config.json, and model.safetensors or the index
 * with each shard it names.
 */
export async function isModelCached(
  caches: CacheLookup,
  hubUrl: string,
  repo: string,
): Promise<boolean> {
  const cache = await caches.open(MODEL_CACHE);
  const has = async (file: string) =>
    (await cache.match(hubFileUrl(hubUrl, repo, file))) !== undefined;
  if (!(await has('config.json')) || !(await has('tokenizer.json'))) return false;
  if (await has('model.safetensors')) return true;
  const index = await cache.match(hubFileUrl(hubUrl, repo, 'model.safetensors.index.json'));
  if (!index) return false;
  try {
    const map = ((await index.json()) as { weight_map?: Record<string, string> }).weight_map ?? {};
    const shards = [...new Set(Object.values(map))];
    if (shards.length === 0) return false;
    for (const shard of shards) if (!(await has(shard))) return false;
    return true;
  } catch {
    return false;
  }
}

/** The run a fit check assumes. */
export interface FitOptions {
  readonly rank: number;
  /** Sequences per step and tokens per sequence. */
  readonly batch: number;
  readonly seq: number;
  /** Host memory in bytes where known (else the browser's `navigator.deviceMemory`). */
  readonly hostBytes?: number | null;
}

export interface FitCheck {
  readonly plan: ModelMemoryPlan;
  /** Why it will not fit, in words with the figures and the fix; empty when it fits. */
  readonly problems: readonly string[];
}

/**
 * The memory plan of `model` on the backend in `report` and its problems, or null when its config
 * is not known before download (shipped and custom models). A LoRA on every attention, MLP and
 * unembedding projection (the lab's run); projections packed as bf16 on webgpu for BF16 files.
 */
export function fitCheck(
  model: CatalogModel,
  report: BackendReport,
  options: FitOptions,
): FitCheck | null {
  const raw = (KNOWN_CONFIGS as Readonly<Record<string, KnownConfig>>)[model.id];
  if (!raw) return null;
  const config = parseModelConfig(raw);
  const webgpu = report.backend === 'webgpu';
  const plan = modelMemoryPlan(config, {
    rank: options.rank,
    targets: [
      ...ATTENTION_PROJECTIONS[config.family],
      ...MLP_PROJECTIONS[config.family],
      'lm_head',
    ],
    batch: options.batch,
    seq: options.seq,
    packedProjections: webgpu && raw.torch_dtype === 'bfloat16',
    wasm: report.backend === 'wasm',
  });
  const limits = webgpu ? (report.gpuLimits ?? adapterLimits(report)) : null;
  const budget = backendBudget(report, options.hostBytes);
  return { plan, problems: planProblems(config, plan, budget, limits) };
}

/** The message for a model that will not fit, shown instead of downloading it. */
export function refusalBeforeDownload(id: string, fit: FitCheck): string {
  return `${id} will not fit on this device, so it was not downloaded: ${fit.problems.join(' ')}`;
}

type KnownConfig = (typeof KNOWN_CONFIGS)[KnownModelId] & { torch_dtype?: unknown };

function adapterLimits(report: BackendReport) {
  const l = report.adapter?.limits;
  if (!l?.maxBufferSize || !l.maxStorageBufferBindingSize) return null;
  return {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
  };
}
