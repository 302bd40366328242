/**
 * Reading safetensors files: the header, one tensor at a time as float32, and the index of a
 * sharded checkpoint. Writing is in `safetensors-writer.ts`; turning tensors into model weights
 * (names, shapes, limits) is `weights-loader.ts`.
 *
 * Layout (shared/reference/models-and-formats.md §2.1, from the huggingface/safetensors README):
 * bytes 0–7 hold N, a little-endian u64; bytes 8 … 8+N a UTF-8 JSON object
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`; then the
 * data, row-major little-endian, with offsets relative to byte 8+N.
 *
 * The file is untrusted. Every check runs on numbers from the header before anything is allocated,
 * so no allocation exceeds the file's own size: N must fit in the file and stay under the reference
 * reader's 100 MB cap; each tensor's element count must fit in the file before it is multiplied
 * by the dtype size; and, as the reference reader requires, the tensors must tile the data section
 * with no overlap and no gap. Failures are `InvalidFileError`s naming the file, the tensor and a fix.
 */
import { InvalidFileError, UnsupportedModelError } from '../errors/loops-errors';
import type { Dtype } from './dtype';
import { bf16BitsToFloat32, DTYPE_BYTES, f16BitsToFloat32, isDtype, isFloatDtype } from './dtype';

/** The reference reader's cap on the JSON header (safetensors `MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Absolute byte offsets in the file (`dataOffset` + `data_offsets`), end exclusive. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** In data order (ascending `begin`). */
  readonly tensors: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the data section starts: 8 + N. */
  readonly dataOffset: number;
}

const FIX = 're-download or re-export the file (safetensors.torch.save_file writes valid files)';

/**
 * Parses and validates the header of a safetensors file held in `bytes`. `fileSize` is the whole
 * file's size when `bytes` holds only its start (for example a `Blob.slice()` of the header); by
 * default `bytes` is the whole file.
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array | ArrayBuffer,
  fileName = 'model.safetensors',
  fileSize?: number,
): SafetensorsHeader {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const size = Math.max(fileSize ?? 0, view.byteLength);
  const bad = (what: string): InvalidFileError =>
    new InvalidFileError(`${fileName}: ${what}; ${FIX}.`);
  if (view.byteLength < 8) {
    throw bad(`the file has ${view.byteLength} bytes, fewer than the 8-byte header length`);
  }
  const claimed = new DataView(view.buffer, view.byteOffset, 8).getBigUint64(0, true);
  if (claimed > BigInt(MAX_HEADER_BYTES)) {
    throw bad(`the header claims ${claimed} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerBytes = Number(claimed);
  if (8 + headerBytes > view.byteLength) {
    throw bad(
      `the header claims ${headerBytes} bytes but only ${view.byteLength - 8} follow the length ` +
        `field (is the file truncated, or not a safetensors file?)`,
    );
  }
  const json = decodeHeaderJson(view.subarray(8, 8 + headerBytes), bad);
  const dataOffset = 8 + headerBytes;
  const dataBytes = size - dataOffset;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(raw, bad);
    else tensors.push(parseEntry(name, raw, dataOffset, dataBytes, bad));
  }
  checkTiling(tensors, dataOffset, dataBytes, bad);
  return { tensors, metadata, dataOffset };
}

/**
 * Reads one tensor as float32, exactly (F16/BF16 widened), into a fresh array the caller owns (it
 * never aliases `bytes`, so the file can be dropped). Works at any byte offset.
 */
export function readTensorAsFloat32(
  bytes: Uint8Array | ArrayBuffer,
  entry: SafetensorsEntry,
  fileName = 'model.safetensors',
): Float32Array {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (!isFloatDtype(entry.dtype)) {
    throw new UnsupportedModelError(
      `${fileName}: tensor "${entry.name}" has dtype ${entry.dtype}; weights must be F32, F16 or ` +
        `BF16. Convert the checkpoint to a float dtype (for example model.to(torch.float32)).`,
    );
  }
  const size = DTYPE_BYTES[entry.dtype];
  const count = elementCount(entry.shape);
  if (entry.begin < 0 || entry.end > view.byteLength || entry.end - entry.begin !== count * size) {
    throw new InvalidFileError(
      `${fileName}: tensor "${entry.name}" at bytes [${entry.begin}, ${entry.end}) does not fit ` +
        `the ${view.byteLength}-byte buffer given; pass the same bytes the header was parsed from.`,
    );
  }
  // A copy of just this tensor's bytes into a fresh (hence aligned) buffer: views need
  // byteOffset % elementSize === 0, which files from other writers do not promise. Copied with
  // `set`, not `slice`: Node's Buffer (a Uint8Array, what readFileSync returns) overrides `slice`
  // to return a view sharing the file's memory, and `own.buffer` would then be the whole file.
  const own = new Uint8Array(entry.end - entry.begin);
  own.set(view.subarray(entry.begin, entry.end));
  if (entry.dtype === 'F32') return new Float32Array(own.buffer, 0, count);
  const half = new Uint16Array(own.buffer, 0, count);
  return entry.dtype === 'F16' ? f16BitsToFloat32(half) : bf16BitsToFloat32(half);
}

/**
 * Parses `model.safetensors.index.json` (a string or the parsed object): returns shard file name →
 * the tensor names it holds, shards in file-name order.
 */
export function parseShardIndex(
  json: unknown,
  fileName = 'model.safetensors.index.json',
): Map<string, string[]> {
  const bad = (what: string): InvalidFileError =>
    new InvalidFileError(`${fileName}: ${what}; re-download the checkpoint's index file.`);
  let raw = json;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (e) {
      throw bad(`it is not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isPlainObject(raw)) throw bad('it is not a JSON object');
  const weightMap = raw.weight_map;
  if (!isPlainObject(weightMap)) throw bad('it has no "weight_map" object');
  const shards = new Map<string, string[]>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string') {
      throw bad(`weight_map["${tensor}"] is ${JSON.stringify(file)}, not a file name`);
    }
    if (!/^[^/\\]+\.safetensors$/.test(file) || file.startsWith('.')) {
      throw bad(
        `weight_map["${tensor}"] names "${file}", which is not a plain *.safetensors file name ` +
          `next to the index (no folders, no leading dot)`,
      );
    }
    const names = shards.get(file) ?? [];
    names.push(tensor);
    shards.set(file, names);
  }
  if (shards.size === 0) throw bad('its weight_map is empty');
  return new Map([...shards.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Product of a shape's dimensions (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

type Bad = (what: string) => InvalidFileError;

function decodeHeaderJson(bytes: Uint8Array, bad: Bad): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw bad('the header is not a JSON object');
  return json;
}

function parseMetadata(raw: unknown, bad: Bad): Record<string, string> {
  if (!isPlainObject(raw)) throw bad('"__metadata__" is not an object of strings');
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') {
      throw bad(`"__metadata__"."${key}" is ${JSON.stringify(value)}, not a string`);
    }
  }
  return raw as Record<string, string>;
}

function parseEntry(
  name: string,
  raw: unknown,
  dataOffset: number,
  dataBytes: number,
  bad: Bad,
): SafetensorsEntry {
  const at = `tensor "${name}"`;
  if (!isPlainObject(raw)) throw bad(`${at} is ${JSON.stringify(raw)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !isDtype(dtype)) {
    throw bad(
      `${at} has dtype ${JSON.stringify(dtype)}; this reader knows ` +
        `${Object.keys(DTYPE_BYTES).join(', ')} (convert the weights to F32, F16 or BF16)`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(`${at} has shape ${JSON.stringify(shape)}; it must be a list of integers ≥ 0`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad(`${at} has data_offsets ${JSON.stringify(offsets)}; it must be [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) {
    throw bad(
      `${at} has data_offsets [${begin}, ${end}], outside the ${dataBytes}-byte data section`,
    );
  }
  // Compare the count with the file before multiplying by the dtype size, so a giant shape is
  // caught here and never reaches an allocation (past 2^53 the product is inexact but still huge).
  const count = elementCount(shape as number[]);
  if (count > dataBytes) {
    throw bad(
      `${at} has shape [${shape.join(', ')}] (${count} elements), more than the whole ` +
        `${dataBytes}-byte data section could hold`,
    );
  }
  const bytes = count * DTYPE_BYTES[dtype];
  if (end - begin !== bytes) {
    throw bad(
      `${at} has shape [${shape.join(', ')}] of ${dtype} (${bytes} bytes) but data_offsets ` +
        `[${begin}, ${end}] span ${end - begin} bytes`,
    );
  }
  return {
    name,
    dtype,
    shape: shape as number[],
    begin: dataOffset + begin,
    end: dataOffset + end,
  };
}

/** The tensors must cover the data section exactly, in some order, without overlap or gap. */
function checkTiling(
  tensors: SafetensorsEntry[],
  dataOffset: number,
  dataBytes: number,
  bad: Bad,
): void {
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataOffset;
  let previous = '(start of data)';
  for (const t of tensors) {
    if (t.begin < cursor) {
      throw bad(
        `tensor "${t.name}" starts at data byte ${t.begin - dataOffset}, inside "${previous}" ` +
          `(which ends at ${cursor - dataOffset}); tensors must not overlap`,
      );
    }
    if (t.begin > cursor) {
      throw bad(
        `the data bytes [${cursor - dataOffset}, ${t.begin - dataOffset}) before tensor ` +
          `"${t.name}" belong to no tensor; tensors must tile the data section`,
      );
    }
    cursor = t.end;
    previous = t.name;
  }
  if (cursor !== dataOffset + dataBytes) {
    throw bad(
      `the tensors end at data byte ${cursor - dataOffset} but the data section has ` +
        `${dataBytes} bytes; the file has trailing bytes that belong to no tensor`,
    );
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
