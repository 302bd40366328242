import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import { normaliseSamplingParams } from '../../src/core/sampling-params';
import type { SamplingParamsInput } from '../../src/core/sampling-params';

const vocab = { vocabSize: 10, eosTokenIds: [9, 2] };

describe('normaliseSamplingParams', () => {
  it('applies the Loops defaults and adds the EOS ids as stops', () => {
    const p = normaliseSamplingParams({}, vocab);
    expect(p).toEqual({
      maxTokens: null,
      temperature: 1,
      topP: 1,
      topK: -1,
      seed: null,
      stopStrings: [],
      stopTokenIds: [2, 9],
    });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.stopTokenIds)).toBe(true);
    expect(normaliseSamplingParams(undefined, vocab)).toEqual(p);
  });

  it('reads Python None (null) as unset', () => {
    const p = normaliseSamplingParams(
      { max_tokens: null, temperature: null, top_p: null, top_k: null, seed: null, stop: null },
      vocab,
    );
    expect(p).toEqual(normaliseSamplingParams({}, vocab));
  });

  it('keeps given values and merges token-id stops with EOS', () => {
    const p = normaliseSamplingParams(
      { max_tokens: 5, temperature: 0, top_p: 0.5, top_k: 3, seed: -12, stop: [4, 9, 4] },
      vocab,
    );
    expect(p).toMatchObject({ maxTokens: 5, temperature: 0, topP: 0.5, topK: 3, seed: -12 });
    expect(p.stopTokenIds).toEqual([2, 4, 9]);
    expect(p.stopStrings).toEqual([]);
  });

  it('accepts one stop string or a list', () => {
    expect(normaliseSamplingParams({ stop: '\n\n' }, vocab).stopStrings).toEqual(['\n\n']);
    expect(normaliseSamplingParams({ stop: ['a', 'bc'] }, vocab).stopStrings).toEqual(['a', 'bc']);
    expect(normaliseSamplingParams({ stop: [] }, vocab).stopStrings).toEqual([]);
  });

  it('treats top_k at or above the vocabulary size as off', () => {
    expect(normaliseSamplingParams({ top_k: 10 }, vocab).topK).toBe(-1);
    expect(normaliseSamplingParams({ top_k: 9 }, vocab).topK).toBe(9);
  });

  const bad: [SamplingParamsInput, RegExp][] = [
    [{ temperature: -0.1 }, /temperature is -0\.1/],
    [{ temperature: NaN }, /temperature is NaN/],
    [{ temperature: Infinity }, /temperature is Infinity/],
    [{ top_p: 0 }, /top_p is 0.*\(0, 1\]/],
    [{ top_p: 1.5 }, /top_p is 1\.5/],
    [{ top_p: NaN }, /top_p is NaN/],
    [{ top_k: 0 }, /top_k is 0.*-1 \(off\)/],
    [{ top_k: -2 }, /top_k is -2/],
    [{ top_k: 2.5 }, /top_k is 2\.5/],
    [{ max_tokens: 0 }, /max_tokens is 0.*≥ 1/],
    [{ max_tokens: 3.5 }, /max_tokens is 3\.5/],
    [{ seed: 1.25 }, /seed is 1\.25.*integer/],
    [{ stop: [3, 10] }, /stop\[1\] is 10.*\[0, 10\)/],
    [{ stop: [-1] }, /stop\[0\] is -1/],
    [{ stop: ['ok', ''] }, /stop\[1\] is an empty string/],
    [{ stop: '' }, /stop\[0\] is an empty string/],
    [{ stop: ['a', 1] as unknown as string[] }, /stop is \["a",1\].*not a mix/],
  ];
  it.each(bad)('rejects %j naming the field', (input, message) => {
    expect(() => normaliseSamplingParams(input, vocab)).toThrow(ValidationError);
    expect(() => normaliseSamplingParams(input, vocab)).toThrow(message);
  });

  it('rejects EOS ids outside the vocabulary', () => {
    expect(() => normaliseSamplingParams({}, { vocabSize: 4, eosTokenIds: [4] })).toThrow(
      /eos_token_id is 4/,
    );
  });
});
