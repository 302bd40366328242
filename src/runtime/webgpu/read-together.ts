/**
 * Reads several tensors (or raw buffer ranges) back to the page in ONE transfer: each is copied,
 * in order with the work recorded before, into one staging buffer that is mapped once. A step's
 * loss, metrics, log-probs and gradient norm come back together this way (issue 12: one readback
 * per forward_backward + optim_step), and an optimizer arena's moments in one transfer each
 * checkpoint. On other backends each tensor is read with `data()` (no transfer to save there).
 *
 * Values come back as raw bytes (float32 or int32 as stored); nothing is cached on the tensors,
 * so buffers written in place (arenas) can be read this way at any time.
 */
import * as tf from '@tensorflow/tfjs';
import { bufferOf, webgpuBackend } from './backend-internals';
import { noteReadback } from './counters';

/** A byte range of a GPU buffer the caller owns. */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

export type Readable = tf.Tensor | BufferRange;

function isTensor(r: Readable): r is tf.Tensor {
  return r instanceof tf.Tensor;
}

/** Bytes of a tensor as stored on the GPU (4 per element for float32, int32 and bool). */
function byteSize(r: Readable): number {
  return isTensor(r) ? r.size * 4 : r.size;
}

/**
 * The contents of every item, in order, as ArrayBuffers (one copy per item), with one GPU
 * readback in all. Tensors stay the caller's (read as they are when this is called).
 */
export async function readTogether(items: readonly Readable[]): Promise<ArrayBuffer[]> {
  const backend = webgpuBackend();
  if (!backend) {
    return Promise.all(
      items.map(async (r) => {
        if (!isTensor(r)) throw new Error('a raw GPU buffer was read while not on webgpu');
        const values = await r.data();
        return (values as Float32Array | Int32Array | Uint8Array).slice().buffer as ArrayBuffer;
      }),
    );
  }
  const sizes = items.map(byteSize);
  // copyBufferToBuffer wants offsets and sizes in multiples of 4; every item is.
  const offsets: number[] = [];
  let total = 0;
  for (const size of sizes) {
    offsets.push(total);
    total += size;
  }
  if (total === 0) return items.map(() => new ArrayBuffer(0));
  const usage = GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ;
  const staging = backend.bufferManager.acquireBuffer(total, usage);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  items.forEach((r, i) => {
    if (sizes[i] === 0) return;
    const source = isTensor(r) ? bufferOf(backend, r) : r.buffer;
    if (isTensor(r)) backend.commandQueueOwnedIds.add(r.dataId);
    const from = isTensor(r) ? 0 : r.offset;
    backend.commandEncoder!.copyBufferToBuffer(source, from, staging, offsets[i]!, sizes[i]!);
  });
  backend.submitQueue();
  noteReadback();
  try {
    await staging.mapAsync(GPUMapMode.READ);
    const all = staging.getMappedRange().slice(0);
    staging.unmap();
    return items.map((_, i) => all.slice(offsets[i]!, offsets[i]! + sizes[i]!));
  } finally {
    backend.bufferManager.releaseBuffer(staging);
  }
}

/** `readTogether` for float32 tensors: one Float32Array per tensor. */
export async function readFloats(tensors: readonly Readable[]): Promise<Float32Array[]> {
  return (await readTogether(tensors)).map((b) => new Float32Array(b));
}
