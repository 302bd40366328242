/**
 * Exact conversions between the float formats safetensors files carry (F32, F16, BF16) and
 * float32, on raw bit patterns. Reading and writing files is left to `safetensors.ts` and
 * `safetensors-writer.ts`.
 *
 * Formats (IEEE 754-2008 binary16; bfloat16 is the top half of a binary32):
 * - F16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. e = 0: subnormal, value = ±f · 2^-24;
 *   0 < e < 31: ±2^(e-15) · (1 + f/1024); e = 31: ±Inf (f = 0) or NaN.
 * - BF16: the upper 16 bits of a float32, so widening is `bits << 16` (exact, NaN payload kept).
 * Every F16 and BF16 value is a float32 value, so widening is exact. Narrowing rounds to nearest,
 * ties to even (the IEEE default, and what PyTorch's `.half()` / `.bfloat16()` do); NaN stays a
 * quiet NaN with the sign kept; overflow goes to ±Inf.
 *
 * Typed-array views use the platform byte order; every platform TF.js runs on is little-endian,
 * which is also the safetensors byte order.
 */

/** Every dtype name a safetensors header may use that this reader knows, with its byte size. */
export const DTYPE_BYTES = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
} as const);

export type Dtype = keyof typeof DTYPE_BYTES;

/** The dtypes that load as float weights; the others are accepted in headers only. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

export function isDtype(name: string): name is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, name);
}

export function isFloatDtype(name: string): name is FloatDtype {
  return name === 'F32' || name === 'F16' || name === 'BF16';
}

/** Widens F16 bit patterns to float32, exactly (subnormals, ±0, ±Inf and NaN included). */
export function f16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number;
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // Subnormal or zero: f · 2^-24 is exact in float32 (it needs at most 10 significant bits).
      out[i] = (sign ? -1 : 1) * mant * 2 ** -24;
    } else if (exp === 0x1f) {
      outBits[i] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, or NaN with its payload
    } else {
      // Re-bias the exponent (127 - 15 = 112) and left-align the mantissa (23 - 10 = 13 bits).
      outBits[i] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  return out;
}

/** Widens BF16 bit patterns to float32, exactly. */
export function bf16BitsToFloat32(bits: Uint16Array): Float32Array {
  const outBits = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = ((bits[i] as number) << 16) >>> 0;
  return new Float32Array(outBits.buffer);
}

/** Narrows float32 values to F16 bit patterns, rounding to nearest even. */
export function float32ToF16Bits(values: Float32Array): Uint16Array {
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(inBits[i] as number);
  return out;
}

/** Narrows float32 values to BF16 bit patterns, rounding to nearest even. */
export function float32ToBf16Bits(values: Float32Array): Uint16Array {
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const u = inBits[i] as number;
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) {
      out[i] = (u >>> 16) | 0x40; // NaN: keep sign and top payload, force quiet
    } else {
      // Adding 0x7fff plus the lowest kept bit rounds half to even; a carry into the exponent
      // is the correct next binade (and 0x7f7f.. rounds up to Inf as it should).
      out[i] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

/** One float32 bit pattern to F16 bits, round to nearest even. */
function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  if (exp > 142) return sign | 0x7c00; // |x| ≥ 2^16: beyond the largest finite F16 (65504)
  if (exp >= 113) {
    // Normal in F16 (unbiased exponent -14 … 15): drop 13 mantissa bits, round half to even.
    // A carry out of the mantissa bumps the exponent, and from 0x7bff it gives Inf (0x7c00).
    const h = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? h + 1 : h);
  }
  // Subnormal or zero in F16: the value is m · 2^(exp-150) with m the 24-bit significand, and the
  // F16 unit is 2^-24, so the result is m >> (126 - exp), rounded half to even.
  if (exp < 102) return sign; // below 2^-25 (half the smallest subnormal): rounds to ±0
  const m = mant | 0x800000;
  const shift = 126 - exp; // 14 … 24
  const h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (rest > half || (rest === half && (h & 1) === 1) ? h + 1 : h);
}

/**
 * BF16 bit patterns as pairs in 32-bit words, for frozen weights kept packed on the GPU (WGSL has
 * no 16-bit storage type TF.js can hand it): element 2i in the low half of word i, element 2i + 1
 * in the high half, along the flattened array; an odd count leaves the last high half zero.
 * Unpacking is exact (src/runtime/webgpu/kernels/gemm.ts widens each half in the shader).
 */
export function packBf16Pairs(bits: Uint16Array): Int32Array {
  const words = new Int32Array(Math.ceil(bits.length / 2));
  const halves = new Uint16Array(words.buffer);
  halves.set(bits); // little-endian: element 2i is the low half of word i
  return words;
}

/** The float32 values of bf16 pairs (`packBf16Pairs`), `count` of them. */
export function unpackBf16Pairs(words: Int32Array, count: number): Float32Array {
  return bf16BitsToFloat32(new Uint16Array(words.buffer, words.byteOffset, count));
}
