/**
 * Where the operands of an attention call live, as the attention kernels take them: q's view,
 * the two key/value regions (see attention-forward.ts), the shape, and the RoPE table applied
 * inside the kernels. Types and the RoPE arguments only; the kernels are in attention-forward.ts
 * and attention-backward.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Binding } from '../gpu-runtime';

/** Where the keys and values of a call live (see attention-forward.ts); strides in elements. */
export interface KvRegions {
  readonly kA: Binding;
  readonly vA: Binding;
  /** Keys s < P come from region A. */
  readonly P: number;
  /** Region A's strides: batch (0 = shared by all batch rows), head, token. */
  readonly aStrides: readonly [number, number, number];
  readonly kB: Binding;
  readonly vB: Binding;
  readonly bStrides: readonly [number, number, number];
  /** Element offsets of region A's k and v rows (a packed qkv); default 0. */
  readonly kOff?: number;
  readonly vOff?: number;
}

/** Where q's rows are: element strides (batch, head, token) and an offset (a packed qkv). */
export interface QView {
  readonly strides: readonly number[];
  readonly offset: number;
}

export interface AttentionShape {
  readonly B: number;
  readonly H: number;
  readonly K: number;
  readonly T: number;
  /** Keys visible in all: offset = S − T. */
  readonly S: number;
  readonly D: number;
}

/**
 * RoPE applied inside the kernels: the packed table [L, D] (cos | sin of each position's angles)
 * and the table rows of query 0 and key 0.
 */
export interface AttentionRope {
  readonly cs: tf.Tensor2D;
  readonly qRow0: number;
  readonly kRow0: number;
}

/** The uniforms and binding that switch in-kernel RoPE on (or off: `dummy` stands for the table). */
export function ropeArgs(rope: AttentionRope | null | undefined, dummy: Binding, D: number) {
  if (rope && (D % 2 !== 0 || rope.cs.shape[1] !== D)) {
    throw new RangeError(`in-kernel RoPE needs an even head dim and a [L, ${D}] table`);
  }
  return {
    table: rope ? rope.cs : dummy,
    uniforms: rope ? [1, rope.qRow0, rope.kRow0] : [0, 0, 0],
  };
}
