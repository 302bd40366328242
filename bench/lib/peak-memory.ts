/**
 * The high-water mark of tensor memory while `fn` runs, at allocation granularity, without
 * profiling (`tf.profile` changes what is alive: its peak for a checkpointed SmolLM2 step read 3×
 * the unprofiled one). Two readings:
 * - buffers: bytes of distinct data buffers the backend holds (`engine.state.tensorInfo`, one entry
 *   per dataId): what the device really holds. A clone shares its source's buffer;
 * - numBytes: `tf.memory().numBytes`, which counts every tensor, so a clone counts twice (TF.js
 *   clones each tensor a gradient saves).
 * Hooks the engine's `trackTensor` and `removeDataId` for the duration of `fn` (TF.js 4.22 names);
 * call it between steps, when no clones are alive.
 */
import * as tf from '@tensorflow/tfjs';

interface EngineInternals {
  state: { numBytes: number; tensorInfo: WeakMap<object, { bytes: number }> };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
}

export interface PeakMemory {
  readonly peakBufferBytes: number;
  readonly peakNumBytes: number;
  /**
   * With `{ holders: true }`: the buffers made during `fn` that were alive at the high-water mark
   * (within 1 MiB of it), grouped by shape and dtype, largest first.
   */
  readonly holders?: readonly PeakHolder[];
}

export interface PeakHolder {
  /** e.g. 'float32 [8,256,576]' */
  readonly shape: string;
  readonly count: number;
  readonly bytes: number;
}

export async function trackPeak(
  fn: () => Promise<void>,
  options: { holders?: boolean } = {},
): Promise<PeakMemory> {
  const engine = tf.engine() as unknown as EngineInternals;
  const live = options.holders ? new Map<object, { shape: string; bytes: number }>() : null;
  let holders: PeakHolder[] | undefined = live ? [] : undefined;
  let snapshotAt = 0;
  const { trackTensor, removeDataId } = engine;
  // tensorInfo is a WeakMap (not iterable): start from numBytes, which equals the buffers' bytes
  // whenever no two live tensors share a buffer (between steps: no saved clones are alive).
  let buffers = engine.state.numBytes;
  let peakBufferBytes = buffers;
  let peakNumBytes = engine.state.numBytes;
  engine.trackTensor = function (this: EngineInternals, a, backend) {
    const known = this.state.tensorInfo.has(a.dataId);
    trackTensor.call(this, a, backend);
    if (!known) {
      const bytes = this.state.tensorInfo.get(a.dataId)?.bytes ?? 0;
      buffers += bytes;
      live?.set(a.dataId, { shape: `${a.dtype} [${a.shape.join(',')}]`, bytes });
    }
    peakBufferBytes = Math.max(peakBufferBytes, buffers);
    // Re-listed each time the mark rises by 1 MiB: the list is the peak's within that margin.
    if (live && buffers > snapshotAt + 2 ** 20) {
      snapshotAt = buffers;
      holders = group(live.values());
    }
    peakNumBytes = Math.max(peakNumBytes, this.state.numBytes);
  };
  engine.removeDataId = function (this: EngineInternals, dataId, backend) {
    const bytes = this.state.tensorInfo.get(dataId)?.bytes ?? 0;
    removeDataId.call(this, dataId, backend);
    if (!this.state.tensorInfo.has(dataId)) {
      buffers -= bytes;
      live?.delete(dataId);
    }
  };
  try {
    await fn();
    return holders ? { peakBufferBytes, peakNumBytes, holders } : { peakBufferBytes, peakNumBytes };
  } finally {
    engine.trackTensor = trackTensor;
    engine.removeDataId = removeDataId;
  }
}

function group(buffers: Iterable<{ shape: string; bytes: number }>): PeakHolder[] {
  const byShape = new Map<string, PeakHolder>();
  for (const { shape, bytes } of buffers) {
    const prev = byShape.get(shape);
    byShape.set(shape, { shape, count: (prev?.count ?? 0) + 1, bytes: (prev?.bytes ?? 0) + bytes });
  }
  return [...byShape.values()].sort((a, b) => b.bytes - a.bytes);
}
