/**
 * Runs one piece of a benchmark in a fresh Node process and reads back its JSON result. Each model
 * of a real-size run gets its own process because the wasm backend cannot recover from running
 * out of memory (Emscripten aborts and the module is unusable afterwards) and because its heap
 * never shrinks: in a fresh process the heap's size is that model's own high-water mark, and one
 * model's leftovers cannot decide whether the next one fits.
 *
 * Protocol: the child is `node <this process's execArgv> <script> ...args --child-out <file>`; it
 * writes its result as JSON to <file>. Its stdout and stderr pass through to ours.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

export interface ChildOutcome<T> {
  /** The parsed result file, or null when the child wrote none. */
  readonly result: T | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The last lines the child wrote to stderr, to explain a crash. */
  readonly stderrTail: string;
}

const TAIL_CHARS = 2000;

/** Runs `script` with `args` in a child Node process; resolves when it exits. */
export async function runInChild<T>(
  script: string,
  args: readonly string[],
): Promise<ChildOutcome<T>> {
  const dir = await mkdtemp(join(os.tmpdir(), 'bench-child-'));
  const out = join(dir, 'result.json');
  try {
    const argv = [...process.execArgv, script, ...args, '--child-out', out];
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'inherit', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-TAIL_CHARS);
    });
    const [exitCode, signal] = await new Promise<[number | null, string | null]>(
      (resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, sig) => resolve([code, sig]));
      },
    );
    let result: T | null = null;
    try {
      result = JSON.parse(await readFile(out, 'utf8')) as T;
    } catch {
      result = null; // no file (a crash before writing it): the caller reads exitCode and stderrTail
    }
    return { result, exitCode, signal, stderrTail: tail.trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
