/**
 * Parameter types of the Loops API, with the Loops defaults (one source: src/core's
 * `SAMPLING_DEFAULTS` and `ADAM_DEFAULTS`): `SamplingParams`, `AdamParams`, `WandbConfig`. Constructed from one object of their fields, like Python's keyword constructors:
 * anything but such an object, or an unknown field (a misspelt `max_new_tokens` would otherwise be
 * dropped silently), is a `ValidationError`. Values are checked where they are used (the client
 * validates before submitting).
 */
import { ValidationError } from '../../errors/loops-errors';
import { describe } from '../describe';
import type { AdamParamsFields, SamplingParamsFields } from '../../protocol/wire-types';
import { ADAM_DEFAULTS } from '../../core/adam-params';
import { SAMPLING_DEFAULTS } from '../../core/sampling-params';

export type { AdamParamsFields, SamplingParamsFields };

const SAMPLING_FIELDS = Object.keys(SAMPLING_DEFAULTS);
const ADAM_FIELDS = Object.keys(ADAM_DEFAULTS);

/** `fields` must be an object (plain, or an instance of the type) holding only `known` keys. */
function checkFields(type: string, fields: unknown, known: readonly string[]): void {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new ValidationError(
      `${type} takes one object of its fields (${known.join(', ')}), got ${describe(fields)}; ` +
        `for example new ${type}({ ${known[0]}: ... }).`,
    );
  }
  const unknown = Object.keys(fields).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new ValidationError(
      `${type} has unknown field ${unknown.map((k) => `'${k}'`).join(', ')}; use ${known.join(', ')}.`,
    );
  }
}

export class SamplingParams {
  /** Tokens to generate at most; null = until a stop or the end of the context. */
  readonly max_tokens: number | null;
  /** Softmax temperature; 0 = greedy. */
  readonly temperature: number;
  /** Nucleus mass kept; 1 = off. */
  readonly top_p: number;
  /** Most likely tokens kept; -1 = off. */
  readonly top_k: number;
  /** Same seed and inputs ⇒ same tokens; null = random. */
  readonly seed: number | null;
  /** Stop strings (excluded from the output) or stop token ids (included). */
  readonly stop: string | readonly string[] | readonly number[] | null;

  constructor(fields: Partial<SamplingParamsFields> = {}) {
    checkFields('SamplingParams', fields, SAMPLING_FIELDS);
    const d = SAMPLING_DEFAULTS;
    this.max_tokens = fields.max_tokens ?? d.max_tokens;
    this.temperature = fields.temperature ?? d.temperature;
    this.top_p = fields.top_p ?? d.top_p;
    this.top_k = fields.top_k ?? d.top_k;
    this.seed = fields.seed ?? d.seed;
    this.stop = fields.stop ?? d.stop;
  }

  toJSON(): SamplingParamsFields {
    return {
      max_tokens: this.max_tokens,
      temperature: this.temperature,
      top_p: this.top_p,
      top_k: this.top_k,
      seed: this.seed,
      stop: this.stop,
    };
  }
}

export class AdamParams {
  readonly learning_rate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled (AdamW) weight decay. */
  readonly weight_decay: number;
  /** Global-norm gradient clipping; 0 = off. */
  readonly grad_clip_norm: number;

  constructor(fields: Partial<AdamParamsFields> = {}) {
    checkFields('AdamParams', fields, ADAM_FIELDS);
    const d = ADAM_DEFAULTS;
    this.learning_rate = fields.learning_rate ?? d.learning_rate;
    this.beta1 = fields.beta1 ?? d.beta1;
    this.beta2 = fields.beta2 ?? d.beta2;
    this.eps = fields.eps ?? d.eps;
    this.weight_decay = fields.weight_decay ?? d.weight_decay;
    this.grad_clip_norm = fields.grad_clip_norm ?? d.grad_clip_norm;
  }

  toJSON(): AdamParamsFields {
    return {
      learning_rate: this.learning_rate,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weight_decay: this.weight_decay,
      grad_clip_norm: this.grad_clip_norm,
    };
  }
}

/** Accepted for compatibility: metrics go to the client's listeners and history, never the network. */
export class WandbConfig {
  readonly project: string;
  readonly name: string | null;

  constructor(fields: { project: string; name?: string | null }) {
    this.project = fields.project;
    this.name = fields.name ?? null;
  }
}
