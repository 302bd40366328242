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
  // Tensors whose values are still on the page side (never uploaded, or small CPU-handoff
  // results) are read from there; the rest come from the GPU together.
  const onPage = items.map((r) =>
    isTensor(r) && !backend.tensorMap.get(r.dataId).resource
      ? (backend.tensorMap.get(r.dataId).values as ArrayLike<number> | null)
      : null,
  );
  const sizes = items.map((r, i) => (onPage[i] ? 0 : byteSize(r)));
  // copyBufferToBuffer wants offsets and sizes in multiples of 4; every item is.
  const offsets: number[] = [];
  let total = 0;
  for (const size of sizes) {
    offsets.push(total);
    total += size;
  }
  const fromPage = (i: number): ArrayBuffer => {
    const values = onPage[i] as Float32Array | Int32Array | Uint8Array;
    return (values instanceof Uint8Array ? Int32Array.from(values) : values.slice())
      .buffer as ArrayBuffer;
  };
  if (total === 0) return items.map((_, i) => (onPage[i] ? fromPage(i) : new ArrayBuffer(0)));
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
    return items.map((_, i) =>
      onPage[i] ? fromPage(i) : all.slice(offsets[i]!, offsets[i]! + sizes[i]!),
    );
  } finally {
    backend.bufferManager.releaseBuffer(staging);
  }
}

/** `readTogether` for float32 tensors: one Float32Array per tensor. */
export async function readFloats(tensors: readonly Readable[]): Promise<Float32Array[]> {
  return (await readTogether(tensors)).map((b) => new Float32Array(b));
}

interface Pending {
  readonly items: readonly Readable[];
  readonly resolve: (buffers: ArrayBuffer[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Reads collected from several ops and done in one transfer when `flush` is called: the engine
 * queues a forward_backward's loss, metrics and log-probs and the optim_step's gradient norm
 * behind it, and flushes once nothing more is queued (src/engine/runs.ts). The items must stay
 * alive until their promise settles.
 */
export class ReadBatch {
  private pending: Pending[] = [];
  private last: Promise<void> = Promise.resolve();

  /** True when reads are waiting for a flush. */
  get waiting(): boolean {
    return this.pending.length > 0;
  }

  /** Queues `items`; resolves with their contents after the next flush. */
  add(items: readonly Readable[]): Promise<ArrayBuffer[]> {
    return new Promise((resolve, reject) => this.pending.push({ items, resolve, reject }));
  }

  /**
   * Records the copies of everything queued now (in order with the work before) and reads it
   * back in one transfer; resolves when that read, and every earlier one, has settled.
   */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) {
      const read = readTogether(batch.flatMap((p) => p.items)).then(
        (buffers) => {
          let at = 0;
          for (const p of batch) {
            p.resolve(buffers.slice(at, at + p.items.length));
            at += p.items.length;
          }
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      );
      this.last = Promise.all([this.last, read]).then(() => undefined);
    }
    return this.last;
  }
}
