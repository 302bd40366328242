/**
 * Resumable pretraining checkpoints: one safetensors file (F32) holding the weights under their
 * Hugging Face names and both AdamW groups' moments (`optim.<group>.<m|v>.<i>`), with the run's
 * progress as JSON in `__metadata__.progress`. Written to a temporary name and renamed, so a run
 * killed while saving leaves the previous checkpoint intact. Not a shipped format: the shipped
 * `model.safetensors` holds the weights only (pretrain.ts).
 */
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidFileError } from '../../src/errors/loops-errors';
import { parseSafetensorsHeader, readTensorAsFloat32 } from '../../src/io/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer';
import type { AdamWState } from '../../src/optim/adamw';
import type { TrainerState } from './train-loop';

/** Where a run stands, saved with its weights. */
export interface RunProgress {
  readonly kind: string;
  readonly seed: number;
  /** Steps finished (the next step to run is this one, 0-based). */
  readonly step: number;
  readonly totalSteps: number;
  readonly tokensSeen: number;
  /** Wall-clock seconds of training so far, over all sessions of the run. */
  readonly trainSeconds: number;
  /** Log lines kept for the model card: step, loss, held-out bpb. */
  readonly history: readonly { step: number; loss: number; heldoutBpb: number | null }[];
}

export interface Checkpoint {
  readonly progress: RunProgress;
  readonly weights: Map<string, Float32Array>;
  readonly decay: AdamWState;
  readonly plain: AdamWState;
}

const GROUPS = ['decay', 'plain'] as const;

export function saveCheckpoint(path: string, state: TrainerState, progress: RunProgress): void {
  const tensors: TensorToWrite[] = [...state.weights];
  for (const group of GROUPS) {
    state[group].moments.forEach(({ m, v }, i) => {
      tensors.push({ name: `optim.${group}.m.${i}`, shape: [m.length], data: m });
      tensors.push({ name: `optim.${group}.v.${i}`, shape: [v.length], data: v });
    });
  }
  const steps = { decay: state.decay.step, plain: state.plain.step };
  const bytes = writeSafetensors(tensors, {
    format: 'pt',
    progress: JSON.stringify(progress),
    optimizer_steps: JSON.stringify(steps),
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

export function hasCheckpoint(path: string): boolean {
  return existsSync(path);
}

export function loadCheckpoint(path: string): Checkpoint {
  const bytes = new Uint8Array(readFileSync(path));
  const header = parseSafetensorsHeader(bytes, path);
  const bad = (what: string) =>
    new InvalidFileError(`${path}: ${what}; delete it and start the run without --resume.`);
  const progressJson = header.metadata['progress'];
  const stepsJson = header.metadata['optimizer_steps'];
  if (!progressJson || !stepsJson) throw bad('no progress metadata (not a pretraining checkpoint)');
  const progress = JSON.parse(progressJson) as RunProgress;
  const steps = JSON.parse(stepsJson) as Record<(typeof GROUPS)[number], number>;
  const weights = new Map<string, Float32Array>();
  const moments: Record<string, { m: Float32Array; v: Float32Array }[]> = { decay: [], plain: [] };
  for (const entry of header.tensors) {
    const data = readTensorAsFloat32(bytes, entry, path);
    const match = /^optim\.(decay|plain)\.(m|v)\.(\d+)$/.exec(entry.name);
    if (!match) {
      weights.set(entry.name, data);
      continue;
    }
    const [, group, which, index] = match as unknown as [string, string, 'm' | 'v', string];
    const list = moments[group] as { m: Float32Array; v: Float32Array }[];
    const slot = (list[Number(index)] ??= { m: new Float32Array(0), v: new Float32Array(0) });
    slot[which] = data;
  }
  return {
    progress,
    weights,
    decay: { step: steps.decay, moments: moments.decay ?? [] },
    plain: { step: steps.plain, moments: moments.plain ?? [] },
  };
}
