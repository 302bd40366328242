// safetensors reader/writer and the F16/BF16 conversions. Expected bit patterns are derived by
// hand from IEEE 754 binary16 / bfloat16 (comments beside each); file bytes from the layout in
// shared/reference/models-and-formats.md §2.1.
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  bf16BitsToFloat32,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
} from '../../src/io/dtype';
import {
  parseSafetensorsHeader,
  parseShardIndex,
  readTensorAsFloat32,
} from '../../src/io/safetensors';
import { writeSafetensors } from '../../src/io/safetensors-writer';
import {
  InvalidFileError,
  UnsupportedModelError,
  ValidationError,
} from '../../src/errors/loops-errors';
import { seededArray } from '../helpers/seeded';

const f16 = (...bits: number[]): number[] => [...f16BitsToFloat32(Uint16Array.from(bits))];
const bf16 = (...bits: number[]): number[] => [...bf16BitsToFloat32(Uint16Array.from(bits))];
const toF16 = (...xs: number[]): number[] => [...float32ToF16Bits(Float32Array.from(xs))];
const toBf16 = (...xs: number[]): number[] => [...float32ToBf16Bits(Float32Array.from(xs))];

/** The plain-arithmetic F16 decode of §2.2, independent of the bit-twiddling under test. */
function f16Reference(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A file from a header (object or raw text) and data bytes, with no padding: for odd layouts. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === 'string' ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A file whose u64 length field says `claimed`, followed by `rest` bytes of `{`. */
function lengthClaim(claimed: bigint, rest: number): Uint8Array {
  const out = new Uint8Array(8 + rest).fill(0x7b, 8);
  new DataView(out.buffer).setBigUint64(0, claimed, true);
  return out;
}

describe('dtype conversions', () => {
  it('widens F16 bit patterns exactly', () => {
    // 0x3C00: e=15, f=0 → 2^0 = 1. 0xC000: sign, e=16 → -2. 0x7BFF: (2 - 2^-10)·2^15 = 65504.
    // 0x0001: subnormal 1·2^-24. 0x03FF: 1023·2^-24. 0x0400: smallest normal 2^-14.
    // 0x3555: e=13, f=341 → 2^-2·(1 + 341/1024) = 0.333251953125.
    expect(f16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555)).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      0.333251953125,
    ]);
    // 0x7C00 / 0xFC00: e=31, f=0 → ±Inf; 0x7E00: f≠0 → NaN; 0x8000: -0.
    const [inf, negInf, nan, negZero] = f16(0x7c00, 0xfc00, 0x7e00, 0x8000);
    expect([inf, negInf]).toEqual([Infinity, -Infinity]);
    expect(nan).toBeNaN();
    expect(Object.is(negZero, -0)).toBe(true);
  });

  it('agrees with the arithmetic F16 decode on all 65536 patterns', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = f16BitsToFloat32(all);
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) if (!Object.is(got[h], f16Reference(h))) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('widens BF16 bit patterns exactly', () => {
    // BF16 is the top half of a float32: 0x3F80 → 0x3F800000 = 1; 0xC040 → 0xC0400000 = -3;
    // 0x4049 → 0x40490000 = 2·(1 + 0x49/128) = 3.140625; 0x0001 → 0x00010000 = 2^16·2^-149 = 2^-133.
    expect(bf16(0x3f80, 0xc040, 0x4049, 0x0001)).toEqual([1, -3, 3.140625, 2 ** -133]);
    const [inf, negInf, nan, negZero] = bf16(0x7f80, 0xff80, 0x7fc0, 0x8000);
    expect([inf, negInf]).toEqual([Infinity, -Infinity]);
    expect(nan).toBeNaN();
    expect(Object.is(negZero, -0)).toBe(true);
  });

  it('narrows to F16 with round-half-to-even, subnormals, overflow and NaN', () => {
    // 1 + 2^-11 is halfway between 1 (0x3C00, even) and 1 + 2^-10 (0x3C01): → 0x3C00.
    // 1 + 3·2^-11 is halfway between 0x3C01 (odd) and 0x3C02: → 0x3C02.
    // 65519 < 65520 = halfway between 65504 (0x7BFF) and 2^16: → 0x7BFF; 65520 ties to even → Inf.
    // 2^-25 ties between 0 and 2^-24: → 0; 1.5·2^-25 → 0x0001; 3·2^-25 = 1.5 units ties → 0x0002.
    expect(toF16(1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, -1e6)).toEqual([
      0x3c00, 0x3c02, 0x7bff, 0x7c00, 0xfc00,
    ]);
    expect(toF16(2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -25, 1e-10, -0, NaN)).toEqual([
      0x0000, 0x0001, 0x0002, 0x0000, 0x8000, 0x7e00,
    ]);
  });

  it('narrows to BF16 with round-half-to-even, overflow and NaN', () => {
    // BF16 keeps 7 mantissa bits: 1 + 2^-8 ties between 0x3F80 (even) and 0x3F81 → 0x3F80;
    // 1 + 3·2^-8 ties between 0x3F81 and 0x3F82 → 0x3F82; 1 + 2^-8 + 2^-20 is above half → 0x3F81.
    // The largest float32 (2 - 2^-23)·2^127 is above (2 - 2^-8)·2^127, halfway to 2^128 → Inf.
    const maxF32 = (2 - 2 ** -23) * 2 ** 127;
    expect(toBf16(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, maxF32, -0)).toEqual([
      0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x8000,
    ]);
    expect(toBf16(NaN)[0]! & 0x7fc0).toBe(0x7fc0);
  });

  it('round-trips every non-NaN F16 and BF16 pattern', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const isNaN16 = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    const isNaNB = (h: number): boolean => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
    const backF16 = float32ToF16Bits(f16BitsToFloat32(all));
    const backBf16 = float32ToBf16Bits(bf16BitsToFloat32(all));
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      if (!isNaN16(h) && backF16[h] !== h) bad++;
      if (!isNaNB(h) && backBf16[h] !== h) bad++;
      if (isNaN16(h) && !isNaN16(backF16[h]!)) bad++;
      if (isNaNB(h) && !isNaNB(backBf16[h]!)) bad++;
    }
    expect(bad).toBe(0);
  });

  it('rounds to the nearest F16 and BF16 value (checked against both neighbours)', () => {
    // Values across many binades, F16 subnormals included: x = u · 2^k.
    const u = seededArray(4000, 7, 2);
    const xs = Float32Array.from(u, (v, i) => v * 2 ** ((i % 44) - 28));
    const cases = [
      { enc: float32ToF16Bits, dec: f16BitsToFloat32, top: 0x7c00 },
      { enc: float32ToBf16Bits, dec: bf16BitsToFloat32, top: 0x7f80 },
    ];
    for (const { enc, dec, top } of cases) {
      const h = enc(xs);
      let worse = 0;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        const own = h[i]!;
        const mag = own & 0x7fff;
        const neighbours = [mag - 1, mag + 1].filter((m) => m >= 0 && m < top);
        const err = Math.abs(x - dec(Uint16Array.of(own))[0]!);
        for (const m of neighbours) {
          const other = Math.abs(x - dec(Uint16Array.of((own & 0x8000) | m))[0]!);
          if (other < err || (other === err && (mag & 1) === 1)) worse++;
        }
      }
      expect(worse).toBe(0);
    }
  });
});

describe('writeSafetensors / readTensorAsFloat32', () => {
  it('writes the exact bytes of the reference layout', () => {
    const file = writeSafetensors([{ name: 'a', shape: [2], data: Float32Array.of(1, -2) }]);
    const json =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    // 85 bytes of JSON, padded with 3 spaces to 88 (a multiple of 8).
    expect(json.length).toBe(85);
    const expected = new Uint8Array(8 + 88 + 8);
    expected[0] = 88;
    expected.set(new TextEncoder().encode(json + '   '), 8);
    // 1.0 = 0x3F800000 and -2.0 = 0xC0000000, little-endian.
    expected.set([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0], 96);
    expect([...file]).toEqual([...expected]);
  });

  it('round-trips F32, F16 and BF16 with exact values', () => {
    const data = seededArray(24, 3, 1);
    // k/64 with |k| ≤ 32 needs ≤ 6 significant bits: exact in F16 and BF16 as well.
    const coarse = Float32Array.from(data, (v) => Math.round(v * 64) / 64);
    const file = writeSafetensors([
      { name: 'w32', shape: [4, 6], data },
      { name: 'w16', shape: [2, 3, 4], data: coarse, dtype: 'F16' },
      { name: 'wb16', shape: [24], data: coarse, dtype: 'BF16' },
      { name: 'scalar', shape: [], data: Float32Array.of(65504), dtype: 'F16' },
    ]);
    const header = parseSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.dataOffset % 8).toBe(0);
    // Descending dtype size, then name: the F32 tensor first, so it stays 4-byte aligned.
    expect(header.tensors.map((t) => [t.name, t.dtype])).toEqual([
      ['w32', 'F32'],
      ['scalar', 'F16'],
      ['w16', 'F16'],
      ['wb16', 'BF16'],
    ]);
    const get = (name: string): Float32Array =>
      readTensorAsFloat32(
        file,
        header.tensors.find((t) => t.name === name)!,
      );
    expect(get('w32')).toEqual(data);
    expect(get('w16')).toEqual(coarse);
    expect(get('wb16')).toEqual(coarse);
    expect([...get('scalar')]).toEqual([65504]);
    expect(header.tensors[2]!.shape).toEqual([2, 3, 4]);
  });

  it('stores F16 1.0 as 0x3C00 and BF16 1.0 as 0x3F80 (little-endian bytes)', () => {
    const file = writeSafetensors([
      { name: 'h', shape: [1], data: Float32Array.of(1), dtype: 'F16' },
      { name: 'b', shape: [1], data: Float32Array.of(1), dtype: 'BF16' },
    ]);
    const { dataOffset } = parseSafetensorsHeader(file);
    // Same size: by name, "b" then "h".
    expect([...file.subarray(dataOffset)]).toEqual([0x80, 0x3f, 0x00, 0x3c]);
  });

  it('reads tensors at unaligned offsets, from a Uint8Array at an odd byteOffset', () => {
    // A 1-byte U8 tensor first puts the F32 at data byte 1, and the F16 at data byte 9.
    const data = new Uint8Array(13);
    data[0] = 7;
    const dv = new DataView(data.buffer);
    dv.setFloat32(1, 1.5, true);
    dv.setFloat32(5, -0.25, true);
    dv.setUint16(9, 0x3c00, true); // F16 1.0
    dv.setUint16(11, 0x0001, true); // F16 2^-24
    const file = rawFile(
      {
        u: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
        f: { dtype: 'F32', shape: [2], data_offsets: [1, 9] },
        h: { dtype: 'F16', shape: [2], data_offsets: [9, 13] },
      },
      data,
    );
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    const view = host.subarray(3);
    const header = parseSafetensorsHeader(view);
    const [u, f, h] = header.tensors;
    expect([...readTensorAsFloat32(view, f!)]).toEqual([1.5, -0.25]);
    expect([...readTensorAsFloat32(view.slice().buffer, h!)]).toEqual([1, 2 ** -24]);
    expect(() => readTensorAsFloat32(view, u!)).toThrow(UnsupportedModelError);
    expect(() => readTensorAsFloat32(view, u!)).toThrow(/dtype U8.*F32, F16 or BF16/);
  });

  it('rejects bad input to the writer', () => {
    const data = Float32Array.of(1, 2, 3);
    expect(() => writeSafetensors([{ name: 'a', shape: [2, 2], data }])).toThrow(ValidationError);
    expect(() =>
      writeSafetensors([
        { name: 'a', shape: [3], data },
        { name: 'a', shape: [3], data },
      ]),
    ).toThrow(/repeated/);
  });
});

describe('readTensorAsFloat32 on a Node Buffer', () => {
  // Regression: readFileSync gives a Buffer, whose `slice` is a view sharing the file's memory,
  // not a copy; reading from that view's `.buffer` at 0 returned the header's bytes as weights
  // for every tensor (bench/qwen3-0.6b.ts: NaN loss at 28 layers, cpu and webgpu alike).
  it("reads each tensor's own bytes from a Buffer and from a view at an odd offset", () => {
    const w32 = seededArray(12, 5, 1);
    const coarse = Float32Array.from(seededArray(10, 6, 1), (v) => Math.round(v * 64) / 64);
    const file = writeSafetensors([
      { name: 'w32', shape: [3, 4], data: w32 },
      { name: 'w16', shape: [10], data: coarse, dtype: 'F16' },
      { name: 'wb16', shape: [2, 5], data: coarse, dtype: 'BF16' },
    ]);
    const header = parseSafetensorsHeader(file);
    const want = { w32: [...w32], w16: [...coarse], wb16: [...coarse] };
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    const sources = [Buffer.from(file), padded.subarray(3), Buffer.from(padded.buffer, 3)];
    for (const bytes of sources) {
      for (const entry of header.tensors) {
        const got = readTensorAsFloat32(bytes, entry);
        expect([...got]).toEqual(want[entry.name as keyof typeof want]);
      }
    }
  });
});

describe('parseSafetensorsHeader on hostile files', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const tensor = (dtype: unknown, shape: unknown, offsets: unknown): unknown => ({
    dtype,
    shape,
    data_offsets: offsets,
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ['fewer than 8 bytes', new Uint8Array(5), /5 bytes, fewer than the 8-byte/],
    ['header past the end', lengthClaim(1000n, 500), /claims 1000 bytes but only 500/],
    ['invalid JSON', rawFile('{"a": '), /not valid JSON/],
    ['invalid UTF-8', rawFile('{"\xff"}').map((b) => (b === 0xc3 ? 0xff : b)), /UTF-8/],
    ['a JSON array', rawFile([1, 2]), /not a JSON object/],
    ['a non-object entry', rawFile({ w: 5 }), /tensor "w" is 5, not an object/],
    ['an unknown dtype', rawFile({ w: tensor('Q4', [1], [0, 1]) }), /"w" has dtype "Q4"/],
    ['F64 (not read here)', rawFile({ w: tensor('F64', [1], [0, 8]) }), /"w" has dtype "F64"/],
    ['a negative dim', rawFile({ w: tensor('F32', [-1], [0, 4]) }), /"w" has shape \[-1\]/],
    ['a fractional dim', rawFile({ w: tensor('F32', [1.5], [0, 4]) }), /"w" has shape/],
    ['a string dim', rawFile({ w: tensor('F32', ['1'], [0, 4]) }), /"w" has shape/],
    ['offsets not a pair', rawFile({ w: tensor('F32', [1], [0]) }), /"w" has data_offsets/],
    ['end before begin', rawFile({ w: tensor('F32', [0], [4, 0]) }), /"w".*outside/],
    [
      'offsets past the data',
      rawFile({ w: tensor('F32', [2], [0, 8]) }, new Uint8Array(4)),
      /"w" has data_offsets \[0, 8\], outside the 4-byte/,
    ],
    [
      'size ≠ end − begin',
      rawFile({ w: tensor('F16', [3], [0, 8]) }, new Uint8Array(8)),
      /"w" has shape \[3\] of F16 \(6 bytes\) but data_offsets \[0, 8\] span 8/,
    ],
    [
      'a giant shape',
      rawFile({ w: tensor('F32', [1e9, 1e9], [0, 8]) }, new Uint8Array(8)),
      /"w" has shape \[1000000000, 1000000000\].*more than the whole 8-byte/,
    ],
    [
      'overlapping tensors',
      rawFile({ a: tensor('F32', [2], [0, 8]), b: tensor('F32', [1], [4, 8]) }, new Uint8Array(8)),
      /"b" starts at data byte 4, inside "a".*must not overlap/,
    ],
    [
      'a gap between tensors',
      rawFile(
        { a: tensor('F32', [1], [0, 4]), b: tensor('F32', [1], [8, 12]) },
        new Uint8Array(12),
      ),
      /\[4, 8\) before tensor "b" belong to no tensor/,
    ],
    [
      'trailing bytes',
      rawFile({ a: tensor('F32', [1], [0, 4]) }, new Uint8Array(6)),
      /end at data byte 4 but the data section has 6/,
    ],
    [
      'non-string metadata',
      rawFile({ __metadata__: { format: 1 } }),
      /"__metadata__"."format" is 1, not a string/,
    ],
  ];

  it.each(cases)('%s → InvalidFileError naming the file and the problem', (_, file, message) => {
    const call = (): unknown => parseSafetensorsHeader(file, 'x.safetensors');
    expect(call).toThrow(InvalidFileError);
    expect(call).toThrow(message);
    expect(call).toThrow(/^x\.safetensors: .*re-download or re-export/);
  });

  it('rejects absurd header lengths without decoding or allocating them', () => {
    const decode = vi.spyOn(TextDecoder.prototype, 'decode');
    // 100 MB claimed in a 1 KB file; 100 MB + 1 (over the reference cap); 2^64 - 1.
    const claims = [100_000_000n, 100_000_001n, 2n ** 64n - 1n];
    const start = performance.now();
    for (const claimed of claims) {
      expect(() => parseSafetensorsHeader(lengthClaim(claimed, 1016))).toThrow(InvalidFileError);
    }
    expect(() => parseSafetensorsHeader(lengthClaim(2n ** 64n - 1n, 0))).toThrow(
      /over the 100000000-byte limit/,
    );
    expect(decode).not.toHaveBeenCalled();
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('accepts integer dtypes, empty and 0-d tensors in the header', () => {
    const file = rawFile(
      {
        __metadata__: { format: 'pt' },
        i: tensor('I64', [1], [0, 8]),
        e: tensor('F32', [0, 5], [8, 8]),
        s: tensor('BF16', [], [8, 10]),
      },
      new Uint8Array(10),
    );
    const header = parseSafetensorsHeader(file);
    expect(header.tensors.map((t) => [t.name, t.begin - header.dataOffset])).toEqual([
      ['i', 0],
      ['e', 8],
      ['s', 8],
    ]);
    expect(readTensorAsFloat32(file, header.tensors[1]!).length).toBe(0);
  });
});

describe('parseShardIndex', () => {
  it('maps each shard file to its tensors, shards in name order', () => {
    const index = JSON.stringify({
      metadata: { total_size: 100 },
      weight_map: {
        'a.weight': 'model-00002-of-00002.safetensors',
        'b.weight': 'model-00001-of-00002.safetensors',
        'c.weight': 'model-00002-of-00002.safetensors',
      },
    });
    expect([...parseShardIndex(index)]).toEqual([
      ['model-00001-of-00002.safetensors', ['b.weight']],
      ['model-00002-of-00002.safetensors', ['a.weight', 'c.weight']],
    ]);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no weight_map', { metadata: {} }, /no "weight_map"/],
    ['an empty weight_map', { weight_map: {} }, /weight_map is empty/],
    ['a non-string file', { weight_map: { w: 3 } }, /weight_map\["w"\] is 3/],
    ['a path outside', { weight_map: { w: '../x.safetensors' } }, /"\.\.\/x\.safetensors"/],
    ['another format', { weight_map: { w: 'pytorch_model.bin' } }, /not a plain \*\.safetensors/],
  ])('%s → InvalidFileError', (_, json, message) => {
    expect(() => parseShardIndex(json, 'idx.json')).toThrow(InvalidFileError);
    expect(() => parseShardIndex(json, 'idx.json')).toThrow(message);
  });
});
