/**
 * Parameter types of the Loops API, with the Loops defaults: `SamplingParams`, `AdamParams`,
 * `WandbConfig`. Constructed from one object of their fields, like Python's keyword constructors:
 * anything but such an object, or an unknown field (a misspelt `max_new_tokens` would otherwise be
 * dropped silently), is a `ValidationError`. Values are checked where they are used (the client
 * validates before submitting).
 */
import { ValidationError } from '../../errors/loops-errors';
import { describe } from '../describe';
import type { AdamParamsFields, SamplingParamsFields } from '../../protocol/wire-types';

export type { AdamParamsFields, SamplingParamsFields };

const SAMPLING_FIELDS = ['max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop'];
const ADAM_FIELDS = ['learning_rate', 'beta1', 'beta2', 'eps', 'weight_decay', 'grad_clip_norm'];

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
    this.max_tokens = fields.max_tokens ?? null;
    this.temperature = fields.temperature ?? 1.0;
    this.top_p = fields.top_p ?? 1.0;
    this.top_k = fields.top_k ?? -1;
    this.seed = fields.seed ?? null;
    this.stop = fields.stop ?? null;
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
    this.learning_rate = fields.learning_rate ?? 1e-4;
    this.beta1 = fields.beta1 ?? 0.9;
    this.beta2 = fields.beta2 ?? 0.95;
    this.eps = fields.eps ?? 1e-12;
    this.weight_decay = fields.weight_decay ?? 0;
    this.grad_clip_norm = fields.grad_clip_norm ?? 0;
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
