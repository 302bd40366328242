/**
 * `npm run bench`: throughput figures, never pass/fail. Prints a table and writes
 * bench/results/<date>-node.json. For now, each Node backend's large-matmul rate (the denominator
 * of model FLOPs utilisation); the engine benchmarks of later issues add rows here.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { selectBackend, type BackendName } from '../src/runtime/backend';

interface Row {
  backend: BackendName;
  case: string;
  ms: number;
  gflops: number;
}

async function matmulRate(size: number, reps: number): Promise<{ ms: number; gflops: number }> {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  tf.dispose(tf.matMul(a, b).dataSync()); // warm-up: compile and first allocation
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    times.push(performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  const ms = times.sort((x, y) => x - y)[Math.floor(times.length / 2)] ?? Number.NaN;
  return { ms, gflops: (2 * size ** 3) / (ms * 1e6) };
}

const rows: Row[] = [];
for (const backend of ['wasm', 'cpu'] as const) {
  await selectBackend(backend);
  for (const size of backend === 'cpu' ? [256, 512] : [256, 512, 1024]) {
    const r = await matmulRate(size, backend === 'cpu' ? 3 : 5);
    rows.push({ backend, case: `matmul ${size}³`, ...r });
  }
}

console.table(rows.map((r) => ({ ...r, ms: r.ms.toFixed(1), gflops: r.gflops.toFixed(2) })));
const wasm512 = rows.find((r) => r.backend === 'wasm' && r.case === 'matmul 512³');
const cpu512 = rows.find((r) => r.backend === 'cpu' && r.case === 'matmul 512³');
if (wasm512 && cpu512)
  console.log(`wasm / cpu at 512³: ${(wasm512.gflops / cpu512.gflops).toFixed(1)}×`);

const date = new Date().toISOString().slice(0, 10);
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/${date}-node.json`;
const machine = {
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  node: process.version,
};
writeFileSync(file, JSON.stringify({ date, machine, tfjs: tf.version.tfjs, rows }, null, 2));
console.log(`wrote ${file}`);
