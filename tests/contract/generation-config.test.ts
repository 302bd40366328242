// generation_config.json's eos_token_id (an id or a list, often several for chat models) ends
// sampling as the config's EOS does: transformers' generate() stops on any id of the model's
// generation config. Here the stop id is one the model is known to produce: greedy decoding of
// the same model without a generation config shows where it first appears.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ModelInput,
  SamplingParams,
  ServiceClient,
  registerPlacement,
  inProcessLink,
} from '../../src/index';
import { createNodeEngine } from '../../src/engine/node-engine';
import {
  FIXTURE_MODEL,
  writeFixtureModelTo,
  writeFixtureModels,
} from '../helpers/fixture-model-dir';

const dir = writeFixtureModels();
const WITH_GEN = 'fixture-llama-gen';
registerPlacement('gen-config', () => inProcessLink(createNodeEngine({ modelsDir: dir })));
const prompt = ModelInput.from_ints([5, 17, 300, 42]);
const greedy = new SamplingParams({ max_tokens: 12, temperature: 0 });

/** Writes a copy of the fixture with `generation_config.json` and lists it in the manifest. */
function addModelWithGenerationConfig(eos: number[]): void {
  writeFixtureModelTo(join(dir, WITH_GEN));
  writeFileSync(
    join(dir, WITH_GEN, 'generation_config.json'),
    JSON.stringify({ bos_token_id: 0, eos_token_id: eos, transformers_version: '4.46.3' }),
  );
  writeFileSync(
    join(dir, 'models.json'),
    JSON.stringify({
      models: [
        { name: FIXTURE_MODEL, max_context_length: 128 },
        { name: WITH_GEN, max_context_length: 128 },
      ],
    }),
  );
}

describe('generation_config.json', () => {
  const start = () =>
    new ServiceClient({ engine: 'gen-config', backend: 'cpu', storage_namespace: 'gen' });

  it('its eos_token_id list stops sampling at the first of them', async () => {
    const first = start();
    const plain = await first.create_sampling_client(FIXTURE_MODEL);
    const free = (await plain.sample(prompt, 1, greedy)).sequences[0]!;
    expect(free.stop_reason).toBe('length'); // the fixture's own EOS (0) never came
    await first.close();
    const stopAt = free.tokens[5]!;
    const at = free.tokens.indexOf(stopAt);
    addModelWithGenerationConfig([4095, stopAt]);
    const second = start(); // reads the manifest that lists the new model
    const withGen = await second.create_sampling_client(WITH_GEN);
    const out = (await withGen.sample(prompt, 1, greedy)).sequences[0]!;
    expect(out.stop_reason).toBe('stop');
    expect(out.tokens).toEqual(free.tokens.slice(0, at + 1)); // the stop id is included
    await second.close();
  });
});
