/**
 * Soak: the full counts of the reliability checks that CI runs small.
 * 1. N mixed steps (default 1000; each trains, samples from a fresh snapshot, saves the state and
 *    loads it back) on the fixture model in Node, the engine behind a MessageChannel as in a
 *    browser worker; prints the engine's TF.js tensors and bytes every 100 steps and the JS heap.
 *    Exits 1 if a tensor or byte leaked.
 * 2. The property-based bad-input suite (tests/reliability/bad-input.test.ts) with LOOPS_FC_RUNS
 *    runs per property and placement (default 5000), unless --no-fuzz.
 *
 * Usage: node --import tsx scripts/soak.ts [steps] [--no-fuzz]
 */
import { spawnSync } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ServiceClient } from '../src/index';
import { soak } from '../tests/reliability/helpers/mixed-steps';
import { placed, registerReliabilityPlacements } from '../tests/reliability/helpers/placements';

const args = process.argv.slice(2);
const steps = Number(args.find((a) => /^\d+$/.test(a)) ?? 1000);
const fuzz = !args.includes('--no-fuzz');
const fuzzRuns = process.env.LOOPS_FC_RUNS ?? '5000';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function memorySoak(): Promise<boolean> {
  registerReliabilityPlacements();
  const service = new ServiceClient({
    engine: 'rel-channel',
    backend: 'cpu',
    storage_namespace: 'soak',
  });
  try {
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const r = await soak(
      service,
      () => placed.get('rel-channel')!.link.engine.memory(),
      steps,
      (i, m) => {
        gc();
        console.log(
          `  step ${i}: ${m.numTensors} tensors, ${m.numBytes} bytes, heap +${mib(process.memoryUsage().heapUsed - heap0)}`,
        );
      },
    );
    gc();
    const heap = process.memoryUsage().heapUsed - heap0;
    const leakedTensors = r.after.numTensors - r.warm.numTensors;
    const leakedBytes = r.after.numBytes - r.warm.numBytes;
    console.log(
      `soak: ${r.steps} mixed steps (train, sample, save, load) at ${r.msPerStep.toFixed(1)} ms/step, ` +
        `policy_version ${r.policyVersion}\n` +
        `  after warm-up: ${r.warm.numTensors} tensors, ${r.warm.numBytes} bytes\n` +
        `  after ${r.steps} steps: ${r.after.numTensors} tensors, ${r.after.numBytes} bytes ` +
        `(leaked ${leakedTensors} tensors, ${leakedBytes} bytes)\n` +
        `  after close: ${r.closed.numTensors} tensors, ${r.closed.numBytes} bytes (start ${r.start.numTensors})\n` +
        `  JS heap growth (page and engine, metrics history included): ${mib(heap)}`,
    );
    return leakedTensors === 0 && leakedBytes === 0 && r.closed.numTensors === r.start.numTensors;
  } finally {
    await service.close();
  }
}

const clean = await memorySoak();
let fuzzOk = true;
if (fuzz) {
  console.log(`\nbad-input properties, ${fuzzRuns} runs per property and placement:`);
  const run = spawnSync(
    'npx',
    ['vitest', 'run', 'tests/reliability/bad-input.test.ts', '--reporter=default'],
    {
      env: { ...process.env, LOOPS_FC_RUNS: fuzzRuns },
      stdio: 'inherit',
    },
  );
  fuzzOk = run.status === 0;
}
process.exit(clean && fuzzOk ? 0 : 1);
