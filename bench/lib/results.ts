/**
 * Where benchmark results go and what they say about the machine: every results file names the
 * CPU, core count, memory, Node and TF.js versions and the backend, so figures from different
 * machines are never compared unawares. Files are `bench/results/<date>-<name>.json`.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  readonly os: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly totalMemoryGiB: number;
  readonly node: string;
  readonly tfjs: string;
  /** The TF.js backend in use when the info was taken. */
  readonly backend: string;
}

/** The machine as it is now (call after the backend is selected). */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
  };
}

/** Today as YYYY-MM-DD (UTC), the prefix of results files. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/**
 * Writes `payload` as pretty JSON to `<dir>/<date>-<name>.json` (dir created if absent); returns
 * the path written.
 */
export function writeResults(name: string, payload: unknown, dir = 'bench/results'): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${today()}-${name}.json`);
  writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}
