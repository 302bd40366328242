/**
 * The run's gradient accumulator: `forward_backward` adds into it, `optim_step` reads it and zeroes it.
 *
 *   buffer_k ← buffer_k + g_k   for each call, until zero()
 *
 * Because every built-in loss is a sum over positions, summing gradients across calls equals the
 * gradient of one call on all the data (Tinker's and Loops' accumulation semantics). The buffer
 * owns its sums; gradients passed to `add` stay the caller's, and `get` hands out new tensors.
 *
 * On webgpu with our kernels on, the sums live in one arena (arena.ts) that the optimizer reads
 * directly (`deviceSums`): the first `add` after a zero is buffer copies only, each later one
 * copies and one add dispatch for all variables (the stock path: one add per variable). The
 * form is chosen at the first `add` after a zero.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../errors/loops-errors';
import { arenaAdd } from '../runtime/webgpu/kernels/adamw';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { Arena, arenaLayout } from './arena';

export class GradientBuffer {
  private readonly variables: readonly tf.Variable[];
  private readonly indexByName = new Map<string, number>();
  /** One running sum per variable; null where nothing was added since the last zero(). */
  private sums: (tf.Tensor | null)[];
  private adds = 0;
  /** The device form of the sums (webgpu); kept across zeros, cleared when reused. */
  private arena: Arena | null = null;
  /** True when the current sums are in `arena`. */
  private onDevice = false;
  /** True when `arena` is known to hold zeros. */
  private arenaZero = false;

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
    if (this.adds === 0) this.onDevice = gpuKernelsActive();
    if (this.onDevice) this.addOnDevice(entries);
    else {
      for (const [i, g] of entries) {
        const old = this.sums[i] ?? null;
        this.sums[i] = old ? tf.add(old, g) : tf.clone(g); // [*]
        old?.dispose();
      }
    }
    this.adds += 1;
  }

  /** The sums, one per variable (zeros where nothing was added); new tensors, caller disposes. */
  get(): tf.Tensor[] {
    if (this.onDevice && this.arena) return this.variables.map((_, i) => this.arena!.slot(i));
    return this.variables.map((v, i) => {
      const sum = this.sums[i];
      return sum ? tf.clone(sum) : tf.zeros(v.shape, 'float32');
    });
  }

  /**
   * The sums as an arena when they are on the device (or nothing was added and our kernels are
   * on: then zeros), for the optimizer to read and zero in place; null on the stock path. The
   * arena stays the buffer's; call `zero(true)` once the optimizer has zeroed it.
   */
  deviceSums(): Arena | null {
    if (this.adds > 0 ? !this.onDevice : !gpuKernelsActive()) return null;
    return this.cleanArena();
  }

  /** Drops all sums; `zeroedOnDevice`: the optimizer already zeroed the arena. */
  zero(zeroedOnDevice = false): void {
    for (const sum of this.sums) sum?.dispose();
    this.sums = this.variables.map(() => null);
    if (this.onDevice || zeroedOnDevice) this.arenaZero = zeroedOnDevice;
    this.adds = 0;
    this.onDevice = false;
  }

  dispose(): void {
    this.zero();
    this.arena?.dispose();
    this.arena = null;
  }

  /** The arena, holding zeros when nothing was added since the last zero. */
  private cleanArena(): Arena {
    this.arena ??= Arena.zeros(arenaLayout(this.variables.map((v) => v.shape)));
    if (this.adds === 0 && !this.arenaZero) this.arena.clear();
    this.arenaZero = this.adds === 0;
    return this.arena;
  }

  private addOnDevice(entries: [number, tf.Tensor][]): void {
    if (this.adds === 0) {
      const arena = this.cleanArena();
      for (const [i, g] of entries) arena.copyInOne(i, g);
    } else {
      const arena = this.arena as Arena;
      const scratch = Arena.zeros(arena.layout);
      for (const [i, g] of entries) scratch.copyInOne(i, g);
      arenaAdd(arena.buffer, scratch.buffer, arena.layout.total / 4);
      scratch.dispose();
    }
    this.arenaZero = false;
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
