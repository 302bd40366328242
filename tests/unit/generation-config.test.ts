// generation_config.json's eos_token_id joins config.json's (src/io/generation-config.ts): an id or
// a list; an id outside the vocabulary is a file error named at load, not a failure at sampling.
import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../src/errors/loops-errors';
import { withGenerationConfig } from '../../src/io/generation-config';
import { parseModelConfig } from '../../src/model/config';
import { TINY_CONFIGS } from '../helpers/tiny-models';

const config = parseModelConfig(TINY_CONFIGS.llamaGqa); // eos_token_id 2, vocab 48

describe('withGenerationConfig', () => {
  it('adds a list, or a single id, to the config EOS (sorted, unique)', () => {
    expect(withGenerationConfig(config, { eos_token_id: [7, 2, 40] }).eosTokenIds).toEqual([
      2, 7, 40,
    ]);
    expect(withGenerationConfig(config, { eos_token_id: 9 }).eosTokenIds).toEqual([2, 9]);
    expect(withGenerationConfig(config, { eos_token_id: null }).eosTokenIds).toEqual([2]);
    expect(withGenerationConfig(config, { do_sample: true }).eosTokenIds).toEqual([2]);
  });

  it('refuses an id outside the vocabulary, or a file that is not an object', () => {
    expect(() => withGenerationConfig(config, { eos_token_id: [3, 48] })).toThrow(
      /eos_token_id 48 is not a token id of this model's vocabulary \[0, 48\)/,
    );
    expect(() => withGenerationConfig(config, [1])).toThrow(InvalidFileError);
  });
});
