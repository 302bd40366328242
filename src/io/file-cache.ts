/**
 * A persistent store for downloaded model files, keyed by URL, so a second load needs no network
 * (offline labs, reloads). In browsers it is Cache Storage (`caches.open('loops-web-models')`), which
 * holds gigabytes and survives reloads; elsewhere (Node, tests, old browsers) an in-memory map.
 *
 * Arrays handed out are the caller's own (copies or fresh reads), so the caller may transfer them to
 * a worker without emptying the cache. Deciding what to cache and when is hub-source.ts's job.
 */

export interface FileCache {
  /** The bytes stored under `key`, or `undefined`. */
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Whether `key` is stored, without reading it; optional (`get` is used when absent). */
  has?(key: string): Promise<boolean>;
}

export const MODEL_CACHE_NAME = 'loops-web-models';

/** Process-lifetime cache; it copies on the way in and out so cached arrays are never shared. */
export class MemoryFileCache implements FileCache {
  private readonly entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)?.slice();
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.entries.set(key, bytes.slice());
  }

  async has(key: string): Promise<boolean> {
    return this.entries.has(key);
  }

  /** Number of stored files (for tests and memory reports). */
  get size(): number {
    return this.entries.size;
  }
}

/** Cache Storage; keys must be http(s) URLs. */
export class CacheStorageFileCache implements FileCache {
  constructor(
    private readonly storage: CacheStorage,
    private readonly name = MODEL_CACHE_NAME,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const cache = await this.storage.open(this.name);
    const hit = await cache.match(key);
    return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const cache = await this.storage.open(this.name);
    const headers = { 'content-type': 'application/octet-stream' };
    await cache.put(key, new Response(bytes.slice(), { headers }));
  }

  async has(key: string): Promise<boolean> {
    const cache = await this.storage.open(this.name);
    return (await cache.match(key)) !== undefined;
  }
}

let shared: FileCache | undefined;

/** Cache Storage where the platform has it, else one in-memory cache shared by the process. */
export function defaultFileCache(): FileCache {
  if (!shared) {
    const storage = (globalThis as { caches?: CacheStorage }).caches;
    shared = storage ? new CacheStorageFileCache(storage) : new MemoryFileCache();
  }
  return shared;
}
