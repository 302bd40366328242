/**
 * Identity on wasm without a copy: the output shares the input's buffer (one more reference), as
 * the cpu backend does. The package's kernel copies, and TF.js runs Identity for every tensor it
 * saves for a backward pass, so each frozen weight a matMul reads was copied once per training
 * step (bench/real-size.ts measured peak tensor memory at 3.4–3.9× the weights because of it).
 * Safe because tensors are immutable: a variable's `assign` replaces its buffer, never writes in place.
 */
import type * as tf from '@tensorflow/tfjs';

export const IDENTITY = 'Identity';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

export function makeIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return original(args); // string tensors live outside the heap
    (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
