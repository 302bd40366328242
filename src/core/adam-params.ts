/**
 * Loops `AdamParams`: field names, defaults and valid ranges, checked the same way on the page
 * (at call time) and in the engine. No TF.js here.
 */
import { ValidationError } from '../errors/loops-errors';

export interface AdamHyperparams {
  /** Step size γ; ≥ 0. */
  readonly learning_rate: number;
  /** First-moment decay; in [0, 1). */
  readonly beta1: number;
  /** Second-moment decay; in [0, 1). */
  readonly beta2: number;
  /** Added to sqrt(v̂) in the denominator; > 0. */
  readonly eps: number;
  /** Decoupled weight decay λ: p ← p·(1 − γλ) before the Adam update; ≥ 0. */
  readonly weight_decay: number;
  /** Global L2 norm the gradients are clipped to; 0 = no clipping; ≥ 0. */
  readonly grad_clip_norm: number;
}

/** Loops' defaults (shared/LOOPS_API.md, `AdamParams`). */
export const ADAM_DEFAULTS: AdamHyperparams = Object.freeze({
  learning_rate: 1e-4,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-12,
  weight_decay: 0,
  grad_clip_norm: 0,
});

type Check = (x: number) => boolean;

// torch.optim.AdamW's ranges, except eps > 0 (not ≥ 0) so the denominator can never be 0.

const RULES: Readonly<Record<keyof AdamHyperparams, readonly [Check, string]>> = Object.freeze({
  learning_rate: [(x) => x >= 0, 'a finite number ≥ 0 (default 1e-4)'],
  beta1: [(x) => x >= 0 && x < 1, 'in [0, 1) (default 0.9)'],
  beta2: [(x) => x >= 0 && x < 1, 'in [0, 1) (default 0.95)'],
  eps: [(x) => x > 0, 'a finite number > 0 (default 1e-12)'],
  weight_decay: [(x) => x >= 0, 'a finite number ≥ 0 (default 0)'],
  grad_clip_norm: [(x) => x >= 0, 'a finite number ≥ 0 (0 = no clipping)'],
});

/** Throws a ValidationError naming the first field that is out of range or not a finite number. */
export function validateAdamParams(hp: AdamHyperparams): void {
  for (const [field, [ok, expected]] of Object.entries(RULES)) {
    const value: unknown = hp[field as keyof AdamHyperparams];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      throw new ValidationError(`AdamParams.${field} is ${String(value)}; it must be ${expected}.`);
    }
  }
}

/**
 * `params` over the Loops defaults, validated and frozen. Unknown fields are a ValidationError
 * (a misspelt `learning_rat` would otherwise train silently at the default).
 */
export function resolveAdamParams(params?: Partial<AdamHyperparams> | null): AdamHyperparams {
  for (const key of Object.keys(params ?? {})) {
    if (!Object.hasOwn(ADAM_DEFAULTS, key)) {
      throw new ValidationError(
        `AdamParams has unknown field '${key}'; use ${Object.keys(ADAM_DEFAULTS).join(', ')}.`,
      );
    }
  }
  const merged: AdamHyperparams = Object.freeze({ ...ADAM_DEFAULTS, ...stripUndefined(params) });
  validateAdamParams(merged);
  return merged;
}

function stripUndefined(params?: Partial<AdamHyperparams> | null): Partial<AdamHyperparams> {
  return Object.fromEntries(Object.entries(params ?? {}).filter(([, v]) => v !== undefined));
}
