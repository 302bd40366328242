// Hub downloads (src/io/hub-source.ts): a body of known length streams into one buffer of exactly
// that size, and a Cache Storage receives the same stream as it arrives (not a copy made after
// the download), so memory peaks near 1× the file rather than 2-3×. Cached files of a branch
// ("main") are revalidated against the hub's ETag on the next load: a file changed upstream is
// downloaded again, an unchanged one is served from the cache after a HEAD, and without a network
// the cached copy is used. A pinned commit is never revalidated. A file the hub does not have is
// remembered as absent, offline too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheStorageFileCache, MemoryFileCache } from '../../src/io/file-cache';
import { hubModelFiles } from '../../src/io/model-source';
import { startStaticServer, type StaticServer } from '../helpers/static-server';

/** 100 000 bytes following a fixed pattern, and a changed version of them. */
const WEIGHTS = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31 + 7) & 255);
const CHANGED = Uint8Array.from({ length: 90_000 }, (_, i) => (i * 17 + 3) & 255);
const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('hub downloads into one buffer, cached as they stream', () => {
  let server: StaticServer;
  beforeAll(async () => {
    server = await startStaticServer(
      new Map([['/acme/tiny/resolve/main/model.safetensors', WEIGHTS]]),
    );
  });
  afterAll(() => server.close());

  it('one buffer of the Content-Length; Cache Storage fed from the stream during the download', async () => {
    const events: string[] = [];
    const stored = new Map<string, Response>();
    const storage = {
      open: async () => ({
        match: async (key: string) => stored.get(key)?.clone(),
        put: async (key: string, response: Response) => {
          events.push('cache put');
          const body = new Uint8Array(await response.arrayBuffer());
          stored.set(key, new Response(body, { headers: response.headers }));
        },
        delete: async (key: string) => stored.delete(key),
      }),
    } as unknown as CacheStorage;
    const cache = new CacheStorageFileCache(storage);
    const files = hubModelFiles('acme/tiny', { hubUrl: server.url, cache });
    const bytes = await files.bytes('model.safetensors', (p) => events.push(`loaded ${p.loaded}`));
    expect(bytes).toEqual(WEIGHTS);
    expect(bytes.buffer.byteLength).toBe(WEIGHTS.byteLength); // no growth, no trimmed copy
    // The cache got the response before the last chunk had arrived: it streamed alongside.
    expect(events.indexOf('cache put')).toBeLessThan(
      events.indexOf(`loaded ${WEIGHTS.byteLength}`),
    );
    expect(events.indexOf('cache put')).toBeGreaterThanOrEqual(0);
    const key = `${server.url}/acme/tiny/resolve/main/model.safetensors`;
    expect(await cache.get(key)).toEqual(WEIGHTS);
  });
});

describe('cached files of a branch are revalidated', () => {
  let server: StaticServer;
  const path = '/acme/tiny/resolve/main/model.safetensors';
  beforeAll(async () => {
    server = await startStaticServer(
      new Map([
        [path, WEIGHTS],
        [`/acme/tiny/resolve/${SHA}/model.safetensors`, WEIGHTS],
      ]),
    );
  });
  afterAll(() => server.close());

  it('unchanged: a HEAD, then the cache; changed upstream: downloaded again; offline: the cache', async () => {
    const cache = new MemoryFileCache();
    const load = () =>
      hubModelFiles('acme/tiny', { hubUrl: server.url, cache }).bytes('model.safetensors');
    expect(await load()).toEqual(WEIGHTS);
    expect(server.requests).toEqual([`GET ${path}`]);
    expect(await load()).toEqual(WEIGHTS);
    expect(server.requests).toEqual([`GET ${path}`, `HEAD ${path}`]);
    server.setFile(path, CHANGED); // a new commit on main
    expect(await load()).toEqual(CHANGED);
    expect(server.requests.slice(2)).toEqual([`HEAD ${path}`, `GET ${path}`]);
    const url = server.url;
    await server.close();
    const offline = hubModelFiles('acme/tiny', { hubUrl: url, cache });
    expect(await offline.bytes('model.safetensors')).toEqual(CHANGED);
    server = await startStaticServer(
      new Map([[`/acme/tiny/resolve/${SHA}/model.safetensors`, WEIGHTS]]),
    );
  });

  it('a pinned commit is served from the cache without asking', async () => {
    const cache = new MemoryFileCache();
    const load = () =>
      hubModelFiles('acme/tiny', { hubUrl: server.url, cache, revision: SHA }).bytes(
        'model.safetensors',
      );
    expect(await load()).toEqual(WEIGHTS);
    expect(await load()).toEqual(WEIGHTS);
    expect(server.requests).toEqual([`GET /acme/tiny/resolve/${SHA}/model.safetensors`]);
  });
});

describe('a file the hub does not have is remembered as absent', () => {
  // huggingface_hub keeps such answers under `.no_exist/`: an optional file a model lacks
  // (generation_config.json) must not make an offline load fail once the model is cached.
  const file = 'generation_config.json';
  const path = `/acme/tiny/resolve/main/${file}`;

  it('one GET, then a HEAD per load; added upstream, it is downloaded', async () => {
    const server = await startStaticServer(new Map());
    try {
      const cache = new MemoryFileCache();
      const files = () => hubModelFiles('acme/tiny', { hubUrl: server.url, cache });
      expect(await files().read(file)).toBeUndefined();
      expect(await files().read(file)).toBeUndefined();
      expect(await files().has(file)).toBe(false); // from the cache, no request
      expect(server.requests).toEqual([`GET ${path}`, `HEAD ${path}`]);
      server.setFile(path, Uint8Array.of(123, 125)); // a new commit on main adds it
      expect(await files().read(file)).toEqual(Uint8Array.of(123, 125));
      expect(server.requests.slice(2)).toEqual([`HEAD ${path}`, `GET ${path}`]);
    } finally {
      await server.close();
    }
  });

  it('offline, the absence stands instead of a NetworkError', async () => {
    const server = await startStaticServer(new Map());
    const cache = new MemoryFileCache();
    const files = hubModelFiles('acme/tiny', { hubUrl: server.url, cache });
    expect(await files.read(file)).toBeUndefined();
    await server.close();
    expect(await files.read(file)).toBeUndefined();
    expect(await files.has(file)).toBe(false);
  });
});
