// A model folder on disk in the Hugging Face layout, built from a tiny random config and the
// project's BPE tokenizer (public/models/_tokenizer), with a models.json manifest: what a shipped
// model looks like, for engine and client tests that must not depend on the pretrained models.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelConfig } from '../../src/model/config';
import { randomWeights } from '../../src/model/random-weights';
import { writeSafetensors } from '../../src/io/safetensors-writer';

export const FIXTURE_MODEL = 'fixture-llama';

const TOKENIZER_DIR = join(import.meta.dirname, '../../public/models/_tokenizer');

/** The fixture's config.json: a 2-layer GQA Llama over the 4096-token BPE vocabulary. */
export const FIXTURE_CONFIG = Object.freeze({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 32,
  intermediate_size: 64,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 4096,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 0,
  eos_token_id: 0,
});

/** Writes the fixture model into a fresh temp folder and returns the models folder path. */
export function writeFixtureModels(seed = 3): string {
  const root = mkdtempSync(join(tmpdir(), 'loops-models-'));
  writeFixtureModelTo(join(root, FIXTURE_MODEL), seed);
  const manifest = {
    models: [{ name: FIXTURE_MODEL, max_context_length: FIXTURE_CONFIG.max_position_embeddings }],
  };
  writeFileSync(join(root, 'models.json'), JSON.stringify(manifest));
  return root;
}

/** Writes the fixture's files (config, weights, tokenizer) into `dir`, created if needed. */
export function writeFixtureModelTo(dir: string, seed = 3): void {
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(FIXTURE_CONFIG);
  const weights = randomWeights(config, seed, { std: 0.1, normNoise: 0.05, biasStd: 0.02 });
  const tensors = [...weights].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(FIXTURE_CONFIG, null, 2));
  copyFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  copyFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
}
