/**
 * Node only: an engine whose shipped models are read from the package's `public/models` folder
 * (or another folder), for in-process use in scripts, examples and tests.
 */
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { nodeFolder } from '../io/node-files';
import type { CheckpointStore } from '../storage/checkpoint-store';
import { Engine } from './engine';
import { parseManifest } from './model-registry';

/**
 * The `public/models` folder beside this code: the repository's (this file is
 * src/engine/node-engine.ts) or the installed package's (bundled into dist-lib/node.js).
 */
export const DEFAULT_MODELS_DIR = modelsBeside(['../public/models/', '../../public/models/']);

function modelsBeside(candidates: readonly string[]): string {
  const dirs = candidates.map((c) => fileURLToPath(new URL(c, import.meta.url)));
  return dirs.find((dir) => existsSync(`${dir}models.json`)) ?? (dirs.at(-1) as string);
}

export function createNodeEngine(
  options: { modelsDir?: string; store?: CheckpointStore; memoryBudgetBytes?: number } = {},
): Engine {
  const folder = nodeFolder(options.modelsDir ?? DEFAULT_MODELS_DIR);
  return new Engine({
    shipped: { folder },
    readManifest: async () => {
      const bytes = await folder.read('models.json');
      return bytes ? parseManifest(JSON.parse(new TextDecoder().decode(bytes))) : [];
    },
    store: options.store,
    hostMemoryBytes: totalmem(),
    memoryBudgetBytes: options.memoryBudgetBytes,
  });
}
