/**
 * Real-size weights without a download, two ways: seeded random tensors (`generateRandomWeights`)
 * uploaded straight to TF.js, and the same tensors written as a real `model.safetensors` (BF16 by
 * default, as the Hub ships these models) and read back through `loadWeights`, the loading path
 * a user's checkpoint takes. Timing and byte counts come back with the tensors; the caller owns
 * the tensors and disposes them (`disposeWeights`).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import type { FloatDtype } from '../../src/io/dtype';
import { shippedModelFiles } from '../../src/io/model-source';
import { nodeFolder } from '../../src/io/node-files';
import { writeSafetensors } from '../../src/io/safetensors-writer';
import { SINGLE_FILE, loadWeights } from '../../src/io/weights-loader';
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import type { HfConfigJson } from '../../src/model/known-configs';
import { generateRandomWeights } from '../../src/model/random-weights';

export interface BuiltWeights {
  /** Float32 tensors by Hugging Face name; the caller disposes them. */
  readonly weights: Map<string, tf.Tensor>;
  /** Time drawing the random values in JS. */
  readonly generateMs: number;
  /** Time handing them to TF.js (`tf.tensor`, a copy into the backend's memory). */
  readonly uploadMs: number;
  readonly parameters: number;
  readonly float32Bytes: number;
}

/** Every tensor of `config` from seeded random values, uploaded one at a time. */
export function buildRandomWeights(config: ModelConfig, seed: number): BuiltWeights {
  const weights = new Map<string, tf.Tensor>();
  let generateMs = 0;
  let uploadMs = 0;
  let parameters = 0;
  try {
    const tensors = generateRandomWeights(config, seed);
    for (;;) {
      const t0 = performance.now();
      const next = tensors.next();
      const t1 = performance.now();
      generateMs += t1 - t0;
      if (next.done) break;
      const { name, shape, data } = next.value;
      weights.set(name, tf.tensor(data, shape, 'float32'));
      uploadMs += performance.now() - t1;
      parameters += data.length;
    }
  } catch (error) {
    disposeWeights(weights);
    throw error;
  }
  return { weights, generateMs, uploadMs, parameters, float32Bytes: parameters * 4 };
}

export interface CheckpointLoad {
  readonly weights: Map<string, tf.Tensor>;
  /** Drawing the values, converting to the stored dtype, serialising and writing the file. */
  readonly writeMs: number;
  readonly fileBytes: number;
  /** From the folder on disk to float32 tensors: config.json parsed, weights read, widened, uploaded. */
  readonly loadMs: number;
}

/**
 * Writes `config.json` (the Hub's raw object) and `config`'s random weights as `model.safetensors`
 * in a fresh temp folder, then loads the folder as a shipped model would be in Node: config parsed
 * from the file, tensors through `loadWeights`. Deletes the folder; the caller disposes the tensors.
 */
export async function loadThroughFile(
  rawConfig: HfConfigJson,
  seed: number,
  dtype: FloatDtype = 'BF16',
): Promise<CheckpointLoad> {
  const root = await mkdtemp(join(os.tmpdir(), 'loops-real-size-'));
  const name = 'model';
  try {
    let t0 = performance.now();
    const written = parseModelConfig(rawConfig);
    await mkdir(join(root, name));
    await writeFile(join(root, name, 'config.json'), JSON.stringify(rawConfig));
    const tensors = [...generateRandomWeights(written, seed)].map((t) => ({ ...t, dtype }));
    const bytes = writeSafetensors(tensors);
    tensors.length = 0; // let the float32 arrays go before the load allocates its own
    await writeFile(join(root, name, SINGLE_FILE), bytes);
    const writeMs = performance.now() - t0;
    const fileBytes = bytes.byteLength;

    t0 = performance.now();
    const files = shippedModelFiles(name, { folder: nodeFolder(root) });
    const config = parseModelConfig(await files.json('config.json'));
    const weights = await loadWeights({
      config,
      hasFile: (file) => files.has(file),
      readFile: (file) => files.bytes(file),
    });
    return { weights, writeMs, fileBytes, loadMs: performance.now() - t0 };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Disposes every tensor of a weight map and empties it. */
export function disposeWeights(weights: Map<string, tf.Tensor>): void {
  for (const t of weights.values()) t.dispose();
  weights.clear();
}
