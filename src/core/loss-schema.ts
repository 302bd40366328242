/**
 * What each built-in loss accepts: its `loss_fn_inputs` keys, its `loss_fn_config` keys with their
 * defaults and ranges, and the call-time checks of both. No TF.js here, so the page can validate a
 * `forward_backward` call before anything is queued; the values, gradients and metrics of the
 * losses live in src/losses, whose specs extend these schemas.
 *
 * The keys and defaults are Loops' and Tinker's (shared/LOOPS_API.md, "Losses";
 * shared/reference/loops-api-notes.md §6): ppo's clip thresholds are absolute ratio bounds
 * (default 0.8 / 1.2, i.e. ε = 0.2), cispo's default to 0 / 4 (the Tinker cookbook's one-sided
 * clip), and dro's β defaults to 0.05 (the value of the Tinker docs' example). Checks report every
 * problem as a `ValidationError` that names the loss, the key and the fix; per-datum lengths and
 * token ids are checked by whoever builds the tensors.
 */
import { ValidationError } from '../errors/loops-errors';

/** The Loops loss names (`loss_fn`). */
export type LossName = 'cross_entropy' | 'importance_sampling' | 'ppo' | 'cispo' | 'dro';

/** Keys a Datum's `loss_fn_inputs` may carry for the built-in losses. */
export type LossInputKey = 'target_tokens' | 'weights' | 'logprobs' | 'advantages';

/** `loss_fn_config` after defaults are merged: every key the loss knows, as a number. */
export type LossConfig = Readonly<Record<string, number>>;

export interface LossSchema {
  readonly name: LossName;
  /** Keys every Datum must carry in `loss_fn_inputs`. */
  readonly requiredInputs: readonly LossInputKey[];
  /** Keys a Datum may carry; anything else is a validation error. */
  readonly optionalInputs: readonly LossInputKey[];
  /** `loss_fn_config` keys and their defaults; a key not listed is a validation error. */
  readonly configDefaults: LossConfig;
  /** Problems in a fully defaulted config beyond "finite number" (for example lo > hi). */
  checkConfig(config: LossConfig): string[];
}

/** The ratio thresholds of ppo and cispo, read from a defaulted config. */
export function clipThresholds(config: LossConfig): { lo: number; hi: number } {
  return { lo: config.clip_low_threshold ?? NaN, hi: config.clip_high_threshold ?? NaN };
}

/** Problems with clip_low_threshold / clip_high_threshold (already known to be finite). */
export function checkClipThresholds(config: LossConfig): string[] {
  const { lo, hi } = clipThresholds(config);
  const problems: string[] = [];
  if (lo < 0) {
    problems.push(
      `clip_low_threshold is ${lo}, but ratios are positive; use a value ≥ 0 (0 = no lower clip).`,
    );
  }
  if (lo > hi) {
    problems.push(
      `clip_low_threshold (${lo}) is greater than clip_high_threshold (${hi}); ` +
        'they are absolute ratio bounds, so pass lo ≤ hi (for example 0.8 and 1.2).',
    );
  }
  return problems;
}

/** Problems with dro's β (already known to be finite). */
function checkDroConfig(config: LossConfig): string[] {
  const beta = config.beta ?? NaN;
  return beta < 0
    ? [`beta is ${beta}, but it weighs a penalty; use a value ≥ 0 (for example 0.05).`]
    : [];
}

const noConfigProblems = (): string[] => [];

/** The policy-gradient losses all read the sampler's log-probs and the advantages. */
const POLICY_INPUTS: readonly LossInputKey[] = Object.freeze([
  'target_tokens',
  'logprobs',
  'advantages',
]);
const NO_INPUTS: readonly LossInputKey[] = Object.freeze([]);

/** The five built-in losses, in the order error messages list them. */
export const LOSS_SCHEMAS: Readonly<Record<LossName, LossSchema>> = Object.freeze({
  cross_entropy: Object.freeze<LossSchema>({
    name: 'cross_entropy',
    requiredInputs: Object.freeze(['target_tokens']),
    // Per-position float weights (Tinker: 0 = prompt, 1 = completion); default 1.
    optionalInputs: Object.freeze(['weights']),
    configDefaults: Object.freeze({}),
    checkConfig: noConfigProblems,
  }),
  importance_sampling: Object.freeze<LossSchema>({
    name: 'importance_sampling',
    requiredInputs: POLICY_INPUTS,
    optionalInputs: NO_INPUTS,
    configDefaults: Object.freeze({}),
    checkConfig: noConfigProblems,
  }),
  ppo: Object.freeze<LossSchema>({
    name: 'ppo',
    requiredInputs: POLICY_INPUTS,
    optionalInputs: NO_INPUTS,
    configDefaults: Object.freeze({
      /** Lower absolute bound on the ratio (1 − ε); ≥ 0. */
      clip_low_threshold: 0.8,
      /** Upper absolute bound on the ratio (1 + ε); ≥ clip_low_threshold. */
      clip_high_threshold: 1.2,
    }),
    checkConfig: checkClipThresholds,
  }),
  cispo: Object.freeze<LossSchema>({
    name: 'cispo',
    requiredInputs: POLICY_INPUTS,
    optionalInputs: NO_INPUTS,
    configDefaults: Object.freeze({
      /** Lower bound the importance weight is clipped to; ≥ 0 (0 = no lower clip). */
      clip_low_threshold: 0.0,
      /** Upper bound the importance weight is clipped to; ≥ clip_low_threshold. */
      clip_high_threshold: 4.0,
    }),
    checkConfig: checkClipThresholds,
  }),
  dro: Object.freeze<LossSchema>({
    name: 'dro',
    requiredInputs: POLICY_INPUTS,
    optionalInputs: NO_INPUTS,
    configDefaults: Object.freeze({
      /** Weight β of the ½(lp − q)² penalty; ≥ 0. */
      beta: 0.05,
    }),
    checkConfig: checkDroConfig,
  }),
});

export const LOSS_NAMES = Object.freeze(Object.keys(LOSS_SCHEMAS) as LossName[]);

export function isLossName(name: unknown): name is LossName {
  return typeof name === 'string' && Object.hasOwn(LOSS_SCHEMAS, name);
}

/** The schema for `name`, or a ValidationError listing the known names. */
export function getLossSchema(name: string): LossSchema {
  if (!isLossName(name)) throw unknownLossError(name);
  return LOSS_SCHEMAS[name];
}

function unknownLossError(name: string): ValidationError {
  return new ValidationError(`Unknown loss_fn '${name}'; use one of ${listKeys(LOSS_NAMES)}.`);
}

/**
 * Every problem with calling loss `name` on Datums whose `loss_fn_inputs` hold `keys`, with
 * `loss_fn_config` = `config` (null / undefined = defaults). An empty array means valid.
 */
export function validateLossInputs(
  name: string,
  keys: Iterable<string>,
  config?: Readonly<Record<string, unknown>> | null,
): ValidationError[] {
  if (!isLossName(name)) return [unknownLossError(name)];
  const schema = LOSS_SCHEMAS[name];
  const present = new Set(keys);
  const errors: ValidationError[] = [];
  for (const key of schema.requiredInputs) {
    if (!present.has(key)) {
      errors.push(
        new ValidationError(
          `Loss '${name}': loss_fn_inputs is missing '${key}'; ${name} needs ` +
            `${listKeys(schema.requiredInputs)}. Add '${key}' to every Datum.`,
        ),
      );
    }
  }
  const allowed = new Set<string>([...schema.requiredInputs, ...schema.optionalInputs]);
  for (const key of present) {
    if (!allowed.has(key)) {
      errors.push(
        new ValidationError(
          `Loss '${name}': loss_fn_inputs has '${key}', which ${name} does not use; ` +
            `remove it (${name} takes ${listKeys([...allowed])}).`,
        ),
      );
    }
  }
  return [...errors, ...validateLossConfig(schema, config)];
}

/** The problems with `config` for `schema`, as ValidationErrors naming the key. */
function validateLossConfig(
  schema: LossSchema,
  config: Readonly<Record<string, unknown>> | null | undefined,
): ValidationError[] {
  if (config == null) return [];
  const name = schema.name;
  if (typeof config !== 'object' || Array.isArray(config)) {
    return [
      new ValidationError(
        `Loss '${name}': loss_fn_config must be an object of numbers, got ${describe(config)}.`,
      ),
    ];
  }
  const known = Object.keys(schema.configDefaults);
  const errors: ValidationError[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!known.includes(key)) {
      const takes = known.length ? `takes ${listKeys(known)}` : 'takes no config';
      errors.push(
        new ValidationError(
          `Loss '${name}': loss_fn_config has unknown key '${key}'; ${name} ${takes}. Remove it.`,
        ),
      );
    } else if (typeof value !== 'number' || !Number.isFinite(value)) {
      errors.push(
        new ValidationError(
          `Loss '${name}': loss_fn_config.${key} is ${describe(value)}; it must be a finite number ` +
            `(default ${schema.configDefaults[key]}).`,
        ),
      );
    }
  }
  if (errors.length) return errors;
  const merged = mergeDefaults(schema, config as Record<string, number>);
  return schema.checkConfig(merged).map((p) => new ValidationError(`Loss '${name}': ${p}`));
}

/**
 * `config` over the loss's defaults, frozen. Throws the first ValidationError if the loss is
 * unknown or the config is invalid (call `validateLossInputs` first to report all of them).
 */
export function resolveLossConfig(
  name: string,
  config?: Readonly<Record<string, unknown>> | null,
): LossConfig {
  const schema = getLossSchema(name);
  const [first] = validateLossConfig(schema, config);
  if (first) throw first;
  return mergeDefaults(schema, (config ?? {}) as Record<string, number>);
}

function mergeDefaults(schema: LossSchema, config: Readonly<Record<string, number>>): LossConfig {
  return Object.freeze({ ...schema.configDefaults, ...config });
}

function listKeys(keys: readonly string[]): string {
  return keys.map((k) => `'${k}'`).join(', ');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string '${value}'`;
  if (Array.isArray(value)) return 'an array';
  return String(value);
}
