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
 * (a 40-hex revision) never change and are not revalidated. A file the server does not have is
 * remembered as absent (as huggingface_hub's `.no_exist/`), so an optional file a model lacks does
 * not fail an offline load; it is revalidated like the rest.
 *
 * Status codes: 404 means "no such file" (optional files such as `model.safetensors.index.json`
 * are probed this way), and so does an HTML page answered for a file that is not one (a
 * single-page-app host's index.html fallback); anything else that is not 2xx, and any network
 * failure, is a `NetworkError` naming the URL. Turning a missing required file into an error, and
 * parsing, is model-source.ts's job.
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
    const cached = cache ? await cachedState(cache, url, file, options.revalidate === true) : null;
    if (cached === 'absent') return undefined;
    if (cache && cached === 'current') {
      const hit = await cache.get(url);
      if (hit) {
        onProgress?.({ file, loaded: hit.byteLength, total: hit.byteLength });
        return hit;
      }
    }
    const response = await request(url, 'GET');
    if (response.status === 404 || isFallbackPage(response, file)) {
      await response.body?.cancel();
      await rememberAbsent(cache, url);
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
    const cached = cache ? await cachedState(cache, url, file, false) : null;
    if (cached) return cached === 'current';
    const response = await request(url, 'HEAD');
    if (response.status === 405 || response.status === 501) {
      return (await read(file)) !== undefined; // a server without HEAD: fetch (and cache) instead
    }
    return response.status !== 404 && !isFallbackPage(response, file);
  };
  return { locate, read, exists };
}

/**
 * An app's fallback page instead of the file: a single-page-app host (Vite's dev server and
 * `vite preview` among them) answers a path it has no file for with its index.html and 200, not
 * 404. No model file is HTML, so an HTML answer for one means the file is absent.
 */
function isFallbackPage(response: Response, file: string): boolean {
  const type = response.headers.get('content-type') ?? '';
  return response.ok && /^\s*text\/html\b/i.test(type) && !/\.html?$/i.test(file);
}

/**
 * The validator stored for a file the server answered 404 for: an optional file the model does
 * not have (generation_config.json, …) is then known to be absent offline too, as huggingface_hub
 * remembers it under `.no_exist/`. Only kept in a cache that can tell validators back.
 */
const ABSENT = 'loops-web:absent';

async function rememberAbsent(cache: FileCache | undefined, url: string): Promise<void> {
  if (cache?.validator) await cache.put(url, new Uint8Array(0), ABSENT).catch(() => undefined);
}

/**
 * What the cache knows of `url`: 'current' (its copy may be used), 'absent' (the file is known
 * not to exist), 'stale' (ask the server), or null (nothing cached). With `revalidate` the server
 * is asked with a HEAD whether it still has the version stored (or still has no such file); when
 * it cannot be asked (offline, a server error) what is cached stands.
 */
async function cachedState(
  cache: FileCache,
  url: string,
  file: string,
  revalidate: boolean,
): Promise<'current' | 'absent' | 'stale' | null> {
  const stored = cache.validator
    ? await cache.validator(url)
    : (await isCached(cache, url))
      ? null
      : undefined;
  if (stored === undefined) return null;
  const known = stored === ABSENT ? 'absent' : 'current';
  if (!revalidate) return known;
  let response: Response;
  try {
    response = await fetch(url, { method: 'HEAD' });
  } catch {
    return known; // offline: what is cached is the best there is
  }
  const gone = response.status === 404 || isFallbackPage(response, file);
  if (gone) return known === 'absent' ? 'absent' : 'stale'; // gone upstream: the download says so
  if (!response.ok) return known;
  if (known === 'absent') return 'stale'; // it exists upstream now
  const current = validatorOf(response);
  return current === null || current === stored ? 'current' : 'stale';
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
