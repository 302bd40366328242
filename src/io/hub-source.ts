/**
 * Files over HTTP: a Hugging Face hub (`<hubUrl>/<org>/<name>/resolve/<revision>/<file>`) or the
 * app's own `public/models/<name>/` folder. Downloads stream the body to report progress (loaded
 * bytes, and the total from Content-Length) and, when a cache is given, are stored there so the next
 * load of the same URL needs no network.
 *
 * Status codes: 404 means "no such file" (optional files such as `model.safetensors.index.json`
 * are probed this way); anything else that is not 2xx, and any network failure, is a
 * `NetworkError` naming the URL. Turning a missing required file into an error, and parsing, is
 * model-source.ts's job.
 */
import { NetworkError, ValidationError } from '../errors/loops-errors';
import type { FileCache } from './file-cache';
import type { FileTransport, ProgressCallback } from './model-source';

/** A download failed: the server answered with an error status, or could not be reached. */
export { NetworkError };

export const DEFAULT_HUB_URL = 'https://huggingface.co';

/** `org/name`, each part letters, digits, `_`, `.`, `-` (the hub's own rule, roughly). */
const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

/** Throws a `ValidationError` unless `repo` looks like a hub repo id. */
export function checkRepoId(repo: string): void {
  if (typeof repo !== 'string' || !REPO_ID.test(repo) || repo.split('/').includes('..')) {
    throw new ValidationError(
      `"${String(repo)}" is not a Hugging Face repo id; expected "org/name", ` +
        'for example "HuggingFaceTB/SmolLM2-135M".',
    );
  }
}

/** The base URL under which a hub repo's files live at one revision (default "main"). */
export function hubRepoUrl(hubUrl: string, repo: string, revision = 'main'): string {
  checkRepoId(repo);
  return `${hubUrl.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}`;
}

/** Files under `baseUrl` (`<baseUrl>/<file>`), downloaded with progress and optionally cached. */
export function httpTransport(baseUrl: string, cache?: FileCache): FileTransport {
  const root = baseUrl.replace(/\/+$/, '');
  const locate = (file: string): string => `${root}/${file}`;
  const read = async (
    file: string,
    onProgress?: ProgressCallback,
  ): Promise<Uint8Array | undefined> => {
    const url = locate(file);
    const hit = await cache?.get(url);
    if (hit) {
      onProgress?.({ file, loaded: hit.byteLength, total: hit.byteLength });
      return hit;
    }
    const response = await request(url, 'GET');
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const bytes = await readBody(response, url, (loaded, total) =>
      onProgress?.({ file, loaded, total }),
    );
    // A cache that cannot store (quota full) costs a re-download later, not this load.
    await cache?.put(url, bytes).catch(() => undefined);
    return bytes;
  };
  const exists = async (file: string): Promise<boolean> => {
    const url = locate(file);
    if (cache && (await isCached(cache, url))) return true;
    const response = await request(url, 'HEAD');
    if (response.status === 405 || response.status === 501) {
      return (await read(file)) !== undefined; // a server without HEAD: fetch (and cache) instead
    }
    return response.status !== 404;
  };
  return { locate, read, exists };
}

async function isCached(cache: FileCache, key: string): Promise<boolean> {
  return cache.has ? cache.has(key) : (await cache.get(key)) !== undefined;
}

/** `fetch` that turns failures into `NetworkError`; returns 2xx and 404 responses. */
async function request(url: string, method: 'GET' | 'HEAD'): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { method });
  } catch (error) {
    throw new NetworkError(
      `Could not reach ${url} (${messageOf(error)}). Check the network, or point hubUrl at a ` +
        'reachable mirror; files loaded before are served from the cache.',
    );
  }
  if (response.ok || response.status === 404) return response;
  await response.body?.cancel();
  const hint =
    response.status === 401 || response.status === 403
      ? ' The repo may not exist, or be gated or private; this loader sends no token.'
      : '';
  throw new NetworkError(
    `${method} ${url} failed with HTTP ${response.status} ${response.statusText}.${hint}`,
  );
}

/**
 * The whole body, reporting (loaded, total) after each chunk. `total` is Content-Length, or null
 * when it is absent or counts compressed bytes (Content-Encoding), since chunks arrive decoded.
 */
async function readBody(
  response: Response,
  url: string,
  report: (loaded: number, total: number | null) => void,
): Promise<Uint8Array> {
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const length = response.headers.get('content-length') ?? '';
  const total = !encoded && /^\d+$/.test(length) ? Number(length) : null;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    report(bytes.byteLength, total);
    return bytes;
  }
  const reader = response.body.getReader();
  let buffer = new Uint8Array(total ?? 1 << 16);
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (loaded + value.byteLength > buffer.byteLength) {
        const grown = new Uint8Array(Math.max(buffer.byteLength * 2, loaded + value.byteLength));
        grown.set(buffer.subarray(0, loaded));
        buffer = grown;
      }
      buffer.set(value, loaded);
      loaded += value.byteLength;
      report(loaded, total);
    }
    if (loaded === 0) report(0, total);
  } catch (error) {
    throw new NetworkError(
      `Download of ${url} broke off after ${loaded} bytes (${messageOf(error)}).`,
    );
  }
  if (total !== null && loaded !== total) {
    throw new NetworkError(
      `Download of ${url} ended after ${loaded} of ${total} bytes; try again.`,
    );
  }
  return loaded === buffer.byteLength ? buffer : buffer.slice(0, loaded);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
