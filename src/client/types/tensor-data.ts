/**
 * `TensorData`: a flat array of numbers with a dtype ('int64' or 'float32', the two Loops dtypes)
 * and a shape. The page side never loads TF.js: `from_tf` reads any tensor-like object, and
 * `to_tf` takes the caller's TF.js module.
 */
import { ValidationError } from '../../errors/loops-errors';
import { describe as show } from '../describe';

export type TensorDtype = 'int64' | 'float32';

/** A number, or lists of them nested as deep as a shape's rank. */
export type NestedNumbers = number | NestedNumbers[];

interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  dataSync(): ArrayLike<number>;
}

interface TfLike {
  tensor(values: ArrayLike<number>, shape: number[], dtype: 'int32' | 'float32'): unknown;
}

export class TensorData {
  readonly data: readonly number[];
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];

  constructor(fields: {
    data: ArrayLike<number>;
    dtype: TensorDtype;
    shape?: readonly number[] | null;
  }) {
    if (fields.dtype !== 'int64' && fields.dtype !== 'float32') {
      throw new ValidationError(
        `TensorData dtype must be 'int64' or 'float32', got ${show(fields.dtype)}.`,
      );
    }
    this.data = Object.freeze(Array.from(fields.data));
    this.dtype = fields.dtype;
    this.shape = Object.freeze([...(fields.shape ?? [this.data.length])]);
    const size = this.shape.reduce((a, b) => a * b, 1);
    if (size !== this.data.length) {
      throw new ValidationError(
        `TensorData shape [${this.shape.join(', ')}] holds ${size} values but data has ${this.data.length}; the shape must match the data (omit shape for a flat list).`,
      );
    }
  }

  /** From a typed array (Int32Array/BigInt-free integers → int64, floats → float32). */
  static from_array(array: ArrayLike<number>, shape?: readonly number[]): TensorData {
    const isInt =
      array instanceof Int32Array ||
      array instanceof Int16Array ||
      array instanceof Int8Array ||
      array instanceof Uint8Array ||
      array instanceof Uint16Array ||
      array instanceof Uint32Array;
    return new TensorData({ data: array, dtype: isInt ? 'int64' : 'float32', shape });
  }

  /** From a TF.js tensor (float dtypes → float32, others → int64), as Python's `from_torch`. */
  static from_tf(tensor: TensorLike): TensorData {
    return new TensorData({
      data: tensor.dataSync(),
      dtype: tensor.dtype === 'float32' ? 'float32' : 'int64',
      shape: tensor.shape,
    });
  }

  /** A TF.js tensor from this data; pass your TF.js module (`import * as tf from '@tensorflow/tfjs'`). */
  to_tf<T>(tf: TfLike): T {
    return tf.tensor(this.data, [...this.shape], this.dtype === 'int64' ? 'int32' : 'float32') as T;
  }

  /**
   * The values nested by `shape`, as numpy's `tolist()` (the Python SDK's `tolist()`): a list per
   * axis, the number itself for a 0-d shape. Pass the type the shape gives, e.g.
   * `tolist<number[][]>()`; the default suits the usual 1-D data.
   */
  tolist<T extends NestedNumbers = number[]>(): T {
    return nest(this.data, this.shape, 0, 0) as T;
  }

  toJSON() {
    return { data: [...this.data], dtype: this.dtype, shape: [...this.shape] };
  }
}

/** The block of `data` at `offset` for axes `shape[axis…]`, as nested lists. */
function nest(
  data: readonly number[],
  shape: readonly number[],
  axis: number,
  offset: number,
): NestedNumbers {
  if (axis === shape.length) return data[offset] as number;
  const n = shape[axis] as number;
  const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => nest(data, shape, axis + 1, offset + i * stride));
}
