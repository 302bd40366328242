/**
 * Writes a pretrained model in the Hugging Face layout under `<root>/<name>/`: `config.json`,
 * `generation_config.json`, `model.safetensors` (weights only, F32), the shared tokenizer files
 * (copied from `<root>/_tokenizer/` with `model_max_length` set to the context) and, beside them,
 * `training.json` (the run's facts, read by model-card.ts). Also keeps the shipped manifest
 * `<root>/models.json` listing our models first (llama, then gpt2), other entries after.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer';
import {
  parseManifest,
  SHIPPED_MANIFEST,
  type ShippedModel,
} from '../../src/engine/model-registry';
import { hfConfigJson, MODEL_PRESETS, type ModelPreset } from './model-presets';

export const TOKENIZER_DIR = '_tokenizer';

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** The generation_config.json transformers saves beside a causal LM config. */
function generationConfig(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return {
    _from_model_config: true,
    bos_token_id: config['bos_token_id'],
    eos_token_id: config['eos_token_id'],
    transformers_version: config['transformers_version'],
  };
}

/** Writes config, weights and tokenizer files; returns the bytes of each file written. */
export function writeModelFolder(
  root: string,
  preset: ModelPreset,
  weights: readonly TensorToWrite[],
  context: number,
): Record<string, number> {
  const dir = join(root, preset.name);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'config.json': hfConfigJson(preset.config),
    'generation_config.json': json(generationConfig(preset.config)),
    'model.safetensors': writeSafetensors(weights),
  };
  const tokenizerDir = join(root, TOKENIZER_DIR);
  files['tokenizer.json'] = readFileSync(join(tokenizerDir, 'tokenizer.json'));
  const tokConfig = JSON.parse(readFileSync(join(tokenizerDir, 'tokenizer_config.json'), 'utf8'));
  files['tokenizer_config.json'] = json({ ...tokConfig, model_max_length: context });
  const sizes: Record<string, number> = {};
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), content);
    sizes[name] = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  }
  return sizes;
}

/** Writes `<root>/<name>/training.json`. */
export function writeTrainingFacts(root: string, name: string, facts: unknown): void {
  writeFileSync(join(root, name, 'training.json'), json(facts));
}

/**
 * Adds or updates `entry` in `<root>/models.json`; our presets come first in preset order
 * (llama, gpt2), any other entries keep their order after them.
 */
export function updateManifest(root: string, entry: ShippedModel): void {
  const path = join(root, SHIPPED_MANIFEST);
  const current = existsSync(path) ? parseManifest(JSON.parse(readFileSync(path, 'utf8'))) : [];
  const others = current.filter((m) => m.name !== entry.name);
  const merged = [...others, entry];
  const order = Object.values(MODEL_PRESETS).map((p) => p.name);
  const rank = (m: ShippedModel) => {
    const i = order.indexOf(m.name);
    return i < 0 ? order.length : i;
  };
  const sorted = merged
    .map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || a.i - b.i)
    .map(({ m }) => ({
      name: m.name,
      max_context_length: m.max_context_length,
      description: m.description,
    }));
  writeFileSync(path, json({ models: sorted }));
}
