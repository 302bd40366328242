// The model-file resolver: hub downloads over real HTTP (a local server in the hub layout) with
// progress and a cache that makes the second load network-free; typed errors for 404 / 500 /
// unreachable; user-picked files; shipped folders read from disk and over HTTP.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidFileError,
  UnsupportedModelError,
  ValidationError,
} from '../../src/errors/loops-errors';
import { CacheStorageFileCache, MemoryFileCache, defaultFileCache } from '../../src/io/file-cache';
import { NetworkError, hubRepoUrl } from '../../src/io/hub-source';
import {
  hubModelFiles,
  resolveModel,
  shippedModelFiles,
  userModelFiles,
} from '../../src/io/model-source';
import type { DownloadProgress } from '../../src/io/model-source';
import { nodeFolder } from '../../src/io/node-files';
import { startStaticServer } from '../helpers/static-server';
import type { StaticServer } from '../helpers/static-server';

const encoder = new TextEncoder();
const CONFIG = { model_type: 'llama', hidden_size: 8 };
const CONFIG_BYTES = encoder.encode(JSON.stringify(CONFIG));
/** 100 000 bytes following a fixed pattern (i·31 + 7 mod 256), so any corruption shows. */
const WEIGHTS = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31 + 7) & 255);
const HUB = '/acme/tiny/resolve/main';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('hub source', () => {
  let server: StaticServer;
  const cache = new MemoryFileCache();
  beforeAll(async () => {
    server = await startStaticServer(
      new Map([
        [`${HUB}/config.json`, CONFIG_BYTES],
        [`${HUB}/model.safetensors`, WEIGHTS],
      ]),
    );
  });
  afterAll(() => server.close());

  it('downloads with monotonic progress, then serves a second load from the cache only', async () => {
    const files = hubModelFiles('acme/tiny', { hubUrl: server.url, cache });
    expect(files.kind).toBe('hub');
    expect(files.id).toBe('acme/tiny');
    const events: DownloadProgress[] = [];
    const bytes = await files.bytes('model.safetensors', (p) => events.push(p));
    expect(bytes).toEqual(WEIGHTS);
    // The server writes 4096-byte chunks with pauses: more than one event, each one larger.
    expect(events.length).toBeGreaterThan(1);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.loaded).toBeGreaterThan(events[i - 1]!.loaded);
    }
    expect(
      events.every((e) => e.total === WEIGHTS.byteLength && e.file === 'model.safetensors'),
    ).toBe(true);
    expect(events.at(-1)!.loaded).toBe(WEIGHTS.byteLength);
    expect(await files.json('config.json')).toEqual(CONFIG);
    expect(server.requests).toEqual([`GET ${HUB}/model.safetensors`, `GET ${HUB}/config.json`]);

    bytes.fill(0); // the caller owns its array: scribbling on it must not reach the cache
    await server.close();
    const again = hubModelFiles('acme/tiny', { hubUrl: server.url, cache });
    const cachedEvents: DownloadProgress[] = [];
    expect(await again.bytes('model.safetensors', (p) => cachedEvents.push(p))).toEqual(WEIGHTS);
    expect(cachedEvents).toEqual([
      { file: 'model.safetensors', loaded: WEIGHTS.byteLength, total: WEIGHTS.byteLength },
    ]);
    expect(await again.json('config.json')).toEqual(CONFIG);
    expect(await again.has('config.json')).toBe(true);
    expect(server.requests).toHaveLength(2); // nothing new reached the (closed) server
    // Not cached and no server: a NetworkError that names the URL.
    const offline = await rejection(again.bytes('tokenizer.json'));
    expect(offline).toBeInstanceOf(NetworkError);
    expect(offline.message).toContain(`${server.url}${HUB}/tokenizer.json`);
    server = await startStaticServer(new Map()); // for the tests below
  });
});

describe('hub source status codes', () => {
  let server: StaticServer;
  let files: ReturnType<typeof hubModelFiles>;
  beforeAll(async () => {
    server = await startStaticServer(
      new Map([
        [`${HUB}/config.json`, CONFIG_BYTES],
        [`${HUB}/broken.json`, encoder.encode('{"model": ')],
      ]),
    );
    server.failWith(`${HUB}/tokenizer.json`, 500);
    files = hubModelFiles('acme/tiny', { hubUrl: `${server.url}/`, cache: new MemoryFileCache() });
  });
  afterAll(() => server.close());

  it('answers has() with a HEAD: 200 → true, 404 → false', async () => {
    expect(await files.has('config.json')).toBe(true);
    expect(await files.has('model.safetensors.index.json')).toBe(false);
    expect(server.requests).toEqual([
      `HEAD ${HUB}/config.json`,
      `HEAD ${HUB}/model.safetensors.index.json`,
    ]);
  });

  it('makes a 404 on a required file an UnsupportedModelError naming the URL', async () => {
    const error = await rejection(files.bytes('model.safetensors.index.json'));
    expect(error).toBeInstanceOf(UnsupportedModelError);
    expect(error.message).toContain(`${server.url}${HUB}/model.safetensors.index.json`);
  });

  it('makes a 500 a NetworkError naming the URL and status, for has() and bytes()', async () => {
    for (const attempt of [
      () => files.has('tokenizer.json'),
      () => files.bytes('tokenizer.json'),
    ]) {
      const error = await rejection(attempt());
      expect(error).toBeInstanceOf(NetworkError);
      expect(error.message).toContain(`${server.url}${HUB}/tokenizer.json`);
      expect(error.message).toContain('HTTP 500');
    }
  });

  it('makes malformed JSON an InvalidFileError naming the URL', async () => {
    const error = await rejection(files.json('broken.json'));
    expect(error).toBeInstanceOf(InvalidFileError);
    expect(error.message).toContain(`${HUB}/broken.json`);
  });

  it('rejects bad repo ids and file names before any request', async () => {
    const before = server.requests.length;
    for (const repo of ['acme', 'a/b/c', '../x', 'a b/c', '']) {
      expect(() => hubModelFiles(repo, { hubUrl: server.url }), repo).toThrow(ValidationError);
    }
    for (const file of ['../secret', '/etc/passwd', 'a\\b', '', 'x/./y', 'q?a=1']) {
      await expect(files.bytes(file), file).rejects.toThrow(ValidationError);
      await expect(files.has(file), file).rejects.toThrow(ValidationError);
    }
    expect(server.requests.length).toBe(before);
  });

  it('builds resolve URLs with the revision', () => {
    expect(hubRepoUrl('https://huggingface.co/', 'org/name')).toBe(
      'https://huggingface.co/org/name/resolve/main',
    );
    expect(hubRepoUrl('http://mirror.local/hf', 'org/name', 'v1.0')).toBe(
      'http://mirror.local/hf/org/name/resolve/v1.0',
    );
  });
});

describe('file caches', () => {
  it('uses an in-memory cache in Node (no Cache Storage) and shares it', () => {
    expect(defaultFileCache()).toBeInstanceOf(MemoryFileCache);
    expect(defaultFileCache()).toBe(defaultFileCache());
  });

  it('stores and returns bytes through a Cache Storage', async () => {
    const stored = new Map<string, Response>();
    const storage = {
      open: async () => ({
        match: async (key: string) => stored.get(key)?.clone(),
        put: async (key: string, response: Response) => void stored.set(key, response),
      }),
    } as unknown as CacheStorage;
    const cache = new CacheStorageFileCache(storage);
    const key = 'https://huggingface.co/acme/tiny/resolve/main/model.safetensors';
    expect(await cache.get(key)).toBeUndefined();
    expect(await cache.has(key)).toBe(false);
    await cache.put(key, WEIGHTS);
    expect(await cache.has(key)).toBe(true);
    expect(await cache.get(key)).toEqual(WEIGHTS);
  });
});

describe('user files', () => {
  it('reads a name → content map (folders dropped) and returns arrays the caller owns', async () => {
    const weights = WEIGHTS.slice(0, 1000);
    const files = userModelFiles(
      new Map<string, Blob | ArrayBuffer | Uint8Array>([
        ['my-model/config.json', new Blob([CONFIG_BYTES])],
        ['model.safetensors', weights],
        ['tokenizer.json', encoder.encode('{"a": 1}').buffer],
      ]),
    );
    expect(files.kind).toBe('user');
    expect(await files.has('config.json')).toBe(true);
    expect(await files.has('my-model/config.json')).toBe(false);
    expect(await files.json('config.json')).toEqual(CONFIG);
    expect(await files.json('tokenizer.json')).toEqual({ a: 1 });
    const events: DownloadProgress[] = [];
    const got = await files.bytes('model.safetensors', (p) => events.push(p));
    expect(got).toEqual(weights);
    expect(events).toEqual([{ file: 'model.safetensors', loaded: 1000, total: 1000 }]);
    got.fill(0);
    expect(weights[1]).toBe(38); // (1·31 + 7) & 255 = 38: the user's array is untouched
    const missing = await rejection(files.bytes('tokenizer_config.json'));
    expect(missing).toBeInstanceOf(UnsupportedModelError);
    expect(missing.message).toMatch(/tokenizer_config.json.*config.json, model.safetensors/);
  });

  it('reads picked File objects and refuses two files with one name', async () => {
    const picked = [new File([CONFIG_BYTES], 'config.json'), new File([WEIGHTS], 'w.bin')];
    const files = userModelFiles(picked, 'my upload');
    expect(files.id).toBe('my upload');
    expect(await files.json('config.json')).toEqual(CONFIG);
    expect(await files.bytes('w.bin')).toEqual(WEIGHTS);
    const twice = new Map([
      ['a/config.json', CONFIG_BYTES],
      ['b/config.json', CONFIG_BYTES],
    ]);
    expect(() => userModelFiles(twice)).toThrow(/Two of the picked files are called "config.json"/);
  });
});

describe('shipped source', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'loops-models-'));
    await mkdir(join(root, 'tiny'));
    await writeFile(join(root, 'tiny', 'config.json'), CONFIG_BYTES);
    await writeFile(join(root, 'tiny', 'model.safetensors'), WEIGHTS);
    await writeFile(join(root, 'secret.json'), '{}');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('reads a folder from disk in Node', async () => {
    const files = shippedModelFiles('tiny', { folder: nodeFolder(root) });
    expect(files.kind).toBe('shipped');
    expect(await files.has('config.json')).toBe(true);
    expect(await files.has('tokenizer_config.json')).toBe(false);
    expect(await files.json('config.json')).toEqual(CONFIG);
    const events: DownloadProgress[] = [];
    expect(await files.bytes('model.safetensors', (p) => events.push(p))).toEqual(WEIGHTS);
    expect(events).toEqual([
      { file: 'model.safetensors', loaded: WEIGHTS.byteLength, total: WEIGHTS.byteLength },
    ]);
    const missing = await rejection(files.bytes('tokenizer.json'));
    expect(missing).toBeInstanceOf(UnsupportedModelError);
    expect(missing.message).toContain(join(root, 'tiny', 'tokenizer.json'));
    await expect(files.has('../secret.json')).rejects.toThrow(ValidationError);
    expect(() => shippedModelFiles('..', { folder: nodeFolder(root) })).toThrow(ValidationError);
    expect(() => shippedModelFiles('tiny', {})).toThrow(/give baseUrl .* or folder/);
  });

  it('fetches <baseUrl>/models/<name>/<file> over HTTP', async () => {
    const server = await startStaticServer(
      new Map([[`/app/models/tiny/config.json`, CONFIG_BYTES]]),
    );
    try {
      const files = shippedModelFiles('tiny', { baseUrl: `${server.url}/app/` });
      expect(await files.json('config.json')).toEqual(CONFIG);
      expect(await files.has('model.safetensors')).toBe(false);
      expect(server.requests).toEqual([
        'GET /app/models/tiny/config.json',
        'HEAD /app/models/tiny/model.safetensors',
      ]);
    } finally {
      await server.close();
    }
  });

  it('resolveModel picks shipped for listed names and the hub for the rest', () => {
    const options = { shipped: ['tiny'], folder: nodeFolder(root), cache: new MemoryFileCache() };
    expect(resolveModel('tiny', options).kind).toBe('shipped');
    const hub = resolveModel('HuggingFaceTB/SmolLM2-135M', options);
    expect(hub.kind).toBe('hub');
    expect(hub.id).toBe('HuggingFaceTB/SmolLM2-135M');
    expect(() => resolveModel('not-shipped', options)).toThrow(ValidationError);
  });
});

describe('loading a hub model', () => {
  it('takes a single-page-app host’s index.html for an absent file, not for the file', async () => {
    // Vite's dev server and `vite preview` answer a path they have no file for with index.html
    // and 200; generation_config.json is optional, and the fixture has none.
    const { readFileSync, readdirSync } = await import('node:fs');
    const { loadModelFiles } = await import('../../src/engine/model-registry');
    await (await import('../helpers/tf-node')).useCpuBackend();
    const { FIXTURE_CONFIG, writeFixtureModelTo } = await import('../helpers/fixture-model-dir');
    const dir = await mkdtemp(join(tmpdir(), 'hub-spa-'));
    writeFixtureModelTo(dir);
    const served = new Map(
      readdirSync(dir).map((f) => [`${HUB}/${f}`, new Uint8Array(readFileSync(join(dir, f)))]),
    );
    const server = await startStaticServer(served, 4096, '<!doctype html><title>app</title>');
    try {
      const files = hubModelFiles('acme/tiny', {
        hubUrl: server.url,
        cache: new MemoryFileCache(),
      });
      expect(await files.read('generation_config.json')).toBeUndefined();
      expect(await files.has('generation_config.json')).toBe(false);
      expect(await files.has('config.json')).toBe(true);
      await expect(files.json('no_such.json')).rejects.toThrow(UnsupportedModelError);
      const loaded = await loadModelFiles(files);
      for (const t of loaded.weights.values()) t.dispose();
      expect(loaded.config.eosTokenIds).toEqual([FIXTURE_CONFIG.eos_token_id]);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('requests each file once, with a GET (no HEAD probe before the read)', async () => {
    // Chromium logged each HEAD probe as a cancelled request when the GET of the same URL
    // followed it at once; a load must not ask for any file twice.
    const { readFileSync, readdirSync } = await import('node:fs');
    const { loadModelFiles } = await import('../../src/engine/model-registry');
    await (await import('../helpers/tf-node')).useCpuBackend();
    const { writeFixtureModelTo } = await import('../helpers/fixture-model-dir');
    const dir = await mkdtemp(join(tmpdir(), 'hub-once-'));
    writeFixtureModelTo(dir);
    const served = new Map(
      readdirSync(dir).map((f) => [`${HUB}/${f}`, new Uint8Array(readFileSync(join(dir, f)))]),
    );
    const server = await startStaticServer(served);
    try {
      const files = hubModelFiles('acme/tiny', {
        hubUrl: server.url,
        cache: new MemoryFileCache(),
      });
      const loaded = await loadModelFiles(files);
      for (const t of loaded.weights.values()) t.dispose();
      // generation_config.json is optional (its eos ids join config.json's): the fixture has
      // none, so its one GET is answered 404 and the load goes on without it.
      expect(served.has(`${HUB}/generation_config.json`)).toBe(false);
      expect([...server.requests].sort()).toEqual(
        [
          'config.json',
          'generation_config.json',
          'model.safetensors',
          'tokenizer.json',
          'tokenizer_config.json',
        ]
          .map((f) => `GET ${HUB}/${f}`)
          .sort(),
      );
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
