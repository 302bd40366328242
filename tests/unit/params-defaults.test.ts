// One source of defaults for AdamParams and SamplingParams (src/core): the page's classes and the
// engine's resolvers read the same frozen objects, whose values are the Loops/Tinker defaults of
// shared/LOOPS_API.md ("AdamParams": 1e-4, 0.9, 0.95, 1e-12, 0, 0; "SamplingParams": max_tokens
// none, temperature 1, top_p 1, top_k -1, seed none, stop none).
import { describe, expect, it } from 'vitest';
import { AdamParams, SamplingParams } from '../../src/index';
import { ADAM_DEFAULTS, resolveAdamParams } from '../../src/core/adam-params';
import { SAMPLING_DEFAULTS, normaliseSamplingParams } from '../../src/core/sampling-params';

describe('parameter defaults', () => {
  it('AdamParams: the documented values, the same on the page and in the engine', () => {
    expect(ADAM_DEFAULTS).toEqual({
      learning_rate: 1e-4,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-12,
      weight_decay: 0,
      grad_clip_norm: 0,
    });
    expect(new AdamParams().toJSON()).toEqual(ADAM_DEFAULTS);
    expect(resolveAdamParams({})).toEqual(ADAM_DEFAULTS);
    expect(Object.isFrozen(ADAM_DEFAULTS)).toBe(true);
  });

  it('SamplingParams: the documented values, the same on the page and in the engine', () => {
    expect(SAMPLING_DEFAULTS).toEqual({
      max_tokens: null,
      temperature: 1,
      top_p: 1,
      top_k: -1,
      seed: null,
      stop: null,
    });
    expect(new SamplingParams().toJSON()).toEqual(SAMPLING_DEFAULTS);
    const resolved = normaliseSamplingParams({}, { vocabSize: 10, eosTokenIds: [] });
    expect(resolved).toMatchObject({
      maxTokens: SAMPLING_DEFAULTS.max_tokens,
      temperature: SAMPLING_DEFAULTS.temperature,
      topP: SAMPLING_DEFAULTS.top_p,
      topK: SAMPLING_DEFAULTS.top_k,
      seed: SAMPLING_DEFAULTS.seed,
      stopStrings: [],
      stopTokenIds: [],
    });
    expect(Object.isFrozen(SAMPLING_DEFAULTS)).toBe(true);
  });
});
