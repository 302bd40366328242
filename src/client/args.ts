/**
 * Both Loops calling forms: positional arguments in the Loops order, or one object of keyword
 * names as the last argument (`sample({ prompt, num_samples: 4 })`). A trailing plain object is
 * read as keywords only when every key is a parameter name of the method, so a positional
 * `loss_fn_config` object like `{ clip_low_threshold: 0.9 }` stays positional.
 */
import { ValidationError } from '../errors/loops-errors';

export type Args = Record<string, unknown>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Maps `args` onto `names`. `ignored` names are accepted and dropped (Loops compatibility);
 * any other unknown keyword is a ValidationError naming the method.
 */
export function parseArgs(
  method: string,
  names: readonly string[],
  args: readonly unknown[],
  ignored: readonly string[] = [],
): Args {
  const out: Args = {};
  let positional = args;
  const last = args[args.length - 1];
  if (args.length > 0 && isPlainObject(last)) {
    const keys = Object.keys(last);
    const known = new Set([...names, ...ignored]);
    if (keys.every((k) => known.has(k))) {
      positional = args.slice(0, -1);
      for (const [k, v] of Object.entries(last))
        if (!ignored.includes(k) && v !== undefined) out[k] = v;
    } else if (args.length === 1 && names.length > 0 && keys.some((k) => known.has(k))) {
      const unknown = keys.filter((k) => !known.has(k));
      throw new ValidationError(
        `${method}() got unknown keyword ${unknown.map((k) => `'${k}'`).join(', ')}; it takes ${names.join(', ')}.`,
      );
    }
  }
  if (positional.length > names.length) {
    throw new ValidationError(
      `${method}() takes at most ${names.length} arguments (${names.join(', ')}), got ${positional.length}.`,
    );
  }
  positional.forEach((value, i) => {
    const name = names[i] as string;
    if (name in out)
      throw new ValidationError(`${method}() got '${name}' both positionally and as a keyword.`);
    if (value !== undefined) out[name] = value;
  });
  return out;
}
