/**
 * The pretraining learning-rate schedule: linear warmup, then cosine decay to a floor.
 *
 *   lr(s) = peak · (s + 1) / W                                   for s < W
 *   lr(s) = floor + (peak − floor) · ½ (1 + cos(π · (s − W) / (S − W)))   for W ≤ s < S
 *
 * s is the 0-based step, W the warmup steps, S the total steps (lr(S − 1) is just above the floor).
 * Source: Loshchilov & Hutter 2017, "SGDR" (cosine annealing); warmup as in Goyal et al. 2017 and
 * the GPT-2/nanoGPT recipes.
 */
import { ValidationError } from '../../src/errors/loops-errors';

export interface LrSchedule {
  readonly peak: number;
  /** The lr at the end of the decay (e.g. peak / 10). */
  readonly floor: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

/** The learning rate of 0-based step `step`. */
export function learningRate(step: number, s: LrSchedule): number {
  if (!(s.totalSteps > s.warmupSteps) || s.warmupSteps < 0 || !(s.floor <= s.peak)) {
    throw new ValidationError(
      `LR schedule ${JSON.stringify(s)}: need 0 ≤ warmupSteps < totalSteps and floor ≤ peak.`,
    );
  }
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const progress = Math.min(1, (step - s.warmupSteps) / (s.totalSteps - s.warmupSteps));
  return s.floor + (s.peak - s.floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
