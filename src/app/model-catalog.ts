/**
 * The models the lab offers: those shipped with the app (listed in `models/models.json`, ready
 * without a download) and a few Hugging Face repos the engine supports, with their size known
 * before anything is fetched. Sizes are parameter counts × 4 bytes: the engine holds weights as
 * float32, so this is the memory a model takes (the download is half of it for bf16 files).
 * Whether a hub model is already in the browser's model cache is asked of Cache Storage under the
 * engine's own keys (`<hub>/<repo>/resolve/main/<file>` in `loops-web-models`).
 */

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
