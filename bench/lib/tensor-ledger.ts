/**
 * Memory discipline for benchmarks: each phase (a training step, a decode, a whole model's life)
 * must leave `tf.memory().numTensors` where it found it. The ledger runs a phase, records the
 * count before and after (also when the phase throws) and keeps every check for the report, so a
 * leak is a visible line and a non-zero exit, not a slow drift across phases.
 */
import * as tf from '@tensorflow/tfjs';

export interface PhaseCheck {
  readonly phase: string;
  readonly tensorsBefore: number;
  readonly tensorsAfter: number;
  /** tensorsAfter − tensorsBefore; anything but 0 is a leak (or a double dispose). */
  readonly leaked: number;
}

export class TensorLedger {
  readonly checks: PhaseCheck[] = [];

  /** Runs `fn` as the phase `name` and records whether it returned numTensors to its start. */
  async phase<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const tensorsBefore = tf.memory().numTensors;
    try {
      return await fn();
    } finally {
      const tensorsAfter = tf.memory().numTensors;
      this.checks.push({
        phase: name,
        tensorsBefore,
        tensorsAfter,
        leaked: tensorsAfter - tensorsBefore,
      });
    }
  }

  /** The phases that did not return to their start. */
  get leaks(): PhaseCheck[] {
    return this.checks.filter((c) => c.leaked !== 0);
  }
}
