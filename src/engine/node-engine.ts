/**
 * Node only: an engine whose shipped models are read from the package's `public/models` folder
 * (or another folder), for in-process use in scripts, examples and tests.
 */
import { totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { nodeFolder } from '../io/node-files';
import type { CheckpointStore } from '../storage/checkpoint-store';
import { Engine } from './engine';
import { parseManifest } from './model-registry';

/** The repository's (or installed package's) `public/models` folder. */
export const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../../public/models/', import.meta.url));

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
