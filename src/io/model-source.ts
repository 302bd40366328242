/**
 * One resolver for a model's files, wherever they are: shipped with the app
 * (`public/models/<name>/`), a Hugging Face hub repo (downloaded with progress, cached), or files
 * the user picked. All three are a `ModelFiles`, so the loaders of config.json, safetensors and
 * tokenizer files never know where the bytes came from.
 *
 * Each source is a small `FileTransport` (read bytes or say "absent"); this module adds what they
 * share: file-name checks, the error for a missing required file, and JSON parsing. HTTP and the
 * cache are hub-source.ts and file-cache.ts; reading folders in Node is node-files.ts, passed in
 * by Node code so that no `node:` import reaches a browser bundle.
 */
import { InvalidFileError, UnsupportedModelError, ValidationError } from '../errors/loops-errors';
import { defaultFileCache } from './file-cache';
import type { FileCache } from './file-cache';
import { DEFAULT_HUB_URL, checkRepoId, hubRepoUrl, httpTransport } from './hub-source';

export interface DownloadProgress {
  readonly file: string;
  /** Bytes received so far. */
  readonly loaded: number;
  /** Size of the file, or null when the server does not say. */
  readonly total: number | null;
}

export type ProgressCallback = (progress: DownloadProgress) => void;

export type ModelSourceKind = 'shipped' | 'hub' | 'user';

export interface ModelFiles {
  /** The model's name: the shipped folder name, the hub repo id, or a label for user files. */
  readonly id: string;
  readonly kind: ModelSourceKind;
  /** Whether `file` exists (a 404 is `false`; other failures throw). */
  has(file: string): Promise<boolean>;
  /**
   * The bytes of `file`, as a fresh array the caller owns (it may transfer it). A missing file is
   * an `UnsupportedModelError` naming where it was looked for.
   */
  bytes(file: string, onProgress?: ProgressCallback): Promise<Uint8Array>;
  /**
   * The bytes of `file`, or `undefined` when it is absent: one request (a GET answered 404), for a
   * file the caller will read when it exists. `has` then `bytes` would ask twice.
   */
  read(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | undefined>;
  /** `file` parsed as UTF-8 JSON; malformed content is an `InvalidFileError`. */
  json(file: string): Promise<unknown>;
}

/** Where one source's bytes come from; `undefined` from `read` means "no such file". */
export interface FileTransport {
  /** Where `file` is (a URL or path), for messages. */
  locate(file: string): string;
  read(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | undefined>;
  exists(file: string): Promise<boolean>;
}

export interface ShippedSource {
  /** Browsers: the app's base URL; files are fetched from `<baseUrl>/models/<name>/<file>`. */
  readonly baseUrl?: string;
  /** Node: the models folder, e.g. `nodeFolder('public/models')` from node-files.ts. */
  readonly folder?: FileTransport;
}

export interface HubOptions {
  /** Hub base URL; default https://huggingface.co. Offline labs point it at a local mirror. */
  readonly hubUrl?: string;
  /** Branch, tag or commit; default "main". */
  readonly revision?: string;
  /** Where downloads are kept; default Cache Storage in browsers, else an in-memory cache. */
  readonly cache?: FileCache;
}

export interface ResolveOptions extends ShippedSource, HubOptions {
  /** Names of the models shipped with the app; any other name is a hub repo id. */
  readonly shipped?: readonly string[];
}

type UserFile = Blob | ArrayBuffer | Uint8Array;

const SHIPPED_NAME = /^[\w.-]+$/;
/** A full commit sha, as a pinned hub revision. */
const COMMIT = /^[0-9a-f]{40}$/;

/** A model shipped with the app under `public/models/<name>/`. */
export function shippedModelFiles(name: string, source: ShippedSource): ModelFiles {
  if (!SHIPPED_NAME.test(name) || name === '.' || name === '..') {
    throw new ValidationError(
      `"${name}" is not a shipped model name; use a folder name under public/models/ ` +
        '(letters, digits, "_", ".", "-").',
    );
  }
  let folder = source.folder;
  if (!folder) {
    if (source.baseUrl === undefined) {
      throw new ValidationError(
        `Shipped model "${name}": give baseUrl (browsers) or folder (Node) to read it from.`,
      );
    }
    folder = httpTransport(`${source.baseUrl.replace(/\/+$/, '')}/models`);
  }
  return fromTransport(name, 'shipped', prefixed(folder, `${name}/`));
}

/**
 * A Hugging Face hub repo (`org/name`), downloaded on first use and then served from the cache;
 * cached files of a branch are revalidated with the hub first (hub-source.ts).
 */
export function hubModelFiles(repo: string, options: HubOptions = {}): ModelFiles {
  checkRepoId(repo);
  const base = hubRepoUrl(options.hubUrl ?? DEFAULT_HUB_URL, repo, options.revision);
  // A branch (default "main") moves; a commit sha does not.
  const revalidate = !COMMIT.test(options.revision ?? 'main');
  const cache = options.cache ?? defaultFileCache();
  return fromTransport(repo, 'hub', httpTransport(base, cache, { revalidate }));
}

/**
 * Files the user handed over: a name → content map, or the `File`s of a file picker. Folders in
 * names are dropped (`my-model/config.json` is `config.json`).
 */
export function userModelFiles(
  files: ReadonlyMap<string, UserFile> | readonly File[],
  id = 'user files',
): ModelFiles {
  const entries: [string, UserFile][] = Array.isArray(files)
    ? files.map((f) => [f.name, f])
    : [...(files as ReadonlyMap<string, UserFile>)];
  const byName = new Map<string, UserFile>();
  for (const [path, content] of entries) {
    const name = path.split(/[\\/]/).pop() ?? '';
    if (byName.has(name)) {
      throw new ValidationError(
        `Two of the picked files are called "${name}"; pick the files of one model only.`,
      );
    }
    byName.set(name, content);
  }
  const transport: FileTransport = {
    locate: (file) => `"${file}" among the picked files (${[...byName.keys()].join(', ')})`,
    exists: async (file) => byName.has(file),
    read: async (file, onProgress) => {
      const content = byName.get(file);
      if (content === undefined) return undefined;
      const bytes = await ownBytes(content);
      onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    },
  };
  return fromTransport(id, 'user', transport);
}

/** Shipped when `name` is in `options.shipped`, else a hub repo id. */
export function resolveModel(name: string, options: ResolveOptions = {}): ModelFiles {
  return options.shipped?.includes(name)
    ? shippedModelFiles(name, options)
    : hubModelFiles(name, options);
}

/** Wraps a transport with the checks, errors and parsing every source shares. */
export function fromTransport(
  id: string,
  kind: ModelSourceKind,
  transport: FileTransport,
): ModelFiles {
  const bytes = async (file: string, onProgress?: ProgressCallback): Promise<Uint8Array> => {
    checkFileName(file);
    const found = await transport.read(file, onProgress);
    if (found) return found;
    throw new UnsupportedModelError(
      `Model "${id}" (${kind}) has no ${file}: nothing at ${transport.locate(file)}. ` +
        FIXES[kind],
    );
  };
  return {
    id,
    kind,
    bytes,
    read: async (file, onProgress) => {
      checkFileName(file);
      return transport.read(file, onProgress);
    },
    has: async (file) => {
      checkFileName(file);
      return transport.exists(file);
    },
    json: async (file) => parseJsonFile(await bytes(file), transport.locate(file)),
  };
}

const FIXES: Record<ModelSourceKind, string> = {
  shipped: 'Check the folder under public/models/ and the file name.',
  hub: 'Check the repo id and that the repo has this file (the hub answered 404).',
  user: 'Pick this file too (all of the model folder).',
};

/** File names are relative paths inside the model folder: no "..", no leading "/", no "\". */
function checkFileName(file: string): void {
  const segments = typeof file === 'string' ? file.split('/') : [];
  const bad =
    segments.length === 0 ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    /[\\?#]/.test(file);
  if (bad) {
    throw new ValidationError(
      `"${String(file)}" is not a model file name; use a path inside the model folder, ` +
        'such as "config.json" or "onnx/model.onnx".',
    );
  }
}

/** `bytes` parsed as UTF-8 JSON; malformed content is an `InvalidFileError` naming `where`. */
export function parseJsonFile(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidFileError(`${where} is not valid UTF-8 JSON (${reason}).`);
  }
}

function prefixed(inner: FileTransport, prefix: string): FileTransport {
  return {
    locate: (file) => inner.locate(prefix + file),
    exists: (file) => inner.exists(prefix + file),
    read: (file, onProgress) =>
      inner.read(prefix + file, onProgress && ((p) => onProgress({ ...p, file }))),
  };
}

async function ownBytes(content: UserFile): Promise<Uint8Array> {
  if (content instanceof Uint8Array) return content.slice();
  if (content instanceof ArrayBuffer) return new Uint8Array(content.slice(0));
  return new Uint8Array(await content.arrayBuffer());
}
