/**
 * `generation_config.json`: what transformers' `generate()` reads beyond config.json. Only its
 * `eos_token_id` matters here: an id or a list (chat models often list several, e.g. Llama 3's
 * end-of-text and end-of-turn ids), each of which ends generation. The engine stops on the union
 * of these and config.json's `eos_token_id`, so neither file's EOS is ever sampled past. Other
 * fields (temperature, top_p, …) are defaults of `generate()` and are not applied: sampling uses
 * the `SamplingParams` the caller gives, with the Loops defaults.
 */
import { InvalidFileError } from '../errors/loops-errors';
import type { ModelConfig } from '../model/config';

export const GENERATION_CONFIG = 'generation_config.json';

/** `config` with the generation config's EOS ids added (frozen, sorted, unique). */
export function withGenerationConfig(
  config: ModelConfig,
  json: unknown,
  source = GENERATION_CONFIG,
): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidFileError(`${source} is not a JSON object.`);
  }
  const raw = (json as { eos_token_id?: unknown }).eos_token_id;
  const ids = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new InvalidFileError(
        `${source}: eos_token_id ${JSON.stringify(id)} is not a token id of this model's ` +
          `vocabulary [0, ${config.vocabSize}); fix the file or remove the entry.`,
      );
    }
  }
  const eosTokenIds = [...new Set([...config.eosTokenIds, ...(ids as number[])])].sort(
    (a, b) => a - b,
  );
  return Object.freeze({ ...config, eosTokenIds: Object.freeze(eosTokenIds) });
}
