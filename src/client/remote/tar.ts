/**
 * Reads the files out of a checkpoint archive (a gzipped tar, as Tinker's
 * `GET /api/v1/training_runs/{run}/checkpoints/{id}/archive` hands out). Only what such archives
 * hold is supported: regular files (POSIX ustar / GNU headers), directories skipped. Format: 512-byte
 * headers (name at 0, size as octal at 124, type flag at 156, ustar prefix at 345), each file's
 * bytes padded to 512, two zero blocks at the end (POSIX.1-1988, "ustar Interchange Format").
 */
import { gunzipSync } from 'fflate';

export interface TarFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(header: Uint8Array, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
}

/** The regular files of a `.tar` or `.tar.gz` archive, names without a leading `./`. */
export function readTar(archive: Uint8Array): TarFile[] {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files: TarFile[] = [];
  for (let at = 0; at + BLOCK <= tar.length;) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(field(header, 124, 12).trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0 || at + BLOCK + size > tar.length)
      throw new Error(`the archive is damaged: an entry at byte ${at} runs past its end`);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
    const name = (prefix ? `${prefix}/` : '') + field(header, 0, 100);
    if (type === '0' || type === '\0')
      files.push({
        name: name.replace(/^\.\//, ''),
        bytes: tar.slice(at + BLOCK, at + BLOCK + size),
      });
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}
