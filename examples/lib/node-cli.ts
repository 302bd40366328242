/**
 * Node-only helpers for the examples' command lines: flags, a `ServiceClient` with the engine
 * in-process (optionally over another models folder), and a file loader for public/datasets.
 * The examples import this lazily, only when run as scripts, so the app can import them in a
 * browser without pulling in `node:` modules.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ServiceClient,
  ValidationError,
  createNodeEngine,
  inProcessLink,
  registerPlacement,
} from '../../src/node';
import type { ServiceClientOptions } from '../../src/node';
import type { TextLoader } from './jsonl';

export const DATASETS_DIR = fileURLToPath(new URL('../../public/datasets/', import.meta.url));

/** `--name value` flags (all strings here; convert with `numberFlag`). Unknown flags throw. */
export function readFlags<K extends string>(
  argv: readonly string[],
  names: readonly K[],
): Partial<Record<K, string>> {
  const options = Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
  try {
    return parseArgs({ args: [...argv], options, strict: true }).values as Partial<
      Record<K, string>
    >;
  } catch (error) {
    throw new ValidationError(
      `${(error as Error).message}; the flags are ${names.map((n) => `--${n}`).join(', ')}.`,
    );
  }
}

/** A flag's number, or `fallback` when absent; throws naming the flag when not a positive number. */
export function numberFlag(
  name: string,
  text: string | undefined,
  fallback: number,
  integer: boolean,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new ValidationError(
      `--${name} ${text} must be a positive ${integer ? 'integer' : 'number'}.`,
    );
  }
  return n;
}

/** A flag's integer ≥ 0, or `fallback` when absent. */
export function integerFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ValidationError(`--${name} ${text} must be an integer ≥ 0.`);
  }
  return n;
}

/**
 * A client whose engine runs in this process, serving the shipped models or those of `modelsDir`;
 * or, when LOOPS_BASE_URL is set, a remote service there (`loops-web serve`, or any Tinker-compatible
 * one), with LOOPS_API_KEY as its key. Only the ServiceClient's options change; the loop does not.
 */
export function nodeService(
  options: { modelsDir?: string; backend?: string },
  env: NodeJS.ProcessEnv = process.env,
): ServiceClient {
  if (env.LOOPS_BASE_URL) {
    return new ServiceClient({
      engine: 'remote',
      base_url: env.LOOPS_BASE_URL,
      api_key: env.LOOPS_API_KEY || undefined,
    });
  }
  let engine = 'in-process';
  if (options.modelsDir) {
    const dir = resolve(options.modelsDir);
    engine = `in-process:${dir}`;
    registerPlacement(engine, () => inProcessLink(createNodeEngine({ modelsDir: dir })));
  }
  return new ServiceClient({
    engine,
    backend: (options.backend ?? 'auto') as ServiceClientOptions['backend'],
  });
}

/** Reads dataset files from a folder (default: the repository's public/datasets). */
export function datasetFileLoader(dir = DATASETS_DIR): TextLoader {
  return (file) => readFile(join(dir, file), 'utf8');
}
