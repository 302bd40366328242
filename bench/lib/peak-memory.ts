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
}

export async function trackPeak(fn: () => Promise<void>): Promise<PeakMemory> {
  const engine = tf.engine() as unknown as EngineInternals;
  const { trackTensor, removeDataId } = engine;
  // tensorInfo is a WeakMap (not iterable): start from numBytes, which equals the buffers' bytes
  // whenever no two live tensors share a buffer (between steps: no saved clones are alive).
  let buffers = engine.state.numBytes;
  let peakBufferBytes = buffers;
  let peakNumBytes = engine.state.numBytes;
  engine.trackTensor = function (this: EngineInternals, a, backend) {
    const known = this.state.tensorInfo.has(a.dataId);
    trackTensor.call(this, a, backend);
    if (!known) buffers += this.state.tensorInfo.get(a.dataId)?.bytes ?? 0;
    peakBufferBytes = Math.max(peakBufferBytes, buffers);
    peakNumBytes = Math.max(peakNumBytes, this.state.numBytes);
  };
  engine.removeDataId = function (this: EngineInternals, dataId, backend) {
    const bytes = this.state.tensorInfo.get(dataId)?.bytes ?? 0;
    removeDataId.call(this, dataId, backend);
    if (!this.state.tensorInfo.has(dataId)) buffers -= bytes;
  };
  try {
    await fn();
    return { peakBufferBytes, peakNumBytes };
  } finally {
    engine.trackTensor = trackTensor;
    engine.removeDataId = removeDataId;
  }
}
