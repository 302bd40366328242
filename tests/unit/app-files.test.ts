// The lab's files: PEFT adapter zips both ways, the "last run" record, and the model catalog
// (sizes from parameter counts recounted with the engine's own tensor list; the cache check).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  adapterZip,
  readAdapterUpload,
  zipEntryNames,
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
} from '../../src/app/peft-zip';
import { loadLastRun, saveLastRun, LAST_RUN_KEY, type LastRun } from '../../src/app/last-run';
import {
  HUB_MODELS,
  defaultModel,
  hubFileUrl,
  isModelCached,
  modelBytes,
  shippedModels,
  type CacheLookup,
} from '../../src/app/model-catalog';
import { BUILT_IN_SETS, mergeDemoSets, parseDemoManifest } from '../../src/app/demo-sets';
import { KNOWN_CONFIGS } from '../../src/model/known-configs';
import { parseModelConfig } from '../../src/model/config';
import { expectedTensors } from '../../src/model/weight-names';

const weights = new Uint8Array([1, 2, 3, 4]);
const config = strToU8('{"r": 4}');

describe('PEFT zip', () => {
  it('zips the two adapter files and a README, never the optimizer', () => {
    const zip = adapterZip(
      [
        { name: ADAPTER_WEIGHTS, bytes: weights },
        { name: ADAPTER_CONFIG, bytes: config },
        { name: 'optimizer.safetensors', bytes: new Uint8Array(8) },
      ],
      'loops-tiny-llama',
      12,
    );
    expect(zipEntryNames(zip).sort()).toEqual(['README.md', ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
    const back = readAdapterUpload([{ name: 'a.zip', bytes: zip }]);
    // A zip is recognised by its header too (browsers may hand over downloads without the name).
    expect(readAdapterUpload([{ name: 'download', bytes: zip }]).adapterConfig).toBe('{"r": 4}');
    expect([...back.adapterModel]).toEqual([1, 2, 3, 4]);
    expect(back.adapterConfig).toBe('{"r": 4}');
  });

  it('reads the files from a folder inside a zip, or picked directly, and names what is missing', () => {
    const nested = zipSync({
      'run/adapter_model.safetensors': weights,
      'run/adapter_config.json': config,
    });
    expect([...readAdapterUpload([{ name: 'x.zip', bytes: nested }]).adapterModel]).toEqual([
      1, 2, 3, 4,
    ]);
    const direct = readAdapterUpload([
      { name: ADAPTER_CONFIG, bytes: config },
      { name: ADAPTER_WEIGHTS, bytes: weights },
    ]);
    expect(direct.adapterConfig).toBe('{"r": 4}');
    expect(() => readAdapterUpload([{ name: ADAPTER_WEIGHTS, bytes: weights }])).toThrow(
      /no adapter_config.json in the upload \(found adapter_model.safetensors\)/,
    );
    expect(() => readAdapterUpload([{ name: 'bad.zip', bytes: new Uint8Array([1, 2]) }])).toThrow(
      /not a readable zip/,
    );
    expect(() => adapterZip([{ name: ADAPTER_CONFIG, bytes: config }], 'm', 1)).toThrow(
      /no adapter_model.safetensors/,
    );
  });
});

class MemoryStore {
  readonly map = new Map<string, string>();
  getItem = (k: string) => this.map.get(k) ?? null;
  setItem = (k: string, v: string) => void this.map.set(k, v);
  removeItem = (k: string) => void this.map.delete(k);
}

describe('last run record', () => {
  const run: LastRun = {
    runId: 'run-1',
    baseModel: 'loops-tiny-llama',
    statePath: 'idb://loops:run-1/weights/step-4',
    step: 4,
    savedAt: '2026-11-26T21:00:00.000Z',
    rank: 8,
    dataset: { source: 'demo', id: 'whaling-chat' },
    history: [
      { step: 0, train: null, heldout: 3.5 },
      { step: 1, train: 3.4, heldout: null },
    ],
  };

  it('round-trips and ignores what it did not write', () => {
    const store = new MemoryStore();
    expect(loadLastRun(store)).toBe(null);
    saveLastRun(store, run);
    expect(loadLastRun(store)).toEqual(run);
    store.setItem(LAST_RUN_KEY, '{"runId": 3}');
    expect(loadLastRun(store)).toBe(null);
    store.setItem(LAST_RUN_KEY, 'not json');
    expect(loadLastRun(store)).toBe(null);
  });

  it('drops pasted data too large to keep, but keeps the run', () => {
    const store = new MemoryStore();
    saveLastRun(store, {
      ...run,
      dataset: { source: 'text', name: 'big', text: 'x'.repeat(600_000) },
    });
    expect(loadLastRun(store)?.dataset).toBe(null);
    expect(loadLastRun(store)?.step).toBe(4);
  });
});

describe('model catalog', () => {
  it('lists parameter counts that match the engine tensor list of each config', () => {
    for (const model of HUB_MODELS) {
      const cfg = parseModelConfig(KNOWN_CONFIGS[model.id as keyof typeof KNOWN_CONFIGS]);
      const count = expectedTensors(cfg).reduce(
        (n, t) => n + t.shape.reduce((a, b) => a * b, 1),
        0,
      );
      expect(model.params, model.id).toBe(count);
      expect(modelBytes(model)).toBe(count * 4);
    }
  });

  it('reads shipped models from models.json and picks the default', () => {
    const shipped = shippedModels({
      models: [
        { name: 'loops-tiny-llama', max_context_length: 256, description: 'Tiny' },
        { bad: 1 },
      ],
    });
    expect(shipped).toEqual([
      {
        id: 'loops-tiny-llama',
        label: 'loops-tiny-llama',
        source: 'shipped',
        params: null,
        description: 'Tiny',
      },
    ]);
    const all = [...HUB_MODELS, ...shipped];
    expect(defaultModel(all, null)).toBe('loops-tiny-llama');
    expect(defaultModel(all, 'Qwen/Qwen3-0.6B')).toBe('Qwen/Qwen3-0.6B');
    expect(defaultModel(all, 'nope/nope')).toBe('loops-tiny-llama');
    expect(defaultModel(HUB_MODELS, null)).toBe(HUB_MODELS[0]!.id);
  });

  it('calls a model cached only when its weights are, shards included', async () => {
    const hub = 'https://hf.example';
    const stored = new Map<string, Response>();
    const caches: CacheLookup = {
      open: async () => ({ match: async (url: string) => stored.get(url)?.clone() }),
    };
    const put = (repo: string, file: string, body = '') =>
      stored.set(hubFileUrl(hub, repo, file), new Response(body));
    put('a/one', 'config.json');
    put('a/one', 'tokenizer.json');
    expect(await isModelCached(caches, hub, 'a/one')).toBe(false);
    put('a/one', 'model.safetensors');
    expect(await isModelCached(caches, hub, 'a/one')).toBe(true);
    put('a/two', 'config.json');
    put('a/two', 'tokenizer.json');
    put(
      'a/two',
      'model.safetensors.index.json',
      JSON.stringify({ weight_map: { x: 's1', y: 's2' } }),
    );
    put('a/two', 's1');
    expect(await isModelCached(caches, hub, 'a/two')).toBe(false);
    put('a/two', 's2');
    expect(await isModelCached(caches, hub, 'a/two')).toBe(true);
  });
});

describe('demo sets', () => {
  it('lists the built-in set, and lets datasets.json add or replace entries', () => {
    const extra = parseDemoManifest({
      datasets: [
        { id: 'whaling-chat', title: 'Renamed', train: 'whaling-chat.train.jsonl' },
        {
          id: 'poems',
          title: 'Poems',
          description: 'Short',
          train: 'poems.jsonl',
          heldout: 'poems.heldout.jsonl',
        },
        { id: 'bad', train: '../escape.jsonl' },
        { title: 'no id', train: 'x.jsonl' },
      ],
    });
    expect(extra.map((d) => d.id)).toEqual(['whaling-chat', 'poems']);
    const merged = mergeDemoSets(BUILT_IN_SETS, extra);
    expect(merged.map((d) => `${d.id}:${d.title}:${d.heldout}`)).toEqual([
      'whaling-chat:Renamed:null',
      'poems:Poems:poems.heldout.jsonl',
    ]);
    expect(parseDemoManifest({ nope: 1 })).toEqual([]);
  });

  it('points at files that exist in public/datasets', () => {
    for (const set of BUILT_IN_SETS) {
      for (const file of [set.train, set.heldout].filter((f): f is string => f !== null)) {
        expect(existsSync(join(import.meta.dirname, '../../public/datasets', file)), file).toBe(
          true,
        );
      }
    }
  });
});
