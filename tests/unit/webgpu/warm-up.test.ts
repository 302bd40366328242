// Compile up front (src/engine/warm-up.ts): after the warm-up, the first training step at the
// warm-up's shapes creates no new pipeline (and with `sample: true` neither does the first
// sample), and the results are those of a model that never warmed up (checked against the cpu
// backend). On Dawn over SwiftShader.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../../src/engine/model-registry';
import { Run } from '../../../src/engine/run';
import { Sampler } from '../../../src/engine/sampler';
import { warmUp } from '../../../src/engine/warm-up';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../../../src/lora/adapter';
import type { TextTokenizer } from '../../../src/core/tokenizer';
import { parseModelConfig } from '../../../src/model/config';
import { randomWeights } from '../../../src/model/random-weights';
import { ADAM_DEFAULTS } from '../../../src/optim/adamw';
import type { SampleRequest, WireDatum } from '../../../src/protocol/wire-types';
import { webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const CONFIG = parseModelConfig({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 32,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 1,
  vocab_size: 64,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 0,
  eos_token_id: 0,
});
const SHAPE = { batch: 2, seq: 8, rank: 4, prompt: 4 };
const NO_TEXT = { decode: () => '' } as unknown as TextTokenizer;

function loadModel(): LoadedModel {
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of randomWeights(CONFIG, 5, { std: 0.2, normNoise: 0.05, biasStd: 0 }))
    weights.set(name, tf.tensor(t.data, t.shape, 'float32'));
  return {
    name: 'warm-up-test',
    config: CONFIG,
    weights,
    tokenizer: { tokenizerJson: {}, tokenizerConfig: {} },
  };
}

function data(): WireDatum[] {
  return Array.from({ length: SHAPE.batch }, (_, b) => {
    const ids = Array.from({ length: SHAPE.seq + 1 }, (_, i) => 1 + ((b * 17 + i * 5) % 63));
    return {
      tokens: Int32Array.from(ids.slice(0, -1)),
      inputs: { target_tokens: Int32Array.from(ids.slice(1)) },
    };
  });
}

function request(): SampleRequest {
  return {
    samplerId: 's',
    prompt: Int32Array.from([3, 9, 27, 17]),
    numSamples: 1,
    params: { max_tokens: 3, temperature: 0, top_p: 1, top_k: -1, seed: 1, stop: null },
    includePromptLogprobs: false,
    topkPromptLogprobs: 0,
  };
}

/**
 * A training step and a greedy sample, as the engine runs them; everything read back, with the
 * pipelines created during the training part and during the sample.
 */
async function stepAndSample(model: LoadedModel) {
  const lora = {
    rank: SHAPE.rank,
    alpha: DEFAULT_LORA_ALPHA,
    targets: targetsFor(CONFIG, { trainAttn: true, trainMlp: true, trainUnembed: false }),
    seed: 11,
  };
  const run = new Run('r', model, LoraAdapter.create(CONFIG, lora), CONFIG.maxPositions, 11);
  try {
    const training = await countPipelines(async () => {
      const fb = await run.forwardBackward(data(), 'cross_entropy', {}, true);
      const opt = await run.optimStep({ ...ADAM_DEFAULTS, learning_rate: 0.05 });
      const fb2 = await run.forwardBackward(data(), 'cross_entropy', {}, false);
      return { fb, opt, fb2 };
    });
    const { fb, opt, fb2 } = training.result;
    const sampler = new Sampler('s', model, run.adapter.snapshot(), 1, NO_TEXT);
    try {
      const { result: sample, created: samplePipelines } = await countPipelines(() =>
        sampler.sample(request()),
      );
      return {
        trainingPipelines: training.created,
        samplePipelines,
        loss: fb.loss,
        logprobs: fb.logprobs.map((row) => Array.from(row)),
        gradNorm: opt.grad_norm as number,
        lossAfter: fb2.loss,
        tokens: sample.sequences[0]!.tokens,
        tokenLogprobs: sample.sequences[0]!.logprobs,
      };
    } finally {
      sampler.dispose();
    }
  } finally {
    run.dispose();
  }
}

/**
 * Counts pipelines the device creates (TF.js's and ours, sync or async) while `fn` runs; 0 off
 * webgpu (the cpu comparison runs the same code).
 */
async function countPipelines<T>(fn: () => Promise<T>): Promise<{ result: T; created: number }> {
  const backend = webgpuBackend();
  if (!backend) return { result: await fn(), created: 0 };
  const device = backend.device as unknown as Record<string, unknown>;
  const sync = device.createComputePipeline as (d: GPUComputePipelineDescriptor) => unknown;
  const async_ = device.createComputePipelineAsync as (d: GPUComputePipelineDescriptor) => unknown;
  let created = 0;
  device.createComputePipeline = function (this: GPUDevice, d: GPUComputePipelineDescriptor) {
    created++;
    return sync.call(this, d);
  };
  device.createComputePipelineAsync = function (this: GPUDevice, d: GPUComputePipelineDescriptor) {
    created++;
    return async_.call(this, d);
  };
  try {
    return { result: await fn(), created };
  } finally {
    device.createComputePipeline = sync;
    device.createComputePipelineAsync = async_;
  }
}

describe('compile up front (warm-up on webgpu)', () => {
  let model: LoadedModel;
  let afterWarmUp: Awaited<ReturnType<typeof stepAndSample>>;

  beforeAll(async () => {
    await useWebGpuBackend();
    model = loadModel();
  });
  afterAll(async () => {
    for (const t of model.weights.values()) t.dispose();
    await useCpuAgain();
  });

  it('compiles the training pipelines in compile-only mode; the first step then creates none', async () => {
    const warm = await countPipelines(() => warmUp(model, SHAPE));
    console.info(`warm-up: ${warm.created} pipelines in ${warm.result?.ms.toFixed(0)} ms`);
    expect(warm.result?.errors).toEqual([]);
    expect(warm.created).toBeGreaterThan(10);
    expect(tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY')).toBe(false);
    afterWarmUp = await stepAndSample(model);
    expect(afterWarmUp.trainingPipelines).toBe(0);
    // The sampler was not warmed: its first call compiles its own pipelines.
    expect(afterWarmUp.samplePipelines).toBeGreaterThan(0);
    // `sample: true` adds the sampling phase, which must run cleanly in compile-only mode. (Its
    // pipelines exist by now, so what it would have compiled cannot be counted here.)
    const warmSample = await warmUp(model, { ...SHAPE, sample: true });
    expect(warmSample?.errors).toEqual([]);
    expect(tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY')).toBe(false);
  }, 600_000);

  it('leaves the results unchanged: the same step and sample on cpu agree', async () => {
    expect(afterWarmUp).toBeDefined();
    await useCpuAgain();
    const cpuModel = loadModel();
    try {
      expect(await warmUp(cpuModel)).toBeNull(); // nothing to do off webgpu
      const cpu = await stepAndSample(cpuModel);
      const close = (a: number, b: number) =>
        expect(Math.abs(a - b)).toBeLessThan(1e-3 * (1 + Math.abs(b)));
      close(afterWarmUp.loss, cpu.loss);
      close(afterWarmUp.gradNorm, cpu.gradNorm);
      close(afterWarmUp.lossAfter, cpu.lossAfter);
      afterWarmUp.logprobs.flat().forEach((v, i) => close(v, cpu.logprobs.flat()[i]!));
      expect(afterWarmUp.tokens).toEqual(cpu.tokens);
      afterWarmUp.tokenLogprobs.forEach((v, i) => close(v, cpu.tokenLogprobs[i]!));
    } finally {
      for (const t of cpuModel.weights.values()) t.dispose();
      await useWebGpuBackend();
    }
  }, 120_000);
});

describe('ServiceClient gpu_kernels', () => {
  it('accepts true or false and refuses anything else', async () => {
    const { ServiceClient } = await import('../../../src/client/service-client');
    expect(() => new ServiceClient({ engine: 'nowhere', gpu_kernels: 'yes' as never })).toThrow(
      /gpu_kernels is yes; it must be true or false/,
    );
    // A valid value passes validation (the unknown placement is what fails then).
    expect(() => new ServiceClient({ engine: 'nowhere', gpu_kernels: false })).toThrow(
      /engine 'nowhere' is not available/,
    );
  });
});
