/**
 * The command line of bench/real-size.ts: its options, parsed and checked, and the same options
 * written back as arguments for the child process that runs one model.
 */
import { parseArgs } from 'node:util';
import type { GridShape } from './model-suite';

export interface Options {
  readonly models: string[];
  readonly backend: 'wasm' | 'cpu';
  readonly grid: GridShape[];
  readonly samples: number[];
  readonly decode: number;
  readonly reps: number;
  /** Shapes of the grid on which the naive baseline also runs. */
  readonly naive: GridShape[];
  readonly noCache: 'auto' | 'full' | 'sampled' | 'off';
  readonly throughFile: boolean;
  readonly stockWasm: boolean;
  /** The training step passes the cross-entropy's gradient hint, as the engine does (default). */
  readonly gradHint: boolean;
  /** Results go to bench/results/<date>-<name>.json (default `<backend>-real-size`). */
  readonly name: string;
  /** Set in a child process: where to write its `ChildResult`. */
  readonly childOut: string | undefined;
}

/** The options in `argv`, checked; `known` lists the model keys `--models` may name. */
export function parseOptions(argv: string[], known: readonly string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: 'tiny-llama,smollm2-135m,gpt2' },
      backend: { type: 'string', default: 'wasm' },
      grid: { type: 'string', default: '1x64,4x64,8x256' },
      samples: { type: 'string', default: '1,8' },
      decode: { type: 'string', default: '256' },
      reps: { type: 'string', default: '2' },
      'no-naive': { type: 'boolean', default: false },
      // The naive step keeps full [B·T, V] logits and every activation: at 8×256 on SmolLM2 that
      // passes wasm's 4 GiB heap, whose abort would end the process before the sampling figures.
      'naive-grid': { type: 'string', default: '1x64,4x64' },
      'no-cache': { type: 'string', default: 'auto' },
      'through-file': { type: 'boolean', default: false },
      'stock-wasm': { type: 'boolean', default: false },
      'no-grad-hint': { type: 'boolean', default: false },
      name: { type: 'string' },
      'child-out': { type: 'string' },
    },
  });
  const models = v.models.split(',').map((m) => m.trim().toLowerCase());
  const unknown = models.filter((m) => !known.includes(m));
  if (unknown.length) {
    throw new Error(
      `--models: unknown "${unknown.join('", "')}"; choose from ${known.join(', ')}.`,
    );
  }
  if (v.backend !== 'wasm' && v.backend !== 'cpu') {
    throw new Error(`--backend is "${v.backend}"; use wasm or cpu (webgpu needs a browser).`);
  }
  const noCache = v['no-cache'];
  if (noCache !== 'auto' && noCache !== 'full' && noCache !== 'sampled' && noCache !== 'off') {
    throw new Error(`--no-cache is "${noCache}"; use auto, full, sampled or off.`);
  }
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (Number.isInteger(n) && n >= 1) return n;
    throw new Error(`--${name} is "${text}"; it must be an integer ≥ 1.`);
  };
  const shapes = (flag: string, text: string) =>
    text.split(',').map((cell) => {
      const [b, t, extra] = cell.trim().split('x');
      if (b === undefined || t === undefined || extra !== undefined) {
        throw new Error(`--${flag} entry "${cell}" is not BxT (for example 4x64).`);
      }
      return { batch: int(`${flag} batch`, b), seq: int(`${flag} seq`, t) };
    });
  const grid = shapes('grid', v.grid);
  return {
    models,
    backend: v.backend,
    grid,
    samples: v.samples.split(',').map((n) => int('samples', n.trim())),
    decode: int('decode', v.decode),
    reps: int('reps', v.reps),
    naive: v['no-naive'] ? [] : shapes('naive-grid', v['naive-grid']),
    noCache,
    throughFile: v['through-file'],
    stockWasm: v['stock-wasm'],
    gradHint: !v['no-grad-hint'],
    name: v.name ?? `${v.backend}-real-size`,
    childOut: v['child-out'],
  };
}

/** The arguments that make a child run `key` with this run's settings. */
export function childArgs(key: string, o: Options): string[] {
  const flags = [
    ['--models', key],
    ['--backend', o.backend],
    ['--grid', o.grid.map((g) => `${g.batch}x${g.seq}`).join(',')],
    ['--samples', o.samples.join(',')],
    ['--decode', String(o.decode)],
    ['--reps', String(o.reps)],
    ['--no-cache', o.noCache],
  ].flat();
  if (o.naive.length === 0) flags.push('--no-naive');
  else flags.push('--naive-grid', o.naive.map((g) => `${g.batch}x${g.seq}`).join(','));
  if (o.throughFile) flags.push('--through-file');
  if (o.stockWasm) flags.push('--stock-wasm');
  if (!o.gradHint) flags.push('--no-grad-hint');
  return flags;
}
