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
  /** Stores `bytes`, with the server's validator (its ETag) when it gave one. */
  put(key: string, bytes: Uint8Array, validator?: string | null): Promise<void>;
  /** Whether `key` is stored, without reading it; optional (`get` is used when absent). */
  has?(key: string): Promise<boolean>;
  /** The validator stored with `key`: null when none was given, undefined when `key` is absent. */
  validator?(key: string): Promise<string | null | undefined>;
  /**
   * Stores a body as it streams in (optional): the cache consumes `body` alongside the download
   * instead of copying the finished bytes. It must reject, storing nothing, when `body` errors.
   */
  putStream?(
    key: string,
    body: ReadableStream<Uint8Array>,
    validator: string | null,
  ): Promise<void>;
}

export const MODEL_CACHE_NAME = 'loops-web-models';

/** Process-lifetime cache; it copies on the way in and out so cached arrays are never shared. */
export class MemoryFileCache implements FileCache {
  private readonly entries = new Map<string, { bytes: Uint8Array; validator: string | null }>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)?.bytes.slice();
  }

  async put(key: string, bytes: Uint8Array, validator: string | null = null): Promise<void> {
    // new Uint8Array copies; a Node Buffer's slice() would share the caller's memory.
    this.entries.set(key, { bytes: new Uint8Array(bytes), validator });
  }

  async has(key: string): Promise<boolean> {
    return this.entries.has(key);
  }

  async validator(key: string): Promise<string | null | undefined> {
    return this.entries.get(key)?.validator;
  }

  /** Number of stored files (for tests and memory reports). */
  get size(): number {
    return this.entries.size;
  }
}

/** The header a stored response keeps its server's validator in. */
const VALIDATOR_HEADER = 'x-loops-etag';

/** Cache Storage; keys must be http(s) URLs. Bodies are written as they stream in. */
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

  async put(key: string, bytes: Uint8Array, validator: string | null = null): Promise<void> {
    const cache = await this.storage.open(this.name);
    await cache.put(key, new Response(new Uint8Array(bytes), { headers: headersFor(validator) }));
  }

  async putStream(
    key: string,
    body: ReadableStream<Uint8Array>,
    validator: string | null,
  ): Promise<void> {
    const cache = await this.storage.open(this.name);
    try {
      await cache.put(key, new Response(body, { headers: headersFor(validator) }));
    } catch (error) {
      await cache.delete(key).catch(() => undefined);
      throw error;
    }
  }

  async has(key: string): Promise<boolean> {
    const cache = await this.storage.open(this.name);
    return (await cache.match(key)) !== undefined;
  }

  async validator(key: string): Promise<string | null | undefined> {
    const cache = await this.storage.open(this.name);
    const hit = await cache.match(key);
    if (!hit) return undefined;
    void hit.body?.cancel();
    return hit.headers.get(VALIDATOR_HEADER);
  }
}

function headersFor(validator: string | null): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (validator) headers[VALIDATOR_HEADER] = validator;
  return headers;
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
