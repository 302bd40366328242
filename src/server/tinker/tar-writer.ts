/**
 * Writes a checkpoint's files as a gzipped tar, the archive Tinker's `.../archive` route hands out
 * (read back by src/client/remote/tar.ts). POSIX ustar: a 512-byte header per file (name, mode,
 * sizes in octal, checksum = byte sum of the header with the checksum field as spaces), the bytes
 * padded to 512, two zero blocks at the end.
 */
import { gzipSync } from 'fflate';

const BLOCK = 512;
const encoder = new TextEncoder();

function put(header: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > length) throw new Error(`tar field too long: ${text}`);
  header.set(bytes, offset);
}

const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  put(h, 0, 100, name);
  put(h, 100, 8, octal(0o644, 8));
  put(h, 108, 8, octal(0, 8));
  put(h, 116, 8, octal(0, 8));
  put(h, 124, 12, octal(size, 12));
  put(h, 136, 12, octal(Math.floor(mtime / 1000), 12));
  h.fill(0x20, 148, 156); // checksum counted as spaces
  h[156] = 0x30; // '0': regular file
  put(h, 257, 6, 'ustar\0');
  put(h, 263, 2, '00');
  const sum = h.reduce((a, b) => a + b, 0);
  put(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** `files` as a .tar.gz, in the given order. */
export function tarGz(
  files: readonly { name: string; bytes: Uint8Array }[],
  mtime = Date.now(),
): Uint8Array {
  const size = files.reduce(
    (n, f) => n + BLOCK + Math.ceil(f.bytes.length / BLOCK) * BLOCK,
    2 * BLOCK,
  );
  const tar = new Uint8Array(size);
  let at = 0;
  for (const f of files) {
    tar.set(header(f.name, f.bytes.length, mtime), at);
    tar.set(f.bytes, at + BLOCK);
    at += BLOCK + Math.ceil(f.bytes.length / BLOCK) * BLOCK;
  }
  return gzipSync(tar);
}
