/** What the page learns about a loaded base model (vocabulary, context, EOS ids, tokenizer files). */
import type { ModelFacts } from '../protocol/wire-types';
import type { LoadedModel } from './model-registry';

export function modelFacts(base: LoadedModel): ModelFacts {
  return {
    baseModel: base.name,
    vocabSize: base.config.vocabSize,
    maxPositions: base.config.maxPositions,
    eosTokenIds: base.config.eosTokenIds,
    tokenizer: base.tokenizer,
  };
}
