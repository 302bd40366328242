// The engine checks what it is sent on its own, before it computes anything: a placement that
// does not go through the page's call-time validation (a remote server, a hand-written worker
// client) gets the same ValidationError, never a gather that reads out of range (webgpu's reads
// 0 and trains on it; the cpu backend throws an untyped Error deep in a kernel).
import { beforeAll, describe, expect, it } from 'vitest';
import 'fake-indexeddb/auto';
import { ValidationError } from '../../src/index';
import { createNodeEngine } from '../../src/engine/node-engine';
import type { Engine } from '../../src/engine/engine';
import type { WireDatum } from '../../src/protocol/wire-types';
import { FIXTURE_CONFIG, FIXTURE_MODEL, writeFixtureModels } from '../helpers/fixture-model-dir';

const V = FIXTURE_CONFIG.vocab_size;
const datum = (targets: number[]): WireDatum => ({
  tokens: Int32Array.from([5, 6, 7]),
  inputs: { target_tokens: Int32Array.from(targets) },
});

describe('engine-side guards', () => {
  let engine: Engine;
  let runId: string;
  beforeAll(async () => {
    engine = createNodeEngine({ modelsDir: writeFixtureModels() });
    await engine.init('cpu', { storageNamespace: 'guards' } as never);
    const info = await engine.createRun({
      baseModel: FIXTURE_MODEL,
      rank: 2,
      seed: 1,
      trainMlp: true,
      trainAttn: true,
      trainUnembed: true,
      loraAlpha: null,
      maxSeqLen: null,
      hubUrl: '',
      fromState: null,
    });
    runId = info.runId;
  });

  it.each([
    [[6, 7, V], 2, V],
    [[6, -1, 8], 1, -1],
    [[6, 7, 1e6], 2, 1e6],
  ])(
    'target_tokens %j: ValidationError naming position %i, nothing accumulated',
    async (targets, at, bad) => {
      const error = await engine
        .forwardBackward(runId, [datum([6, 7, 8]), datum(targets)], 'cross_entropy', {}, true)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toBe(
        `Datum 1: target_tokens[${at}] = ${bad} is outside the vocabulary [0, ${V}); use -100 to ignore a position.`,
      );
      const step = await engine.optimStep(runId, {
        learning_rate: 1e-3,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-12,
        weight_decay: 0,
        grad_clip_norm: 0,
      });
      expect(step.grad_norm).toBe(0); // the failed op added nothing to the gradient buffer
    },
  );

  it('-100 ignores a position', async () => {
    const out = await engine.forwardBackward(
      runId,
      [datum([-100, 7, 8])],
      'cross_entropy',
      {},
      false,
    );
    expect(Math.abs(out.logprobs[0]![0]!)).toBe(0);
  });

  it('compute_logprobs refuses a prompt token outside the vocabulary', async () => {
    const sampler = await engine.createSampler({
      kind: 'base',
      baseModel: FIXTURE_MODEL,
      hubUrl: '',
    });
    await expect(engine.computeLogprobs(sampler.samplerId, Int32Array.of(3, V))).rejects.toThrow(
      ValidationError,
    );
    await engine.closeSampler(sampler.samplerId);
  });
});
