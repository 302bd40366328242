/**
 * A shipped model (public/models/<name>) loaded in Node through the engine's own loading path
 * (the same `loadWeights` the worker runs), timed: the benchmarks' real weights.
 */
import type * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import { shippedModelFiles } from '../../src/io/model-source';
import { nodeFolder } from '../../src/io/node-files';
import { loadWeights } from '../../src/io/weights-loader';

const MODELS_DIR = fileURLToPath(new URL('../../public/models/', import.meta.url));

export interface ShippedLoad {
  readonly config: ModelConfig;
  readonly weights: Map<string, tf.Tensor>;
  readonly loadMs: number;
}

export async function loadShipped(name: string): Promise<ShippedLoad> {
  const t0 = performance.now();
  const files = shippedModelFiles(name, { folder: nodeFolder(MODELS_DIR) });
  const config = parseModelConfig(await files.json('config.json'), name);
  const weights = await loadWeights({
    config,
    hasFile: (file) => files.has(file),
    readFile: (file) => files.bytes(file),
  });
  return { config, weights, loadMs: performance.now() - t0 };
}
