/**
 * Node only: a folder on disk as a `FileTransport`, for shipped models in tests, scripts and
 * benchmarks (`shippedModelFiles('tiny', { folder: nodeFolder('public/models') })`). Kept apart
 * from model-source.ts so that `node:` imports never reach a browser bundle: only Node code
 * imports this module.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { LoopsError } from '../errors/loops-errors';
import type { FileTransport } from './model-source';

/** Files under `root`; a path that would leave `root` reads as absent. */
export function nodeFolder(root: string): FileTransport {
  const base = resolve(root);
  const locate = (file: string): string => resolve(base, file);
  const inside = (path: string): boolean => path.startsWith(base + sep);
  return {
    locate,
    exists: async (file) => {
      const path = locate(file);
      if (!inside(path)) return false;
      try {
        return (await stat(path)).isFile();
      } catch (error) {
        if (isMissing(error)) return false;
        throw readError(path, error);
      }
    },
    read: async (file, onProgress) => {
      const path = locate(file);
      if (!inside(path)) return undefined;
      try {
        const bytes = ownArray(await readFile(path));
        onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength });
        return bytes;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw readError(path, error);
      }
    },
  };
}

/** A view when the Buffer owns its whole ArrayBuffer, else a copy (Buffers may share a pool). */
function ownArray(buffer: Buffer): Uint8Array {
  const whole = buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
  return whole ? new Uint8Array(buffer.buffer, 0, buffer.byteLength) : new Uint8Array(buffer);
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function readError(path: string, error: unknown): LoopsError {
  const reason = error instanceof Error ? error.message : String(error);
  return new LoopsError(`Could not read ${path} (${reason}); check its permissions.`);
}
