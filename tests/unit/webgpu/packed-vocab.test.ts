// Vocab tables held as bf16 pairs on webgpu (Dawn over SwiftShader): the gather kernel
// (src/runtime/webgpu/kernels/gather-rows.ts) against a plain-TypeScript reference, exactly, over
// several parts with ids in every one; the chunked target log-probs and their gradients (h, and
// LoRA A and B through hA) from packed parts against the float32 path on the same bf16-rounded
// values; and the tiny models loaded from a BF16 file with packed tables against the same file
// loaded float32: log-probs, LoRA gradients and decode logits. Shapes are tiny (SwiftShader).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBf16Bits, packBf16Pairs } from '../../../src/io/dtype';
import { writeSafetensors } from '../../../src/io/safetensors-writer';
import { loadWeights } from '../../../src/io/weights-loader';
import { CausalLM } from '../../../src/model/causal-lm';
import { parseModelConfig } from '../../../src/model/config';
import { LmDecoder } from '../../../src/model/lm-decoder';
import { targetLogprobs } from '../../../src/model/target-logprobs';
import { partName, vocabTableNames } from '../../../src/model/weight-parts';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { gatherBf16Rows } from '../../../src/runtime/webgpu/kernels/gather-rows';
import { withGpuKernels } from '../../../src/runtime/webgpu-kernels';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { TINY_CONFIGS, tinyWeights, vocabLoraAdapter } from '../../helpers/tiny-models';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/** Values rounded to bf16 (so a packed copy holds exactly them). */
const toBf16 = (x: Float32Array) => bf16BitsToFloat32(float32ToBf16Bits(x));

/** A [rows, width] table (bf16 values) in parts of `perPart` rows: float32 and packed copies. */
function tableParts(rows: number, width: number, perPart: number, seed: number) {
  const values = toBf16(seededArray(rows * width, seed, 2));
  const f32: tf.Tensor2D[] = [];
  const packed: tf.Tensor2D[] = [];
  const starts: number[] = [];
  for (let s = 0; s < rows; s += perPart) {
    const n = Math.min(perPart, rows - s);
    const slice = values.subarray(s * width, (s + n) * width);
    f32.push(tf.tensor2d(slice, [n, width]));
    packed.push(tf.tensor2d(packBf16Pairs(float32ToBf16Bits(slice)), [n, width / 2], 'int32'));
    starts.push(s);
  }
  return { values, f32, packed, starts };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('vocab tables as bf16 pairs (Dawn)', () => {
  beforeAll(useWebGpuBackend, 120_000);
  afterAll(useCpuAgain);

  // Widths 16 (vec4 variant: 8 bf16 per load) and 6 (one word per invocation); 21 rows in parts
  // of 8, 8 and 5; ids in every part, at both ends of each, and two outside [0, 21) (zero rows).
  for (const width of [16, 6]) {
    it(`gather, width ${width}: exact against the plain-TS reference, one dispatch per part`, async () => {
      const rows = 21;
      const { values, packed, starts } = tableParts(rows, width, 8, width);
      const ids = [
        [0, 7, 8, 15, 16],
        [20, 3, 21, -1, 11],
      ];
      await expectNoLeaks(async () => {
        const idT = tf.tensor2d(ids, [2, 5], 'int32');
        const { result: out, work } = await countGpuWork(() =>
          Promise.resolve(gatherBf16Rows(idT, packed, starts, width)),
        );
        expect(out.shape).toEqual([2, 5, width]);
        expect(work.dispatches).toBe(3);
        const want = new Float32Array(10 * width);
        ids.flat().forEach((id, n) => {
          if (id >= 0 && id < rows)
            want.set(values.subarray(id * width, (id + 1) * width), n * width);
        });
        expect(Array.from(await out.data())).toEqual(Array.from(want));
        tf.dispose([idT, out]);
      });
      tf.dispose(packed);
    }, 60_000);
  }

  it('target log-probs and gradients (h, LoRA A and B): our kernels on packed and float32 parts = stock ops', async () => {
    // h [7, 16], W [21, 16] in parts of 8 (3 parts), LoRA r 2 with B ≠ 0, chunks of 3 rows (so
    // chunks and parts both cut); target −100 ignored.
    const [N, C, V, R] = [7, 16, 21, 2];
    const { f32, packed } = tableParts(V, C, 8, 5);
    const h = tf.tensor2d(seededArray(N * C, 6, 1), [N, C]);
    const a = tf.tensor2d(seededArray(R * C, 7, 0.5), [R, C]);
    const b = tf.tensor2d(seededArray(V * R, 8, 0.5), [V, R]);
    const targets = tf.tensor1d([3, 20, -100, 8, 15, 0, 9], 'int32');
    const g = tf.tensor1d([0.5, -1.2, 0.9, 1.0, 0.7, -0.4, 1.1]);
    const run = (parts: tf.Tensor2D[]) =>
      tf.tidy(() => {
        const f = (hh: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor) => {
          const hA = tf.mul(tf.matMul(hh as tf.Tensor2D, aa as tf.Tensor2D, false, true), 2);
          const lp = targetLogprobs(
            hh as tf.Tensor2D,
            parts,
            targets,
            { hA: hA as tf.Tensor2D, b: bb as tf.Tensor2D },
            { chunkRows: 3, trainWeight: false },
          );
          return tf.sum(tf.mul(lp, g));
        };
        const { value, grads } = tf.valueAndGrads(f)([h, a, b]);
        return [value, ...grads];
      });
    const before = tf.memory().numTensors;
    // The stock ops on float32 parts (today's path) against our kernels on packed and on float32
    // parts (the row logsumexp and in-place gradient kernels run for both).
    const want = await withGpuKernels(false, () => run(f32));
    const got = { packed: run(packed), f32: run(f32) };
    const names = ['loss', 'dh', 'dA', 'dB'];
    for (let i = 0; i < want.length; i++) {
      const x = await want[i]!.data();
      for (const [kind, ys] of Object.entries(got)) {
        expect(maxAbsDiff(x, await ys[i]!.data()), `${kind} ${names[i]}`).toBeLessThan(1e-5);
      }
      expect(Math.max(...Array.from(x, Math.abs)), `${names[i]} not all zero`).toBeGreaterThan(
        1e-3,
      );
    }
    tf.dispose([...want, ...got.packed, ...got.f32]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h, a, b, targets, g, ...f32, ...packed]);
  }, 120_000);

  it('full-parameter training of a packed unembedding is refused', () => {
    const { packed } = tableParts(4, 8, 8, 1);
    const h = tf.zeros<tf.Rank.R2>([1, 8]);
    const t = tf.tensor1d([1], 'int32');
    expect(() => targetLogprobs(h, packed, t, null, { chunkRows: 4, trainWeight: true })).toThrow(
      /bf16 pairs \(frozen\) and cannot be trained/,
    );
    tf.dispose([h, t, ...packed]);
  });

  // A BF16 file loaded twice: tables float32 (packProjections false) and packed ('bf16'), with a
  // limit of 8192 bytes a buffer: qwen3 (V 150, C 32, untied; 128 bytes a float32 row, 64
  // packed) splits float32 into 64 + 64 + 22 rows, packed into 128 + 22; llama tied (V 300, C 16;
  // 64 and 32 bytes a row) into 128 + 128 + 44 and 256 + 44.
  const CASES = [
    { name: 'qwen3 untied', json: { ...TINY_CONFIGS.qwen3, vocab_size: 150 }, parts: [3, 2] },
    { name: 'llama tied', json: { ...TINY_CONFIGS.llamaTied, vocab_size: 300 }, parts: [3, 2] },
    // No limit that splits: whole tables (the one-part path of the LoRA-fused logits).
    {
      name: 'llama untied, whole tables',
      json: { ...TINY_CONFIGS.llamaGqa, vocab_size: 100 },
      parts: [1, 1],
      binding: 2 ** 20,
    },
  ] as const;
  const tokens = [3, 47, 5, 99, 62, 41, 1];
  const targets = [47, 5, -100, 62, 41, 1, 88];
  const weightsOfLoss = [0.5, -1.2, 0.9, 1.0, 0.7, -0.4, 1.1];

  for (const c of CASES) {
    it(`${c.name}: packed tables give the float32 tables' log-probs, LoRA gradients and decode logits`, async () => {
      const config = parseModelConfig(c.json);
      const written = [...tinyWeights(c.json, 5)].map(([name, t]) => ({
        name,
        shape: t.shape,
        data: t.data,
        dtype: 'BF16' as const,
      }));
      const file = writeSafetensors(written);
      const load = (pack: false | 'bf16') =>
        loadWeights({
          config,
          hasFile: (n) => Promise.resolve(n === 'model.safetensors'),
          readFile: () => Promise.resolve(file),
          limits: {
            maxBufferSize: 2 ** 20,
            maxStorageBufferBindingSize: 'binding' in c ? c.binding : 8192,
          },
          packProjections: pack,
        });
      const [f32, packed] = [await load(false), await load('bf16')];
      const count = (m: Map<string, tf.Tensor>, name: string) =>
        m.has(name) ? 1 : [0, 1, 2, 3, 4, 5].filter((i) => m.has(partName(name, i))).length;
      for (const name of vocabTableNames(config)) {
        expect([count(f32, name), count(packed, name)], name).toEqual([...c.parts]);
        const first = packed.get(name) ?? packed.get(partName(name, 0))!;
        expect(first.dtype).toBe('int32');
        expect(first.shape[1]).toBe(config.hiddenSize / 2);
      }
      const adapter = vocabLoraAdapter(config);
      const [ma, mb] = [new CausalLM(config, f32, adapter), new CausalLM(config, packed, adapter)];
      const loss = (m: CausalLM) => () =>
        tf.tidy(() => {
          const lp = m.targetLogprobs(
            tf.tensor2d([tokens], undefined, 'int32'),
            tf.tensor2d([targets], undefined, 'int32'),
          );
          return tf.sum(tf.mul(lp, tf.tensor2d([weightsOfLoss]))) as tf.Scalar;
        });
      const ga = tf.variableGrads(loss(ma), adapter.variables);
      const gb = tf.variableGrads(loss(mb), adapter.variables);
      expect(Math.abs((await ga.value.data())[0]! - (await gb.value.data())[0]!)).toBeLessThan(
        1e-5,
      );
      for (const v of adapter.variables) {
        const [x, y] = [await ga.grads[v.name]!.data(), await gb.grads[v.name]!.data()];
        expect(maxAbsDiff(x, y), v.name).toBeLessThan(1e-5);
      }
      if (c.parts[1] === 1) {
        // One packed part with a LoRA on lm_head: scale·h·Aᵀ, then h·Wᵀ + hA·Bᵀ: two GEMMs.
        const rows = tf.ones<tf.Rank.R2>([2, config.hiddenSize]);
        const { result, work } = await countGpuWork(() => Promise.resolve(mb.logits(rows)));
        expect(work.dispatches).toBe(2);
        expect(Object.keys(work.stock)).toEqual([]);
        tf.dispose([rows, result]);
      }
      const [da, db] = [new LmDecoder(ma), new LmDecoder(mb)];
      const [pa, pb] = [await da.prefill(tokens, 1), await db.prefill(tokens, 1)];
      expect(maxAbsDiff(pa.lastLogits, pb.lastLogits)).toBeLessThan(1e-5);
      pa.session.dispose();
      pb.session.dispose();
      // Our kernels switched off after a packed load: parts widened per call, same numbers.
      const gc = await withGpuKernels(false, () => tf.variableGrads(loss(mb), adapter.variables));
      expect(Math.abs((await ga.value.data())[0]! - (await gc.value.data())[0]!)).toBeLessThan(
        1e-5,
      );
      tf.dispose([ga.value, gb.value, gc.value, ...Object.values(ga.grads)]);
      tf.dispose([...Object.values(gb.grads), ...Object.values(gc.grads)]);
      tf.dispose([...f32.values(), ...packed.values()]);
      adapter.dispose();
    }, 300_000);
  }
});
