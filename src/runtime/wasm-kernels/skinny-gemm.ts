/**
 * C = A·Bᵀ for an A of a few rows (decoding: one row per sequence) and a large shared B, as a
 * WebAssembly SIMD kernel of our own that runs on the TF.js wasm heap.
 *
 * Decoding multiplies one token's activations by every weight matrix, W stored [out, in] as in
 * Hugging Face files: y = x·Wᵀ, a matrix-vector product whose cost is reading W once. XNNPACK's
 * fully-connected kernels tile 8 output columns and the package reaches them only for A·B, so the
 * engine ran these as (W·xᵀ)ᵀ (batch-mat-mul.ts, 'swap'), where XNNPACK computes 8 columns for
 * the 1 needed. This kernel reads each row of W once and dots it with every row of A:
 *
 *   for i < N step 4: for r < M: C[r, i..i+3] = Σ_j A[r, j] · W[i..i+3, j]   (j in f32x4 steps)
 *
 * summed in a different order than XNNPACK's, so results agree to float32 rounding. The module
 * (about 200 bytes, encoded below; opcodes from the WebAssembly core and SIMD specifications)
 * imports the TF.js module's own memory, so it reads tensors where they are: `memory` exported by
 * the single-threaded builds, `wasmMemory` (shared) in the threaded one. It needs wasm SIMD, and
 * K and N multiples of 4; `skinnyGemm` says when it cannot run, and the caller falls back.
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Rows of A up to which the engine routes A·Bᵀ here: decoding 1 to 8 sequences. Measured on
 * SmolLM2-135M decode products against XNNPACK's swapped product (npm run bench:decode): per
 * token 4.2× faster at 1 row, 1.6–2.8× at 2 and 4, 1.05–1.7× at 8 (two runs on a loaded machine).
 */
export const SKINNY_MAX_ROWS = 8;

type Gemm = (a: number, w: number, y: number, m: number, n: number, k: number) => void;

const instances = new WeakMap<object, Gemm | null>();

/**
 * C[M, N] = A[M, K]·W[N, K]ᵀ into `out` (all float32 wasm tensors, row-major); false when this
 * backend cannot run the kernel (no SIMD; K or N not a multiple of 4) and nothing was written.
 */
export function skinnyGemm(
  backend: BackendWasm,
  a: tf.TensorInfo,
  w: tf.TensorInfo,
  out: tf.TensorInfo,
  m: number,
  n: number,
  k: number,
): boolean {
  if (k % 4 !== 0 || n % 4 !== 0 || m < 1 || n < 1 || k < 4) return false;
  const gemm = kernelFor(backend);
  if (!gemm) return false;
  gemm(offset(backend, a), offset(backend, w), offset(backend, out), m, n, k);
  return true;
}

function offset(backend: BackendWasm, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

/** The kernel instantiated on this backend's memory (once), or null when it cannot be. */
function kernelFor(backend: BackendWasm): Gemm | null {
  const module = backend.wasm as unknown as {
    asm?: { memory?: WebAssembly.Memory };
    wasmMemory?: WebAssembly.Memory;
  };
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (!memory) return null;
  if (!instances.has(memory)) instances.set(memory, instantiate(memory));
  return instances.get(memory) ?? null;
}

function instantiate(memory: WebAssembly.Memory): Gemm | null {
  const shared =
    typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = moduleBytes(shared);
  if (!WebAssembly.validate(bytes)) return null; // no wasm SIMD here
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    return instance.exports['gemm'] as Gemm;
  } catch (error) {
    // Valid bytes that do not instantiate (a policy without 'wasm-unsafe-eval', a memory this
    // import does not match): decoding still works, on XNNPACK, more slowly. Say so once.
    console.warn(`skinny-gemm: running decode products on XNNPACK instead (${String(error)})`);
    return null;
  }
}

// --- the module's bytes ----------------------------------------------------------------------

const I32 = 0x7f;
const V128 = 0x7b;
// Locals: params a, w, y, m, n, k (0–5); then i32 i, r, kBytes, pa, aEnd, p0–p3, yAt (6–15);
// then v128 x, acc0–acc3 (16–20).
const [A, W, Y, M, N, K, I, R, KB, PA, AEND] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
const P = [11, 12, 13, 14] as const;
const YAT = 15;
const X = 16;
const ACC = [17, 18, 19, 20] as const;

const get = (local: number) => [0x20, local];
const set = (local: number) => [0x21, local];
const tee = (local: number) => [0x22, local];
const i32 = (value: number) => [0x41, ...sleb(value)];
const ADD = 0x6a;
const MUL = 0x6c;
const SHL = 0x74;
const LT_U = 0x49;
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const LOAD = simd(0x00, 0, 0); // v128.load align 1, offset 0
const ZERO = simd(0x0c, ...new Array(16).fill(0)); // v128.const 0
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const lane = (index: number) => simd(0x1f, index); // f32x4.extract_lane
const F32_ADD = 0x92;
const F32_STORE = [0x38, 2, 0]; // align 4, offset 0
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];
/** `local += step; br_if 0 (local < bound)`: the end of a do-while loop. */
const next = (local: number, step: number[], bound: number[]) => [
  ...get(local),
  ...step,
  ADD,
  ...tee(local),
  ...bound,
  LT_U,
  0x0d,
  0,
];
const addTo = (local: number, amount: number[]) => [...get(local), ...amount, ADD, ...set(local)];

type Q = 0 | 1 | 2 | 3;

/** acc_q += W[p_q] · x, and p_q += 16 bytes. */
const fma = (q: Q) => [
  ...get(ACC[q]),
  ...get(P[q]),
  ...LOAD,
  ...get(X),
  ...F32X4_MUL,
  ...F32X4_ADD,
  ...set(ACC[q]),
  ...addTo(P[q], i32(16)),
];

/** C[r, i + q] ← the four lanes of acc_q, summed; yAt is C[r, i]'s address. */
const store = (q: Q) => [
  ...get(YAT), ...i32(4 * q), ADD,
  ...get(ACC[q]), ...lane(0),
  ...get(ACC[q]), ...lane(1), F32_ADD,
  ...get(ACC[q]), ...lane(2), F32_ADD,
  ...get(ACC[q]), ...lane(3), F32_ADD,
  ...F32_STORE,
]; // prettier-ignore

// For each block of 4 rows of W (i), for each row of A (r): four dot products over K at once,
// each row of A loaded once per block and each block of W read from cache for every row of A.
const BODY = [
  ...get(K), ...i32(2), SHL, ...set(KB),
  ...i32(0), ...set(I),
  ...loop([
    ...i32(0), ...set(R),
    ...loop([
      ...get(A), ...get(R), ...get(KB), MUL, ADD, ...tee(PA), ...get(KB), ADD, ...set(AEND),
      ...get(W), ...get(I), ...get(KB), MUL, ADD, ...set(P[0]),
      ...get(P[0]), ...get(KB), ADD, ...set(P[1]),
      ...get(P[1]), ...get(KB), ADD, ...set(P[2]),
      ...get(P[2]), ...get(KB), ADD, ...set(P[3]),
      ...ACC.flatMap((acc) => [...ZERO, ...set(acc)]),
      ...loop([
        ...get(PA), ...LOAD, ...set(X),
        ...fma(0), ...fma(1), ...fma(2), ...fma(3),
        ...next(PA, i32(16), get(AEND)),
      ]),
      ...get(Y), ...get(R), ...get(N), MUL, ...get(I), ADD, ...i32(2), SHL, ADD, ...set(YAT),
      ...store(0), ...store(1), ...store(2), ...store(3),
      ...next(R, i32(1), get(M)),
    ]),
    ...next(I, i32(4), get(N)),
  ]),
  0x0b,
]; // prettier-ignore

function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const memoryLimits = shared ? [0x03, 1, ...uleb(65536)] : [0x00, 1];
  const type = [0x01, 0x60, 6, I32, I32, I32, I32, I32, I32, 0];
  const imports = [0x01, ...name('env'), ...name('memory'), 0x02, ...memoryLimits];
  const exports = [0x01, ...name('gemm'), 0x00, 0];
  const locals = [2, 10, I32, 5, V128];
  const code = [0x01, ...vector([...locals, ...BODY])];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, type),
    ...section(2, imports),
    ...section(3, [0x01, 0]),
    ...section(7, exports),
    ...section(10, code),
  ]);
}

function section(id: number, content: number[]): number[] {
  return [id, ...vector(content)];
}

function vector(content: number[]): number[] {
  return [...uleb(content.length), ...content];
}

function name(text: string): number[] {
  return vector([...new TextEncoder().encode(text)]);
}

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}
