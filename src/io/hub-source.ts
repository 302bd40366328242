/**
 * Files over HTTP: a Hugging Face hub (`<hubUrl>/<org>/<name>/resolve/<revision>/<file>`) or the
 * app's own `public/models/<name>/` folder. Downloads stream the body to report progress (loaded
 * bytes, and the total from Content-Length) into one buffer of exactly that length when the
 * server gives it, and, when a cache is given, are stored there so the next load of the same URL
 * needs no network. A cache that can take a stream (Cache Storage) is fed the body as it arrives
 * (the response is teed), so memory holds about one copy of the file, not a second made for the
 * cache.
 *
 * Revalidation: files of a branch (the default "main") change when the repo gets a commit, so a
 * cached one is checked with a HEAD before use: the server's validator (`X-Linked-Etag`, else
 * `ETag`, else `X-Repo-Commit`) against the one stored with the download. Different: downloaded
 * again. Same, or no answer (offline, server error): the cached copy. Files of a pinned commit
 * (a 40-hex revision) never change and are not revalidated.
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

export interface HttpTransportOptions {
  /** Check a cached file with the server before using it (files of a branch); default false. */
  readonly revalidate?: boolean;
}

/** Files under `baseUrl` (`<baseUrl>/<file>`), downloaded with progress and optionally cached. */
export function httpTransport(
  baseUrl: string,
  cache?: FileCache,
  options: HttpTransportOptions = {},
): FileTransport {
  const root = baseUrl.replace(/\/+$/, '');
  const locate = (file: string): string => `${root}/${file}`;
  const read = async (
    file: string,
    onProgress?: ProgressCallback,
  ): Promise<Uint8Array | undefined> => {
    const url = locate(file);
    if (cache && (await isCurrent(cache, url, options.revalidate === true))) {
      const hit = await cache.get(url);
      if (hit) {
        onProgress?.({ file, loaded: hit.byteLength, total: hit.byteLength });
        return hit;
      }
    }
    const response = await request(url, 'GET');
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const report = (loaded: number, total: number | null) => onProgress?.({ file, loaded, total });
    const validator = validatorOf(response);
    const total = contentLength(response);
    if (cache?.putStream && response.body) {
      const [mine, theirs] = response.body.tee();
      // A cache that cannot store (quota full) costs a re-download later, not this load.
      const stored = cache
        .putStream(url, exactLength(theirs, total), validator)
        .catch(() => undefined);
      const bytes = await readStream(mine, url, total, report);
      await stored;
      return bytes;
    }
    const bytes = response.body
      ? await readStream(response.body, url, total, report)
      : await wholeBody(response, total, report);
    await cache?.put(url, bytes, validator).catch(() => undefined);
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

/**
 * Whether the cached copy of `url` may be used: it is there and, with `revalidate`, the server
 * reports the validator it was stored with (or cannot be asked).
 */
async function isCurrent(cache: FileCache, url: string, revalidate: boolean): Promise<boolean> {
  const stored = cache.validator
    ? await cache.validator(url)
    : (await isCached(cache, url))
      ? null
      : undefined;
  if (stored === undefined) return false;
  if (!revalidate) return true;
  let response: Response;
  try {
    response = await fetch(url, { method: 'HEAD' });
  } catch {
    return true; // offline: the cached copy is the best there is
  }
  if (response.status === 404) return false; // gone upstream: the download says so
  if (!response.ok) return true;
  const current = validatorOf(response);
  return current === null || current === stored;
}

/** What identifies a file's version: the hub's `X-Linked-Etag` (LFS), `ETag`, or the commit. */
function validatorOf(response: Response): string | null {
  const h = response.headers;
  return h.get('x-linked-etag') ?? h.get('etag') ?? h.get('x-repo-commit');
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

/** Content-Length, or null when absent or counting compressed bytes (chunks arrive decoded). */
function contentLength(response: Response): number | null {
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const length = response.headers.get('content-length') ?? '';
  return !encoded && /^\d+$/.test(length) ? Number(length) : null;
}

async function wholeBody(
  response: Response,
  total: number | null,
  report: (loaded: number, total: number | null) => void,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  report(bytes.byteLength, total);
  return bytes;
}

/**
 * The whole stream, reporting (loaded, total) after each chunk. With a known `total` it fills one
 * buffer of exactly that size (a longer body is an error at once); without, a buffer that doubles.
 */
async function readStream(
  stream: ReadableStream<Uint8Array>,
  url: string,
  total: number | null,
  report: (loaded: number, total: number | null) => void,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  let buffer = new Uint8Array(total ?? 1 << 16);
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (loaded + value.byteLength > buffer.byteLength) {
        if (total !== null) {
          throw new NetworkError(
            `Download of ${url} sent more than its ${total} bytes; try again.`,
          );
        }
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
    await reader.cancel().catch(() => undefined);
    if (error instanceof NetworkError) throw error;
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

/** `stream` unchanged, but erroring at its end unless it carried exactly `total` bytes. */
function exactLength(
  stream: ReadableStream<Uint8Array>,
  total: number | null,
): ReadableStream<Uint8Array> {
  if (total === null) return stream;
  let seen = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > total) controller.error(new Error(`more than ${total} bytes`));
        else controller.enqueue(chunk);
      },
      flush(controller) {
        if (seen !== total) controller.error(new Error(`${seen} of ${total} bytes`));
      },
    }),
  );
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
