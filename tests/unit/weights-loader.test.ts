// The weight loader on tiny configs: files made with writeSafetensors from expectedTensors, so
// every expected value is the value written (exact for F32, and for F16/BF16 on values k/64).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadWeights } from '../../src/io/weights-loader';
import type { LoadProgress, LoadWeightsOptions } from '../../src/io/weights-loader';
import { writeSafetensors } from '../../src/io/safetensors-writer';
import type { TensorToWrite } from '../../src/io/safetensors-writer';
import { parseModelConfig } from '../../src/model/config';
import type { ModelConfig } from '../../src/model/config';
import { expectedTensors } from '../../src/model/weight-names';
import { InvalidFileError, UnsupportedModelError } from '../../src/errors/loops-errors';
import { expectNoLeaks, seededArray, useCpuBackend } from '../helpers/tf-node';

const llama = parseModelConfig({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  num_hidden_layers: 2,
  vocab_size: 16,
  intermediate_size: 12,
});
const gpt2 = parseModelConfig({
  architectures: ['GPT2LMHeadModel'],
  n_embd: 8,
  n_head: 2,
  n_layer: 1,
  vocab_size: 16,
  n_positions: 8,
});

/** One tensor per expected spec, values k/64 (exact in F16 and BF16), seeded by position. */
function weights(config: ModelConfig, dtype: TensorToWrite['dtype'] = 'F32'): TensorToWrite[] {
  return expectedTensors(config).map((spec, i) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from(seededArray(n, 100 + i, 1), (v) => Math.round(v * 64) / 64);
    return { name: spec.name, shape: spec.shape, data, dtype };
  });
}

/** An in-memory checkpoint folder that records what was read. */
function folder(files: Record<string, Uint8Array | string>): {
  options: Pick<LoadWeightsOptions, 'readFile' | 'hasFile'>;
  reads: string[];
} {
  const reads: string[] = [];
  const options = {
    hasFile: (name: string): Promise<boolean> => Promise.resolve(name in files),
    readFile: (name: string): Promise<Uint8Array> => {
      reads.push(name);
      const f = files[name];
      if (f === undefined) return Promise.reject(new Error(`no file ${name}`));
      return Promise.resolve(typeof f === 'string' ? new TextEncoder().encode(f) : f);
    },
  };
  return { options, reads };
}

async function expectValues(
  got: Map<string, tf.Tensor>,
  written: readonly TensorToWrite[],
  rename: (name: string) => string = (n) => n,
): Promise<void> {
  for (const t of written) {
    const tensor = got.get(rename(t.name));
    expect(tensor?.shape, t.name).toEqual(t.shape);
    expect(tensor?.dtype).toBe('float32');
    expect(await tensor!.data(), t.name).toEqual(t.data);
  }
}

const disposeAll = (m: Map<string, tf.Tensor>): void => m.forEach((t) => t.dispose());

describe('loadWeights', () => {
  beforeAll(async () => {
    await useCpuBackend();
  });

  it('loads a single F32 file: every expected tensor, exact values, progress by bytes', async () => {
    const written = weights(llama);
    const { options, reads } = folder({ 'model.safetensors': writeSafetensors(written) });
    const progress: LoadProgress[] = [];
    await expectNoLeaks(async () => {
      const got = await loadWeights({
        config: llama,
        ...options,
        onProgress: (p) => progress.push(p),
      });
      expect([...got.keys()].sort()).toEqual(written.map((t) => t.name).sort());
      await expectValues(got, written);
      disposeAll(got);
    });
    expect(reads).toEqual(['model.safetensors']);
    // Float32 bytes of all tensors: 4 · Σ elements.
    const total = 4 * written.reduce((s, t) => s + t.data.length, 0);
    expect(progress).toHaveLength(written.length);
    expect(progress.at(-1)).toMatchObject({ loaded: total, total });
  });

  it.each(['F16', 'BF16'] as const)('widens a %s file exactly', async (dtype) => {
    const written = weights(llama, dtype);
    const { options } = folder({ 'model.safetensors': writeSafetensors(written) });
    await expectNoLeaks(async () => {
      const got = await loadWeights({ config: llama, ...options });
      await expectValues(got, written);
      disposeAll(got);
    });
  });

  it('GPT-2: drops the transformer. prefix, skips the attn.bias/masked_bias mask buffers and a tied lm_head', async () => {
    // Both buffers are causal masks transformers rebuilds (GPT2Attention registers them); a tied
    // model's lm_head is the embedding (transformers ties it after loading), so a copy in the file
    // is not read.
    const written = weights(gpt2);
    const prefixed = written.map((t) => ({ ...t, name: `transformer.${t.name}` }));
    const extras: TensorToWrite[] = [
      { name: 'transformer.h.0.attn.bias', shape: [1, 1, 8, 8], data: new Float32Array(64) },
      { name: 'transformer.h.0.attn.masked_bias', shape: [], data: Float32Array.of(-1e4) },
      { name: 'lm_head.weight', shape: [16, 8], data: seededArray(128, 9) },
    ];
    const { options } = folder({
      'model.safetensors': writeSafetensors([...prefixed, ...extras]),
    });
    await expectNoLeaks(async () => {
      const got = await loadWeights({ config: gpt2, ...options });
      await expectValues(got, written);
      expect(got.size).toBe(written.length);
      disposeAll(got);
    });
  });

  it('Llama: skips rotary_emb.inv_freq buffers (older checkpoints carry them)', async () => {
    const written = weights(llama);
    const inv = {
      name: 'model.layers.1.self_attn.rotary_emb.inv_freq',
      shape: [2],
      data: Float32Array.of(1, 0.01),
    };
    const { options } = folder({ 'model.safetensors': writeSafetensors([...written, inv]) });
    await expectNoLeaks(async () => {
      const got = await loadWeights({ config: llama, ...options });
      expect(got.size).toBe(written.length);
      disposeAll(got);
    });
  });

  it('a tensor the model would not use is an error naming it, before anything is created', async () => {
    // An o_proj bias in the file while config.json lacks attention_bias: computing without it
    // would give other logits than the checkpoint's authors got.
    const written = weights(llama);
    const extra = {
      name: 'model.layers.0.self_attn.o_proj.bias',
      shape: [8],
      data: new Float32Array(8),
    };
    const { options } = folder({ 'model.safetensors': writeSafetensors([...written, extra]) });
    await expectNoLeaks(async () => {
      const error = await loadWeights({ config: llama, ...options }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedModelError);
      expect((error as Error).message).toMatch(
        /1 tensor.*does not use: model\.layers\.0\.self_attn\.o_proj\.bias.*attention_bias/,
      );
    });
  });

  it('loads a sharded checkpoint across two shard files, in order', async () => {
    const written = weights(llama);
    const half = Math.ceil(written.length / 2);
    const shards = { 'model-00001-of-00002.safetensors': written.slice(0, half) };
    const second = { 'model-00002-of-00002.safetensors': written.slice(half) };
    const weightMap = Object.fromEntries(
      Object.entries({ ...second, ...shards }).flatMap(([file, ts]) =>
        ts.map((t) => [t.name, file]),
      ),
    );
    const { options, reads } = folder({
      'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: weightMap }),
      'model-00001-of-00002.safetensors': writeSafetensors(written.slice(0, half)),
      'model-00002-of-00002.safetensors': writeSafetensors(written.slice(half)),
    });
    await expectNoLeaks(async () => {
      const got = await loadWeights({ config: llama, ...options });
      await expectValues(got, written);
      disposeAll(got);
    });
    expect(reads).toEqual([
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
  });

  it('missing tensors: UnsupportedModelError listing them and the count', async () => {
    const written = weights(llama);
    const kept = written.filter((t) => !/layers\.1\.mlp\.(up|down)_proj/.test(t.name));
    const { options } = folder({ 'model.safetensors': writeSafetensors(kept) });
    const load = loadWeights({ config: llama, ...options });
    await expect(load).rejects.toThrow(UnsupportedModelError);
    await expect(load).rejects.toThrow(
      /lacks 2 of the 21 tensors .*model\.layers\.1\.mlp\.up_proj\.weight, model\.layers\.1\.mlp\.down_proj\.weight\./,
    );
    // 21 = embedding + 2 layers × 9 (two norms, 4 attention, 3 MLP) + final norm + lm_head.
    // More than 10 missing: ten names, then the rest as a count (20 of 21 missing → 10 more).
    const lone = folder({ 'model.safetensors': writeSafetensors(written.slice(0, 1)) });
    await expect(loadWeights({ config: llama, ...lone.options })).rejects.toThrow(
      /lacks 20 of the 21 .*, and 10 more\./,
    );
  });

  it('wrong shape: UnsupportedModelError naming the tensor, its shape and the expected one', async () => {
    // k_proj is [K·D, C] = [1·4, 8]; write it as [8, 8] instead.
    const written = weights(llama).map((t) =>
      t.name === 'model.layers.0.self_attn.k_proj.weight'
        ? { ...t, shape: [8, 8], data: new Float32Array(64) }
        : t,
    );
    const { options } = folder({ 'model.safetensors': writeSafetensors(written) });
    await expectNoLeaks(async () => {
      const load = loadWeights({ config: llama, ...options });
      await expect(load).rejects.toThrow(UnsupportedModelError);
      await expect(load).rejects.toThrow(
        /"model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[8, 8\], but the config implies \[4, 8\]/,
      );
    });
  });

  it('a non-float dtype for a weight is refused with the fix', async () => {
    const file = writeSafetensors(weights(llama));
    // "F32" → "I32" in the header for lm_head.weight (same length, same 4-byte size);
    // '"dtype":"' is 9 characters, so the F is at +9.
    const text = new TextDecoder().decode(file.subarray(0, 200));
    const at = text.indexOf('"dtype":"F32"', text.indexOf('"lm_head.weight"')) + 9;
    file[at] = 'I'.charCodeAt(0);
    const { options } = folder({ 'model.safetensors': file });
    await expect(loadWeights({ config: llama, ...options })).rejects.toThrow(
      /"lm_head\.weight" has dtype I32; weights must be F32, F16 or BF16/,
    );
  });

  it('device limits: names the tensor, its MiB and the limit, before reading any file', async () => {
    const { options, reads } = folder({ 'model.safetensors': writeSafetensors(weights(llama)) });
    // The vocab tables are split into parts that fit (tests/unit/webgpu/vocab-split.test.ts);
    // any other tensor over the limit is refused: gate_proj [12, 8] is 384 bytes = 0.000366 MiB
    // (shown 0.00), over a 300-byte binding.
    const load = loadWeights({
      config: llama,
      ...options,
      limits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 300 },
    });
    await expect(load).rejects.toThrow(UnsupportedModelError);
    await expect(load).rejects.toThrow(
      /"model\.layers\.0\.mlp\.gate_proj\.weight" \[12, 8\] needs 0\.00 MiB .*maxStorageBufferBindingSize of 0\.00 MiB/,
    );
    expect(reads).toEqual([]);
    // A GPT-2 8192 wide: c_attn [8192, 24576] = 805,306,368 bytes = 768 MiB, against WebGPU's
    // default maxStorageBufferBindingSize of 128 MiB (its wte [50257, 8192] would be split).
    const big = parseModelConfig({ ...gpt2Json(), n_embd: 8192, n_head: 64, vocab_size: 50257 });
    await expect(
      loadWeights({
        config: big,
        ...options,
        limits: { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 },
      }),
    ).rejects.toThrow(
      /"h\.0\.attn\.c_attn\.weight" \[8192, 24576\] needs 768\.00 MiB .* of 128\.00 MiB/,
    );
  });

  it('a failure in the second shard disposes the tensors of the first', async () => {
    const written = weights(llama);
    const badLast = written.map((t, i) =>
      i === written.length - 1 ? { ...t, shape: [t.data.length] } : t,
    );
    const first = written.slice(0, 10);
    const rest = badLast.slice(10);
    const weightMap = Object.fromEntries([
      ...first.map((t) => [t.name, 'a.safetensors']),
      ...rest.map((t) => [t.name, 'b.safetensors']),
    ]);
    const { options } = folder({
      'model.safetensors.index.json': JSON.stringify({ weight_map: weightMap }),
      'a.safetensors': writeSafetensors(first),
      'b.safetensors': writeSafetensors(rest),
    });
    let created = 0;
    const before = tf.memory().numTensors;
    const load = loadWeights({ config: llama, ...options, onProgress: () => created++ });
    await expect(load).rejects.toThrow(
      /b\.safetensors: tensor "lm_head\.weight" has shape \[128\]/,
    );
    expect(created).toBe(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an index that disagrees with its shard, and a doubled GPT-2 name, are InvalidFileErrors', async () => {
    const written = weights(llama);
    const lying = folder({
      'model.safetensors.index.json': JSON.stringify({
        weight_map: Object.fromEntries(written.map((t) => [t.name, 'a.safetensors'])),
      }),
      'a.safetensors': writeSafetensors(written.slice(1)),
    });
    await expectNoLeaks(async () => {
      await expect(loadWeights({ config: llama, ...lying.options })).rejects.toThrow(
        /puts tensor "model\.embed_tokens\.weight" in a\.safetensors, but that file has no such/,
      );
    });
    const g = weights(gpt2);
    const doubled = folder({
      'model.safetensors': writeSafetensors([
        ...g,
        { ...g[0]!, name: `transformer.${g[0]!.name}` },
      ]),
    });
    await expect(loadWeights({ config: gpt2, ...doubled.options })).rejects.toThrow(
      InvalidFileError,
    );
  });

  it('no safetensors file at all: UnsupportedModelError with the fix', async () => {
    const { options } = folder({ 'pytorch_model.bin': new Uint8Array(4) });
    await expect(loadWeights({ config: llama, ...options })).rejects.toThrow(
      /neither model\.safetensors nor model\.safetensors\.index\.json.*save_file/,
    );
  });
});

function gpt2Json(): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    n_embd: 8,
    n_head: 2,
    n_layer: 1,
    vocab_size: 16,
    n_positions: 8,
  };
}
