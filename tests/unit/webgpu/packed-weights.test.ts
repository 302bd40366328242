// Frozen projection weights kept as bf16 pairs on webgpu (Dawn): which tensors the loader packs
// (the vocab tables too: tests/unit/webgpu/packed-vocab.test.ts),
// that BF16 values stay exact and F32 ones round to nearest even on request, that the GPU bytes of
// the projection weights halve, and that the model computes the same log-probs from them.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32ToBf16Bits } from '../../../src/io/dtype';
import { writeSafetensors, type TensorToWrite } from '../../../src/io/safetensors-writer';
import { loadWeights, type LoadWeightsOptions } from '../../../src/io/weights-loader';
import { CausalLM } from '../../../src/model/causal-lm';
import type { ModelConfig } from '../../../src/model/config';
import { layerProjections } from '../../../src/model/weight-names';
import { vocabTableNames } from '../../../src/model/weight-parts';
import { bufferOf, webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { relativeError } from '../../helpers/model-fixtures';
import { tinyModel, type TinyModelName } from '../../helpers/tiny-models';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

/** The tiny model's weights as one safetensors file stored as `dtype`. */
function checkpoint(name: TinyModelName, dtype: TensorToWrite['dtype']) {
  const { config, weights } = tinyModel(name);
  const tensors = [...weights].map(([n, t]) => ({ name: n, shape: t.shape, data: t.data, dtype }));
  const bytes = writeSafetensors(tensors);
  const files: LoadWeightsOptions = {
    config,
    hasFile: (f) => Promise.resolve(f === 'model.safetensors'),
    readFile: () => Promise.resolve(bytes),
  };
  return { config, weights, files };
}

function projectionNames(config: ModelConfig): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < config.numLayers; i++) {
    for (const p of layerProjections(config, i)) names.add(`${p.path}.weight`);
  }
  return names;
}

/**
 * GPU bytes of these tensors once uploaded: the sizes of the buffers the backend gives them (not
 * a difference of `memory().numBytesInGPU`, which buffers released meanwhile by earlier tests'
 * disposals would lower).
 */
function gpuBytes(tensors: Iterable<tf.Tensor>): number {
  const backend = webgpuBackend()!;
  let bytes = 0;
  for (const t of tensors) bytes += bufferOf(backend, t).size;
  return bytes;
}

const tokens = [[3, 17, 5, 9, 22, 1]];
const targets = [[17, 5, 30, 22, 1, 7]];

async function logprobs(
  config: ModelConfig,
  weights: Map<string, tf.Tensor>,
): Promise<Float32Array> {
  const model = new CausalLM(config, weights);
  const lp = tf.tidy(() =>
    model.targetLogprobs(
      tf.tensor2d(tokens, undefined, 'int32'),
      tf.tensor2d(targets, undefined, 'int32'),
    ),
  );
  const out = (await lp.data()) as Float32Array;
  lp.dispose();
  return out;
}

const disposeAll = (m: Map<string, tf.Tensor>) => tf.dispose([...m.values()]);

describe('bf16-packed frozen weights (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  for (const name of ['llamaGqa', 'gpt2'] as const) {
    it(`${name}: a BF16 checkpoint's projections and vocab tables load packed, exactly; the rest float32`, async () => {
      const { config, weights, files } = checkpoint(name, 'BF16');
      const projections = projectionNames(config);
      const tables = new Set(vocabTableNames(config));
      const loaded = await loadWeights({ ...files, packProjections: 'bf16' });
      for (const [key, t] of loaded) {
        const src = weights.get(key)!;
        if (tables.has(key)) {
          // [V, C / 2] words: a row is whole words (C even).
          expect(t.dtype, key).toBe('int32');
          expect(t.shape, key).toEqual([src.shape[0], src.shape[1]! / 2]);
          const bits = new Uint16Array(((await t.data()) as Int32Array).buffer);
          expect(Array.from(bits), key).toEqual(Array.from(float32ToBf16Bits(src.data)));
          continue;
        }
        if (!projections.has(key)) {
          expect(t.dtype, key).toBe('float32');
          continue;
        }
        expect(t.dtype, key).toBe('int32');
        expect(t.shape, key).toEqual([Math.ceil(src.data.length / 2)]);
        const bits = new Uint16Array(((await t.data()) as Int32Array).buffer, 0, src.data.length);
        expect(Array.from(bits), key).toEqual(Array.from(float32ToBf16Bits(src.data)));
      }
      disposeAll(loaded);
    });
  }

  it('an F32 checkpoint stays float32 unless asked, then rounds to nearest even', async () => {
    const { config, weights, files } = checkpoint('llamaGqa', 'F32');
    const plain = await loadWeights({ ...files, packProjections: 'bf16' });
    expect([...plain.values()].every((t) => t.dtype === 'float32')).toBe(true);
    disposeAll(plain);
    const packed = await loadWeights({ ...files, packProjections: 'all' });
    const key = [...projectionNames(config)][0]!;
    const t = packed.get(key)!;
    const src = weights.get(key)!.data;
    const bits = new Uint16Array(((await t.data()) as Int32Array).buffer, 0, src.length);
    expect(Array.from(bits)).toEqual(Array.from(float32ToBf16Bits(src)));
    disposeAll(packed);
  });

  it('halves the GPU bytes of the projection weights and gives the same log-probs', async () => {
    const { config, files } = checkpoint('llamaGqa', 'BF16');
    const projections = projectionNames(config);
    const f32 = await loadWeights({ ...files, packProjections: false });
    const packed = await loadWeights({ ...files, packProjections: 'bf16' });
    const pick = (m: Map<string, tf.Tensor>, proj: boolean) =>
      [...m].filter(([k]) => projections.has(k) === proj).map(([, t]) => t);
    const bytes = {
      f32: gpuBytes(pick(f32, true)),
      packed: gpuBytes(pick(packed, true)),
      other: gpuBytes(pick(f32, false)),
      numBytesF32: pick(f32, true).reduce((s, t) => s + 4 * t.size, 0),
    };
    // Every tiny projection has an even element count: exactly half.
    expect(bytes.packed).toBe(bytes.f32 / 2);
    expect(bytes.f32).toBe(bytes.numBytesF32);
    console.log(
      `llamaGqa projection weights on the GPU: float32 ${bytes.f32} B, bf16 pairs ${bytes.packed} B ` +
        `(other weights ${bytes.other} B float32 in both)`,
    );
    const want = await logprobs(config, f32);
    const got = await logprobs(config, packed);
    expect(relativeError(got, want)).toBeLessThan(1e-5);
    disposeAll(f32);
    disposeAll(packed);
  });
});
