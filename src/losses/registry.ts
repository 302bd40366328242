/**
 * The built-in losses by Loops name, and the call-time checks of `loss_fn_inputs` / `loss_fn_config`.
 *
 * A lookup table, not an if-chain: adding a loss is one file and one line here. Checks report every
 * problem as a `ValidationError` that names the loss, the key and the fix; per-datum lengths and
 * token ids are checked by whoever builds the tensors.
 */
import { ValidationError } from '../errors/loops-errors';
import { cispo } from './cispo';
import { crossEntropy } from './cross-entropy';
import { dro } from './dro';
import { importanceSampling } from './importance-sampling';
import type { LossConfig, LossName, LossSpec } from './loss-spec';
import { ppo } from './ppo';

export const LOSSES: Readonly<Record<LossName, LossSpec>> = Object.freeze({
  cross_entropy: crossEntropy,
  importance_sampling: importanceSampling,
  ppo,
  cispo,
  dro,
});

export const LOSS_NAMES = Object.freeze(Object.keys(LOSSES) as LossName[]);

export function isLossName(name: unknown): name is LossName {
  return typeof name === 'string' && Object.hasOwn(LOSSES, name);
}

/** The spec for `name`, or a ValidationError listing the known names. */
export function getLoss(name: string): LossSpec {
  if (!isLossName(name)) throw unknownLossError(name);
  return LOSSES[name];
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
  const spec = LOSSES[name];
  const present = new Set(keys);
  const errors: ValidationError[] = [];
  for (const key of spec.requiredInputs) {
    if (!present.has(key)) {
      errors.push(
        new ValidationError(
          `Loss '${name}': loss_fn_inputs is missing '${key}'; ${name} needs ` +
            `${listKeys(spec.requiredInputs)}. Add '${key}' to every Datum.`,
        ),
      );
    }
  }
  const allowed = new Set<string>([...spec.requiredInputs, ...spec.optionalInputs]);
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
  return [...errors, ...validateLossConfig(spec, config)];
}

/** The problems with `config` for `spec`, as ValidationErrors naming the key. */
function validateLossConfig(
  spec: LossSpec,
  config: Readonly<Record<string, unknown>> | null | undefined,
): ValidationError[] {
  if (config == null) return [];
  const name = spec.name;
  if (typeof config !== 'object' || Array.isArray(config)) {
    return [
      new ValidationError(
        `Loss '${name}': loss_fn_config must be an object of numbers, got ${describe(config)}.`,
      ),
    ];
  }
  const known = Object.keys(spec.configDefaults);
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
            `(default ${spec.configDefaults[key]}).`,
        ),
      );
    }
  }
  if (errors.length) return errors;
  const merged = mergeDefaults(spec, config as Record<string, number>);
  return spec.checkConfig(merged).map((p) => new ValidationError(`Loss '${name}': ${p}`));
}

/**
 * `config` over the loss's defaults, frozen. Throws the first ValidationError if the config is
 * invalid (call `validateLossInputs` first to report all of them).
 */
export function resolveLossConfig(
  name: string,
  config?: Readonly<Record<string, unknown>> | null,
): LossConfig {
  const spec = getLoss(name);
  const [first] = validateLossConfig(spec, config);
  if (first) throw first;
  return mergeDefaults(spec, (config ?? {}) as Record<string, number>);
}

function mergeDefaults(spec: LossSpec, config: Readonly<Record<string, number>>): LossConfig {
  return Object.freeze({ ...spec.configDefaults, ...config });
}

function listKeys(keys: readonly string[]): string {
  return keys.map((k) => `'${k}'`).join(', ');
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string '${value}'`;
  if (Array.isArray(value)) return 'an array';
  return String(value);
}
