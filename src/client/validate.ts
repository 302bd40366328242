/**
 * Call-time checks on the page: every argument is checked before anything is submitted, and a bad
 * call throws a `ValidationError` that names the datum, the field and the fix. Checked data is
 * converted to its wire form (typed arrays, transferable).
 */
import { ValidationError } from '../errors/loops-errors';
import { describe } from './describe';
import { resolveAdamParams } from '../core/adam-params';
import { validateLossInputs } from '../core/loss-schema';
import type { WireDatum } from '../protocol/wire-types';
import { Datum, type DatumFields } from './types/datum';
import { ModelInput } from './types/model-input';
import { AdamParams, type AdamParamsFields } from './types/params';

export interface ModelLimits {
  readonly vocabSize: number;
  readonly maxSeqLen: number;
}

const IGNORE = -100;
/** The largest finite float32; a finite number beyond it becomes ±Infinity on the way in. */
const FLOAT32_MAX = 3.4028234663852886e38;
const CHECKPOINT_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const CHECKPOINT_PATH =
  /^idb:\/\/loops:[A-Za-z0-9_-]+\/(weights|sampler_weights)\/[A-Za-z0-9_.-]{1,128}$/;
/** A remote service's checkpoint path (the Tinker protocol's `tinker://<run>/weights/<name>`). */
const TINKER_PATH = /^tinker:\/\/[^/\s]+\/(weights|sampler_weights)\/[^/\s]{1,256}$/;

/** Checks a batch for `lossFn` and returns its wire form; nothing is submitted if this throws. */
export function checkBatch(
  data: unknown,
  lossFn: unknown,
  config: unknown,
  limits: ModelLimits,
  options: { anyInputs?: boolean } = {},
): { wire: WireDatum[]; config: Record<string, number> } {
  if (!Array.isArray(data) || data.length === 0) {
    throw new ValidationError(
      'data must be a non-empty array of Datum; wrap a single Datum in [ ].',
    );
  }
  if (typeof lossFn !== 'string')
    throw new ValidationError(`loss_fn must be a loss name string, got ${typeof lossFn}.`);
  if (config != null && !isPlainObject(config)) {
    throw new ValidationError(
      `loss_fn_config must be a plain object of numbers (for example { beta: 0.05 }), got ${describe(config)}.`,
    );
  }
  const datums = data.map((d, i) => {
    try {
      return Datum.from_json(d as Datum | DatumFields);
    } catch (error) {
      throw new ValidationError(`Datum ${i}: ${(error as Error).message}`);
    }
  });
  const keys = new Set(datums.flatMap((d) => Object.keys(d.loss_fn_inputs)));
  if (options.anyInputs) {
    // A custom loss reads whatever keys it likes; only the targets are needed for the log-probs.
    if (!keys.has('target_tokens')) {
      throw new ValidationError(
        'every Datum needs loss_fn_inputs.target_tokens for a custom loss.',
      );
    }
  } else {
    const cfg = (config ?? null) as Record<string, unknown> | null;
    const [first] = validateLossInputs(lossFn, keys, cfg);
    if (first) throw first;
  }
  for (const [i, d] of datums.entries()) {
    const missing = [...keys].filter((k) => !(k in d.loss_fn_inputs));
    if (missing.length)
      throw new ValidationError(
        `Datum ${i}: loss_fn_inputs lacks ${missing.join(', ')}, which other Datums in the batch have; every Datum needs the same keys.`,
      );
  }
  if (config != null) checkFloat32Fields('loss_fn_config', config as Record<string, unknown>);
  return {
    wire: datums.map((d, i) => toWire(d, i, limits)),
    config: (config ?? {}) as Record<string, number>,
  };
}

/**
 * Numbers that become float32 in the engine must be finite there: 1e39 is a finite double but
 * Infinity in float32, and would turn the loss or the weights into NaN.
 */
export function checkFloat32Fields(what: string, fields: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'number' && Number.isFinite(value) && Math.abs(value) > FLOAT32_MAX) {
      throw new ValidationError(
        `${what}.${key} is ${value}, beyond float32 range (|x| ≤ 3.4e38), where the engine computes; use a smaller value.`,
      );
    }
  }
}

/** Checks prompt tokens (text only, in the vocabulary, not empty) and returns them. */
export function checkPrompt(prompt: unknown, limits: ModelLimits, what = 'prompt'): Int32Array {
  let input: ModelInput;
  try {
    input = ModelInput.from_json(prompt as ModelInput);
  } catch (error) {
    throw new ValidationError(`${what}: ${(error as Error).message}`);
  }
  const tokens = textTokens(input, what);
  if (tokens.length === 0) throw new ValidationError(`${what} is empty; give at least one token.`);
  checkIds(tokens, limits.vocabSize, what);
  if (tokens.length >= limits.maxSeqLen) {
    throw new ValidationError(
      `${what} has ${tokens.length} tokens; the model's context is ${limits.maxSeqLen}, leaving no room to generate. Shorten it.`,
    );
  }
  return Int32Array.from(tokens);
}

function toWire(d: Datum, i: number, limits: ModelLimits): WireDatum {
  const tokens = textTokens(d.model_input, `Datum ${i}: model_input`);
  const N = tokens.length;
  if (N === 0)
    throw new ValidationError(`Datum ${i}: model_input is empty; give at least one token.`);
  if (N > limits.maxSeqLen) {
    throw new ValidationError(
      `Datum ${i}: model_input has ${N} tokens, more than max_seq_len ${limits.maxSeqLen}; truncate it.`,
    );
  }
  checkIds(tokens, limits.vocabSize, `Datum ${i}: model_input`);
  const inputs: Record<string, Float32Array | Int32Array> = {};
  for (const [key, td] of Object.entries(d.loss_fn_inputs)) {
    if (td.data.length !== N) {
      throw new ValidationError(
        `Datum ${i}: ${key} has ${td.data.length} entries but model_input has ${N}; they must be equal.`,
      );
    }
    if (key === 'target_tokens') {
      td.data.forEach((t, p) => {
        if (t !== IGNORE && (!Number.isInteger(t) || t < 0 || t >= limits.vocabSize)) {
          throw new ValidationError(
            `Datum ${i}: target_tokens[${p}] = ${describe(t)} is outside the vocabulary [0, ${limits.vocabSize}); use -100 to ignore a position.`,
          );
        }
      });
      inputs[key] = Int32Array.from(td.data);
    } else {
      const bad = td.data.findIndex((v) => !Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX);
      if (bad >= 0)
        throw new ValidationError(
          `Datum ${i}: ${key}[${bad}] is ${describe(td.data[bad])}; every value must be a finite number within float32 range (|x| ≤ 3.4e38).`,
        );
      inputs[key] = Float32Array.from(td.data);
    }
  }
  return { tokens: Int32Array.from(tokens), inputs };
}

/** A checkpoint name for `method` (save_state, save_weights_for_sampler, …), or a ValidationError. */
export function checkCheckpointName(method: string, name: unknown): string {
  if (typeof name !== 'string' || !CHECKPOINT_NAME.test(name)) {
    throw new ValidationError(
      `${method} needs a name of 1–128 letters, digits, '_', '.' or '-' (for example "step-10"), got ${describe(name)}.`,
    );
  }
  return name;
}

/**
 * A checkpoint path (`idb://loops:<run_id>/weights/<name>` or `…/sampler_weights/<name>`; from a
 * remote service, `tinker://<run_id>/weights/<name>` or `…/sampler_weights/<name>`).
 */
export function checkCheckpointPath(method: string, path: unknown, field = 'path'): string {
  if (typeof path !== 'string') {
    throw new ValidationError(
      `${method} needs ${field}: a checkpoint path from save_state (idb://loops:<run>/weights/<name>), got ${describe(path)}.`,
    );
  }
  if (!CHECKPOINT_PATH.test(path) && !TINKER_PATH.test(path)) {
    throw new ValidationError(
      `${method}: ${field} ${describe(path)} is not a checkpoint path; pass the path save_state or save_weights_for_sampler returned (idb://loops:<run_id>/weights/<name> or …/sampler_weights/<name>).`,
    );
  }
  return path;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function textTokens(input: ModelInput, what: string): number[] {
  if (input.chunks.some((c) => c.type === 'image')) {
    throw new ValidationError(
      `${what} holds an image chunk, but this base model is text-only; pass token chunks only.`,
    );
  }
  return input.to_ints();
}

function checkIds(tokens: readonly number[], vocabSize: number, what: string): void {
  const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize);
  if (bad >= 0)
    throw new ValidationError(
      `${what}: token ${describe(tokens[bad])} at position ${bad} is outside the vocabulary [0, ${vocabSize}); token ids must be integers in that range.`,
    );
}

/** A checkpoint id or path argument: it must be a string (the engine resolves it). */
export function checkCheckpointId(id: unknown): string {
  if (typeof id !== 'string')
    throw new ValidationError(
      `checkpoint_id must be a checkpoint id or path (a string), got ${describe(id)}.`,
    );
  return id;
}

/** `optim_step`'s adam_params (an `AdamParams`, a plain object or nothing), checked, defaulted. */
export function checkAdamParams(value: unknown): AdamParamsFields {
  const raw = value ?? {};
  // The AdamParams constructor rejects a non-object and unknown fields; a plain object is then
  // checked as given (a null field too), before the defaults fill it in.
  const fields = (raw instanceof AdamParams ? raw : new AdamParams(raw)).toJSON();
  if (!(raw instanceof AdamParams)) resolveAdamParams(raw as Partial<AdamParamsFields>);
  resolveAdamParams(fields);
  checkFloat32Fields('AdamParams', fields as unknown as Record<string, unknown>);
  return fields;
}
