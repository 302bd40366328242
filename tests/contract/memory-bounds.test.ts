// Bad input gets a clear error before anything is allocated: a request whose memory estimate
// (src/engine/memory-budget.ts) does not fit the engine's budget is a ValidationError naming the
// figures, the limit and the fix, and the engine holds no more tensors than before it.
// The engine here has a budget of 8 MiB (the fixture model's weights are ≈ 0.9 MiB).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Datum,
  ModelInput,
  SamplingParams,
  ServiceClient,
  ValidationError,
  inProcessLink,
  registerPlacement,
} from '../../src/index';
import { createNodeEngine } from '../../src/engine/node-engine';
import {
  samplingBytes,
  topkPromptBytes,
  trainingStepBytes,
  weightBytes,
} from '../../src/engine/memory-budget';
import { parseModelConfig } from '../../src/model/config';
import { FIXTURE_CONFIG, FIXTURE_MODEL, writeFixtureModels } from '../helpers/fixture-model-dir';

const BUDGET = 8 * 2 ** 20;
const dir = writeFixtureModels();
registerPlacement('small-budget', () =>
  inProcessLink(createNodeEngine({ modelsDir: dir, memoryBudgetBytes: BUDGET })),
);
const config = parseModelConfig(FIXTURE_CONFIG); // L 2, C 32, F 64, H 4, K 2, D 8, V 4096, 128 positions

describe('memory estimates (fixture model)', () => {
  it('sampling: the KV cache, one layer’s copy, a step’s logits and the prompt’s forward', () => {
    // Per layer K and V [1024, 2, 128, 8]: 2·1024·2·128·8 = 4 194 304 elements; 2 layers + one
    // copy = 12 582 912; logits [1024, 4096] = 4 194 304; total 16 777 216 elements = 64 MiB.
    // Prompt of 4: scores 4·4·4 = 64 (three of them), mask 16, a block 4·(10·32 + 4·64) = 2304:
    // 2512 elements. Bytes: 4·(16 777 216 + 2512) = 67 118 912.
    expect(samplingBytes(config, 1024, 4, 128).bytes).toBe(67_118_912);
  });

  it('a training step: saved block inputs, one group’s block and attention scores', () => {
    // 256 × 128 tokens: inputs 2·256·128·32 = 2 097 152; groups of ⌊256/128⌋ = 2 sequences:
    // block 2·128·(320 + 256) = 147 456, scores 2·4·128·128 = 131 072, counted 4× = 524 288.
    // Bytes: 4·(2 097 152 + 147 456 + 524 288) = 11 075 584.
    expect(trainingStepBytes(config, 256, 128).bytes).toBe(11_075_584);
  });

  it('topk_prompt_logprobs: (T − 1)·k pairs of 64 bytes; k beyond V counts V', () => {
    expect(topkPromptBytes(config, 100, 4096).bytes).toBe(99 * 4096 * 64);
    expect(topkPromptBytes(config, 100, 10 ** 9).bytes).toBe(99 * 4096 * 64);
  });

  it('the weights: every expected tensor in float32', () => {
    // Tied: embed 4096·32; per layer 2 norms (32), q 32·32, k and v 16·32 each, o 32·32,
    // gate and up 64·32, down 32·64; final norm 32.
    const layer = 2 * 32 + 32 * 32 + 2 * 16 * 32 + 32 * 32 + 3 * 64 * 32;
    expect(weightBytes(config)).toBe(4 * (4096 * 32 + 2 * layer + 32));
  });
});

describe('requests over the budget are refused before anything is allocated', () => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: 'small-budget',
      backend: 'cpu',
      storage_namespace: 'mem',
    });
  });
  afterAll(() => service.close());

  async function refused(run: () => PromiseLike<unknown>, pattern: RegExp): Promise<void> {
    const before = tf.memory().numTensors;
    const error = await Promise.resolve()
      .then(run)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).toMatch(/memory budget of 8\.0 MiB/);
    expect(tf.memory().numTensors).toBe(before);
  }

  it('num_samples × KV cache', async () => {
    const sc = await service.create_sampling_client(FIXTURE_MODEL);
    await refused(
      () =>
        sc.sample(
          ModelInput.from_ints([5, 6, 7, 8]),
          1024,
          new SamplingParams({ max_tokens: 100 }),
        ),
      /1024 samples × 103 positions.*use fewer num_samples or a smaller max_tokens/,
    );
    // The same sampler still samples what fits.
    const ok = await sc.sample(
      ModelInput.from_ints([5, 6, 7, 8]),
      2,
      new SamplingParams({ max_tokens: 3 }),
    );
    expect(ok.sequences).toHaveLength(2);
    await sc.close();
  });

  it('topk_prompt_logprobs', async () => {
    const sc = await service.create_sampling_client(FIXTURE_MODEL);
    const prompt = ModelInput.from_ints(Array.from({ length: 100 }, (_, i) => 5 + i));
    await refused(
      () => sc.sample(prompt, 1, new SamplingParams({ max_tokens: 1 }), false, 4096),
      /topk_prompt_logprobs 4096 over 100 prompt tokens.*ask for fewer topk_prompt_logprobs/,
    );
    await sc.close();
  });

  it('prompt length × batch in forward_backward', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 1);
    const tokens = Array.from({ length: 128 }, (_, i) => 5 + i);
    const datum = new Datum({
      model_input: ModelInput.from_ints(tokens),
      loss_fn_inputs: { target_tokens: tokens },
    });
    await refused(
      () => tc.forward_backward(new Array(256).fill(datum)),
      /256 × 128 tokens.*fewer or shorter Datums/,
    );
    expect((await tc.optim_step({ learning_rate: 1e-3 })).metrics.grad_norm).toBe(0);
    await tc.close();
  });
});
