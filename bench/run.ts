/**
 * `npm run bench`: every benchmark, never pass/fail. Each part prints its tables and writes its
 * JSON under bench/results/:
 *   1. Node: each backend's large-matmul rate (the denominator of MFU)  → <date>-node.json
 *   2. Node: the model suite on the shipped tiny model, wasm and cpu    → <date>-{wasm,cpu}-tiny.json
 *   3. Chromium: the engine in its Worker through the client, per backend → <date>-chromium-<backend>.json
 *   4. with --real: the model suite on real-size shapes (SmolLM2-135M, GPT-2) on wasm
 *      (long: tens of minutes on a 2-core machine)            → <date>-wasm-real-size.json
 *
 *   node --import tsx bench/run.ts [--real] [--skip-browser]
 *   node --import tsx bench/run.ts --gpu-counts [bench/gpu-counts.ts options]
 *
 * `--gpu-counts` runs only the WebGPU work counter (bench/gpu-counts.ts: dispatches, uploads and
 * readbacks per step and per decoded token, on Dawn in Node), with Chromium's SwiftShader Vulkan
 * driver when /usr/lib/chromium has it; any other options go to that script.
 *
 * Parts 2–4 are separate scripts run as child processes (bench/real-size.ts, bench/chromium.ts),
 * each callable alone with more options (`npm run bench:real`, `npm run bench:browser`).
 */
import * as tf from '@tensorflow/tfjs';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../src/runtime/backend';
import { dawnEnv } from './lib/dawn';
import { matmulRate, type MatmulRate } from './lib/matmul-rate';
import { machineInfo, writeResults } from './lib/results';
import { formatTable } from './lib/table';

if (process.argv.includes('--gpu-counts')) {
  const args = process.argv.slice(2).filter((a) => a !== '--gpu-counts');
  const script = fileURLToPath(new URL('./gpu-counts.ts', import.meta.url));
  const child = spawnSync(process.execPath, [...process.execArgv, script, ...args], {
    stdio: 'inherit',
    env: dawnEnv(),
  });
  process.exit(child.status ?? 1);
}

const { values: flags } = parseArgs({
  options: {
    real: { type: 'boolean', default: false },
    'skip-browser': { type: 'boolean', default: false },
  },
});

const rows: (MatmulRate & { backend: BackendName })[] = [];
for (const backend of ['wasm', 'cpu'] as const) {
  await selectBackend(backend);
  for (const size of backend === 'cpu' ? [256, 512] : [256, 512, 1024]) {
    rows.push({ backend, ...(await matmulRate(size, backend === 'cpu' ? 3 : 5)) });
  }
}
console.log('\nBackend matmul rates (Node), median of 5 (cpu: 3)');
console.log(
  formatTable(
    [{ key: 'backend' }, { key: 'case' }, { key: 'ms' }, { key: 'gflops', title: 'GFLOP/s' }],
    rows.map((r) => ({ backend: r.backend, case: `${r.size}³`, ms: r.medianMs, gflops: r.gflops })),
  ),
);
const file = writeResults('node', { machine: machineInfo(), tfjs: tf.version.tfjs, rows });
console.log(`wrote ${file}`);

const script = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const parts: [string, string[]][] = [
  [
    script('./real-size.ts'),
    [
      '--models',
      'tiny-llama',
      '--backend',
      'wasm',
      '--grid',
      '1x64,4x64,8x256',
      '--name',
      'wasm-tiny',
    ],
  ],
  [
    script('./real-size.ts'),
    [
      ...['--models', 'tiny-llama', '--backend', 'cpu', '--grid', '1x64,4x64'],
      ...['--naive-grid', '1x64', '--decode', '64', '--no-cache', 'sampled'],
      ...['--name', 'cpu-tiny'],
    ],
  ],
];
if (!flags['skip-browser']) parts.push([script('./chromium.ts'), []]);
if (flags.real) parts.push([script('./real-size.ts'), ['--models', 'smollm2-135m,gpt2']]);

let failed = 0;
for (const [path, args] of parts) {
  console.log(`\n$ node ${path.replace(/^.*\/bench\//, 'bench/')} ${args.join(' ')}`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, path, ...args], {
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) failed += 1;
}
if (failed > 0) {
  console.error(`${failed} part(s) exited with an error (see above).`);
  process.exitCode = 1;
}
