/**
 * Cast for the wasm backend, correcting casts to bool. The package's kernel copies values with
 * `TypedArray.set`, which converts each number into the bool tensor's Uint8Array modulo 256
 * (0.5 → 0, 256 → 0, −1 → 255, −2 → 254): anything in (−1, 1) comes out false and true is not
 * always 1. TF.js defines bool(x) = (x ≠ 0), NaN included, as the cpu backend computes. Every
 * other cast goes to the package's own kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from './wasm-heap';

export const CAST = 'Cast';

/** bool(x) = 1 where x ≠ 0 (NaN ≠ 0 too), else 0. */
export function toBool(x: ArrayLike<number>, out: Uint8Array): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] === 0 ? 0 : 1;
}

/** Wraps the package's Cast kernel; `original` handles every cast but numbers to bool. */
export function makeCast(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { dtype } = args.attrs as unknown as tf.CastAttrs;
    if (dtype !== 'bool' || x.dtype === 'bool' || x.dtype === 'string') return original(args);
    const wasm = asWasmBackend(args.backend, CAST);
    const out = wasm.makeOutput(x.shape, 'bool');
    toBool(wasm.typedArrayFromHeap(x), wasm.typedArrayFromHeap(out) as Uint8Array);
    return out;
  };
}
