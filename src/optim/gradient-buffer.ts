/**
 * The run's gradient accumulator: `forward_backward` adds into it, `optim_step` reads it and zeroes it.
 *
 *   buffer_k ← buffer_k + g_k   for each call, until zero()
 *
 * Because every built-in loss is a sum over positions, summing gradients across calls equals the
 * gradient of one call on all the data (Tinker's and Loops' accumulation semantics). The buffer
 * owns its sums; gradients passed to `add` stay the caller's, and `get` hands out new tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';

export class GradientBuffer {
  private readonly variables: readonly tf.Variable[];
  private readonly indexByName = new Map<string, number>();
  /** One running sum per variable; null where nothing was added since the last zero(). */
  private sums: (tf.Tensor | null)[];
  private adds = 0;

  /** A buffer aligned with `variables` (by index, and by name for `tf.NamedTensorMap`s). */
  constructor(variables: readonly tf.Variable[]) {
    this.variables = variables;
    variables.forEach((v, i) => {
      if (this.indexByName.has(v.name)) {
        throw new ValidationError(
          `GradientBuffer: two variables are named '${v.name}'; give each trainable variable a ` +
            'unique name.',
        );
      }
      this.indexByName.set(v.name, i);
    });
    this.sums = variables.map(() => null);
  }

  /** True when nothing was added since construction or the last zero(). */
  get isEmpty(): boolean {
    return this.adds === 0;
  }

  /** How many `add` calls the current sums hold. */
  get numAdds(): number {
    return this.adds;
  }

  /**
   * Adds gradients: an array aligned with the variables, or a map keyed by variable name (as
   * `tf.variableGrads` returns; a variable missing from the map gets nothing). Checks every
   * entry before adding any, so a bad call leaves the buffer unchanged.
   */
  add(grads: tf.NamedTensorMap | readonly tf.Tensor[]): void {
    const entries = this.align(grads);
    for (const [i, g] of entries) {
      const old = this.sums[i] ?? null;
      this.sums[i] = old ? tf.add(old, g) : tf.clone(g); // [*]
      old?.dispose();
    }
    this.adds += 1;
  }

  /** The sums, one per variable (zeros where nothing was added); new tensors, caller disposes. */
  get(): tf.Tensor[] {
    return this.variables.map((v, i) => {
      const sum = this.sums[i];
      return sum ? tf.clone(sum) : tf.zeros(v.shape, 'float32');
    });
  }

  /** Drops all sums. */
  zero(): void {
    for (const sum of this.sums) sum?.dispose();
    this.sums = this.variables.map(() => null);
    this.adds = 0;
  }

  dispose(): void {
    this.zero();
  }

  /** [variable index, gradient] pairs for `grads`, after checking names and shapes. */
  private align(grads: tf.NamedTensorMap | readonly tf.Tensor[]): [number, tf.Tensor][] {
    let entries: [number, tf.Tensor][];
    if (Array.isArray(grads)) {
      const list = grads as readonly tf.Tensor[];
      if (list.length !== this.variables.length) {
        throw new ValidationError(
          `GradientBuffer.add got ${list.length} gradients for ${this.variables.length} ` +
            'variables; pass one per variable, in order, or a map keyed by variable name.',
        );
      }
      entries = list.map((g, i) => [i, g]);
    } else {
      entries = Object.entries(grads as tf.NamedTensorMap).map(([name, g]) => {
        const i = this.indexByName.get(name);
        if (i === undefined) {
          throw new ValidationError(
            `GradientBuffer.add got a gradient for '${name}', which is not one of the buffer's ` +
              'variables; build the buffer from the variables being trained.',
          );
        }
        return [i, g];
      });
    }
    for (const [i, g] of entries) {
      const v = this.variables[i] as tf.Variable;
      if (!tf.util.arraysEqual(v.shape, g.shape)) {
        throw new ValidationError(
          `GradientBuffer.add: the gradient for '${v.name}' has shape [${g.shape}] but the ` +
            `variable has [${v.shape}]; they must match.`,
        );
      }
    }
    return entries;
  }
}
