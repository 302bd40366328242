/**
 * Writing safetensors files from float32 arrays, stored as F32, F16 or BF16. Used for adapter
 * exports and test fixtures; reading is `safetensors.ts`.
 *
 * Layout as the reference writer makes it (shared/reference/models-and-formats.md §2.1): tensors
 * ordered by descending dtype size, then by name, so every F32 tensor stays 4-byte aligned; the
 * JSON header lists `__metadata__` first, then the tensors in data order, and is padded with
 * spaces to a multiple of 8 bytes; `__metadata__` defaults to `{"format": "pt"}`, which several
 * transformers versions require. F16 and BF16 round to nearest even (`dtype.ts`).
 */
import { ValidationError } from '../errors/loops-errors';
import type { FloatDtype } from './dtype';
import { DTYPE_BYTES, float32ToBf16Bits, float32ToF16Bits } from './dtype';
import { elementCount } from './safetensors';

export interface TensorToWrite {
  readonly name: string;
  readonly shape: readonly number[];
  /** Row-major values; length = product of `shape`. */
  readonly data: Float32Array;
  /** Stored dtype; F32 by default. */
  readonly dtype?: FloatDtype;
}

/** Serialises tensors into the bytes of one safetensors file. */
export function writeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): Uint8Array {
  checkTensors(tensors);
  const ordered = [...tensors].sort(
    (a, b) =>
      DTYPE_BYTES[b.dtype ?? 'F32'] - DTYPE_BYTES[a.dtype ?? 'F32'] ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const parts: string[] = [`"__metadata__":${JSON.stringify(metadata)}`];
  let offset = 0;
  for (const t of ordered) {
    const dtype = t.dtype ?? 'F32';
    const end = offset + t.data.length * DTYPE_BYTES[dtype];
    const entry = { dtype, shape: t.shape, data_offsets: [offset, end] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(entry)}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerBytes + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes);
  let cursor = 8 + headerBytes;
  for (const t of ordered) {
    const bytes = storedBytes(t);
    out.set(bytes, cursor);
    cursor += bytes.length;
  }
  return out;
}

function storedBytes(t: TensorToWrite): Uint8Array {
  const dtype = t.dtype ?? 'F32';
  if (dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const half = dtype === 'F16' ? float32ToF16Bits(t.data) : float32ToBf16Bits(t.data);
  return new Uint8Array(half.buffer);
}

function checkTensors(tensors: readonly TensorToWrite[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '' || t.name === '__metadata__' || seen.has(t.name)) {
      throw new ValidationError(
        `writeSafetensors: tensor name ${JSON.stringify(t.name)} is empty, reserved or repeated; ` +
          `give each tensor its own name.`,
      );
    }
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ValidationError(
        `writeSafetensors: tensor "${t.name}" has shape ${JSON.stringify(t.shape)}; ` +
          `dimensions must be integers ≥ 0.`,
      );
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new ValidationError(
        `writeSafetensors: tensor "${t.name}" has shape [${t.shape.join(', ')}] ` +
          `(${elementCount(t.shape)} elements) but ${t.data.length} values; they must match.`,
      );
    }
    const dtype: string = t.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
      throw new ValidationError(
        `writeSafetensors: tensor "${t.name}" asks for dtype ${dtype}; use F32, F16 or BF16.`,
      );
    }
  }
}
