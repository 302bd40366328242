/**
 * An arena: one flat float32 GPU buffer holding a list of tensors end to end (each slot starts on
 * a multiple of 4 floats, padding zero), so one kernel can update a whole adapter. The gradient
 * buffer sums into one, the optimizer keeps its moments and a working copy of the parameters in
 * others (adamw-arena.ts). TF.js variables cannot be views into a shared buffer, so tensors go in
 * and out by buffer copies (no dispatches); the arena's buffer is ours, written in place.
 * webgpu only: callers check `gpuKernelsActive()` first.
 */
import * as tf from '@tensorflow/tfjs';
import {
  emptyTensor,
  requireWebgpuBackend,
  type BackendInternals,
} from '../runtime/webgpu/backend-internals';
import { copyBuffer } from '../runtime/webgpu/gpu-runtime';
import { readFloats } from '../runtime/webgpu/read-together';

/** Where each tensor sits in an arena, in floats. */
export interface ArenaLayout {
  readonly shapes: readonly (readonly number[])[];
  readonly sizes: readonly number[];
  readonly offsets: readonly number[];
  /** Floats in the arena, a multiple of 4. */
  readonly total: number;
}

export function arenaLayout(shapes: readonly (readonly number[])[]): ArenaLayout {
  const sizes = shapes.map((s) => tf.util.sizeFromShape(s as number[]));
  const offsets: number[] = [];
  let total = 0;
  for (const size of sizes) {
    offsets.push(total);
    total += Math.ceil(size / 4) * 4;
  }
  return { shapes, sizes, offsets, total: Math.max(total, 4) };
}

/** True when `tensors` have exactly the layout's shapes, in order. */
export function fitsLayout(layout: ArenaLayout, tensors: readonly tf.Tensor[]): boolean {
  return (
    tensors.length === layout.shapes.length &&
    tensors.every((t, i) => tf.util.arraysEqual(t.shape, layout.shapes[i] as number[]))
  );
}

export class Arena {
  private constructor(
    readonly layout: ArenaLayout,
    readonly buffer: GPUBuffer,
    private readonly backend: BackendInternals,
  ) {}

  /** An arena of zeros. */
  static zeros(layout: ArenaLayout): Arena {
    const arena = Arena.uninitialised(layout);
    arena.clear();
    return arena;
  }

  /** An arena whose contents are `values` (layout.total floats): one upload, one copy. */
  static fromValues(layout: ArenaLayout, values: Float32Array): Arena {
    const arena = Arena.uninitialised(layout);
    const upload = tf.tensor1d(values);
    copyBuffer(upload, 0, arena.buffer, 0, layout.total * 4);
    upload.dispose();
    return arena;
  }

  private static uninitialised(layout: ArenaLayout): Arena {
    const backend = requireWebgpuBackend();
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    return new Arena(layout, backend.bufferManager.acquireBuffer(layout.total * 4, usage), backend);
  }

  /** Sets every float to 0, in order with the work recorded before. */
  clear(): void {
    this.backend.ensureCommandEncoderReady();
    this.backend.endComputePassEncoder();
    this.backend.commandEncoder!.clearBuffer(this.buffer);
  }

  /** Copies `tensors` (the layout's shapes, in order) into their slots. */
  copyIn(tensors: readonly tf.Tensor[]): void {
    tensors.forEach((t, i) => this.copyInOne(i, t));
  }

  /** Copies one tensor into slot `i`. */
  copyInOne(i: number, t: tf.Tensor): void {
    const size = this.layout.sizes[i] ?? 0;
    if (size > 0) copyBuffer(t, 0, this.buffer, this.layout.offsets[i]! * 4, size * 4);
  }

  /** Slot `i` as a new tensor of its shape (a buffer copy). */
  slot(i: number): tf.Tensor {
    const t = emptyTensor(this.layout.shapes[i] as number[]);
    const size = this.layout.sizes[i] ?? 0;
    if (size > 0) copyBuffer(this.buffer, this.layout.offsets[i]! * 4, t, 0, size * 4);
    return t;
  }

  /** The whole arena as floats (one readback). */
  async read(): Promise<Float32Array> {
    const [values] = await readFloats([
      { buffer: this.buffer, offset: 0, size: this.layout.total * 4 },
    ]);
    return values as Float32Array;
  }

  /** Splits arena contents (from `read`) into one copy per tensor. */
  unpack(values: Float32Array): Float32Array[] {
    return this.layout.sizes.map((size, i) => {
      const at = this.layout.offsets[i]!;
      return values.slice(at, at + size);
    });
  }

  /** Arena contents for per-tensor arrays (padding zero). */
  static pack(layout: ArenaLayout, arrays: readonly Float32Array[]): Float32Array {
    const out = new Float32Array(layout.total);
    arrays.forEach((a, i) => out.set(a, layout.offsets[i]));
    return out;
  }

  /**
   * Gives the buffer back to TF.js's pool; while recorded work may still use it, only after that
   * work is submitted (as TF.js does with uniform buffers).
   */
  dispose(): void {
    if (this.backend.commandEncoder) this.backend.uniformPendingDisposal.push(this.buffer);
    else this.backend.bufferManager.releaseBuffer(this.buffer);
  }
}
