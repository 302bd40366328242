/**
 * What a checkpoint holds and how runs and samplers are saved to and restored from one.
 *   trainer ("save_state"):  adapter_model.safetensors, adapter_config.json (PEFT), optimizer.safetensors
 *                            (Adam moments m.<i>, v.<i> in the adapter's variable order), trainer_state.json
 *   sampler:                 adapter_model.safetensors, adapter_config.json (a plain PEFT adapter)
 */
import { InvalidFileError } from '../errors/loops-errors';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter, writePeftAdapter } from '../io/peft';
import { parseSafetensorsHeader, readTensorAsFloat32 } from '../io/safetensors';
import { writeSafetensors } from '../io/safetensors-writer';
import type { LoraAdapter, LoraConfig } from '../lora/adapter';
import type { ModelConfig } from '../model/config';
import type { ProjectionName } from '../model/weight-names';
import type { AdamWState } from '../optim/adamw';
import type { Checkpoint } from '../protocol/wire-types';
import { checkpointPath, type StoredCheckpoint } from '../storage/checkpoint-store';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface CheckpointSource {
  readonly runId: string;
  readonly baseModel: string;
  readonly modelConfig: ModelConfig;
  readonly adapter: LoraAdapter;
  readonly seed: number;
  readonly policyVersion: number;
}

/** Builds the stored form of a checkpoint (files + metadata). */
export async function buildCheckpoint(
  source: CheckpointSource,
  target: 'trainer' | 'sampler',
  name: string,
  optimizer: AdamWState | null,
): Promise<StoredCheckpoint> {
  const path = checkpointPath(source.runId, target, name);
  const cfg = source.adapter.config;
  const peft = writePeftAdapter(source.modelConfig, source.baseModel, {
    rank: cfg.rank,
    alpha: cfg.alpha,
    targets: cfg.targets,
    factors: await source.adapter.toArrays(),
    step: source.policyVersion,
  });
  const files: Record<string, Uint8Array> = {
    [ADAPTER_WEIGHTS]: peft.weights,
    [ADAPTER_CONFIG]: encoder.encode(JSON.stringify(peft.config, null, 2)),
  };
  if (target === 'trainer') {
    const state = optimizer ?? { step: source.policyVersion, moments: [] };
    files[OPTIMIZER_FILE] = writeSafetensors(
      state.moments.flatMap((mv, i) => [
        { name: `m.${i}`, shape: [mv.m.length], data: mv.m },
        { name: `v.${i}`, shape: [mv.v.length], data: mv.v },
      ]),
      { format: 'pt', step: String(state.step) },
    );
    const trainerState = {
      step: state.step,
      seed: source.seed,
      base_model: source.baseModel,
      lora: cfg,
    };
    files[TRAINER_STATE_FILE] = encoder.encode(JSON.stringify(trainerState, null, 2));
  }
  const size = Object.values(files).reduce((n, f) => n + f.byteLength, 0);
  const meta: Checkpoint = {
    id: randomId(),
    checkpoint_id: name,
    checkpoint_type: 'lora',
    target,
    path,
    base_model: source.baseModel,
    lora_adapter_config: { r: cfg.rank, lora_alpha: cfg.alpha, target_modules: [...cfg.targets] },
    size_bytes: size,
    created_at: new Date().toISOString(),
    run_id: source.runId,
    step: source.policyVersion,
  };
  return { meta, files };
}

export interface RestoredAdapter {
  readonly config: LoraConfig;
  readonly factors: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>;
  readonly optimizer: AdamWState | null;
  readonly seed: number;
}

/** Reads the adapter (and, for trainer checkpoints, the optimizer) back from stored files. */
export function restoreAdapter(
  stored: StoredCheckpoint,
  modelConfig: ModelConfig,
): RestoredAdapter {
  const weights = stored.files[ADAPTER_WEIGHTS];
  const configBytes = stored.files[ADAPTER_CONFIG];
  if (!weights || !configBytes) {
    throw new InvalidFileError(
      `checkpoint ${stored.meta.path} lacks ${ADAPTER_WEIGHTS} or ${ADAPTER_CONFIG}.`,
    );
  }
  const peft = readPeftAdapter(modelConfig, weights, parseJson(configBytes, ADAPTER_CONFIG));
  let optimizer: AdamWState | null = null;
  let seed = 0;
  const optBytes = stored.files[OPTIMIZER_FILE];
  const stateBytes = stored.files[TRAINER_STATE_FILE];
  if (optBytes && stateBytes) {
    const state = parseJson(stateBytes, TRAINER_STATE_FILE) as { step?: unknown; seed?: unknown };
    seed = typeof state.seed === 'number' ? state.seed : 0;
    optimizer = readOptimizer(optBytes, typeof state.step === 'number' ? state.step : 0);
  }
  const targets = peft.targets as ProjectionName[];
  return {
    config: { rank: peft.rank, alpha: peft.alpha, targets, seed },
    factors: peft.factors,
    optimizer,
    seed,
  };
}

function readOptimizer(bytes: Uint8Array, step: number): AdamWState {
  const header = parseSafetensorsHeader(bytes, OPTIMIZER_FILE);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const moments: { m: Float32Array; v: Float32Array }[] = [];
  for (let i = 0; byName.has(`m.${i}`); i++) {
    const m = byName.get(`m.${i}`);
    const v = byName.get(`v.${i}`);
    if (!m || !v) throw new InvalidFileError(`${OPTIMIZER_FILE}: m.${i} has no matching v.${i}.`);
    moments.push({
      m: readTensorAsFloat32(bytes, m, OPTIMIZER_FILE),
      v: readTensorAsFloat32(bytes, v, OPTIMIZER_FILE),
    });
  }
  return { step, moments };
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new InvalidFileError(`${file} is not valid JSON (${(error as Error).message}).`);
  }
}

/** A short random id (7 base-36 characters), for runs, samplers and checkpoints. */
export function randomId(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => (b % 36).toString(36))
    .join('')
    .slice(0, 7);
}
