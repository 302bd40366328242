/**
 * `Datum`: one training example: the (already shifted) input tokens and per-position loss inputs.
 * Plain arrays in `loss_fn_inputs` convert as the Python SDK does: `target_tokens` → int64,
 * everything else → float32; plain `{ data, dtype, shape }` objects become `TensorData`.
 */
import { ValidationError } from '../../errors/loops-errors';
import { describe as show } from '../describe';
import { ModelInput, type ChunkLike } from './model-input';
import { TensorData, type TensorDtype } from './tensor-data';

export type TensorDataLike =
  | TensorData
  | ArrayLike<number>
  | { data: ArrayLike<number>; dtype: TensorDtype; shape?: readonly number[] | null };

export interface DatumFields {
  model_input: ModelInput | { chunks: readonly ChunkLike[] };
  loss_fn_inputs: Record<string, TensorDataLike>;
}

const INT_KEYS = new Set(['target_tokens']);

export class Datum {
  readonly model_input: ModelInput;
  readonly loss_fn_inputs: Readonly<Record<string, TensorData>>;

  constructor(fields: DatumFields) {
    if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
      throw new ValidationError(
        'Datum needs { model_input, loss_fn_inputs }; build one with new Datum({ model_input, loss_fn_inputs }).',
      );
    }
    const inputsIn: unknown = fields.loss_fn_inputs ?? {};
    if (typeof inputsIn !== 'object' || Array.isArray(inputsIn) || inputsIn === null) {
      throw new ValidationError(
        `loss_fn_inputs must be an object of named arrays (for example { target_tokens: [...] }), got ${show(inputsIn)}.`,
      );
    }
    this.model_input = ModelInput.from_json(fields.model_input);
    const inputs: Record<string, TensorData> = {};
    for (const [key, value] of Object.entries(inputsIn as Record<string, TensorDataLike>)) {
      // defineProperty, so that a '__proto__' key stays a key (and is rejected as unknown)
      // instead of silently replacing the object's prototype.
      Object.defineProperty(inputs, key, {
        value: toTensorData(key, value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    this.loss_fn_inputs = Object.freeze(inputs);
  }

  /** A `Datum` from itself or a plain object of its fields (e.g. JSON made by the Python SDK). */
  static from_json(value: Datum | DatumFields): Datum {
    return value instanceof Datum ? value : new Datum(value);
  }

  toJSON() {
    const inputs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.loss_fn_inputs)) inputs[k] = v.toJSON();
    return { model_input: this.model_input.toJSON(), loss_fn_inputs: inputs };
  }
}

function toTensorData(key: string, value: TensorDataLike): TensorData {
  if (value instanceof TensorData) return value;
  try {
    if (value && typeof value === 'object' && 'dtype' in value && 'data' in value)
      return new TensorData(value);
    if (Array.isArray(value) || ArrayBuffer.isView(value)) {
      return new TensorData({
        data: value as ArrayLike<number>,
        dtype: INT_KEYS.has(key) ? 'int64' : 'float32',
      });
    }
  } catch (error) {
    throw new ValidationError(`loss_fn_inputs.${key}: ${(error as Error).message}`);
  }
  throw new ValidationError(
    `loss_fn_inputs.${key} must be an array of numbers or a TensorData, got ${show(value)}.`,
  );
}
