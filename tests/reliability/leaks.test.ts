// Leaks: the engine's TF.js tensors and bytes (read across the MessageChannel with the engine's
// memory() method) are the same after N mixed steps (train, sample, save, load) as after the
// warm-up step, and back to the start once the run is closed. N = LOOPS_SOAK_STEPS (default 100);
// scripts/soak.ts runs 1000. Chromium/webgpu: tests/browser/reliability-soak.spec.ts.
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src/index';
import { soak } from './helpers/mixed-steps';
import { placed, registerReliabilityPlacements } from './helpers/placements';

registerReliabilityPlacements();
const STEPS = Number(process.env.LOOPS_SOAK_STEPS ?? 100);
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('no leaks over mixed steps (MessageChannel placement)', () => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: 'rel-channel',
      backend: 'cpu',
      storage_namespace: 'leaks',
    });
  });
  afterAll(() => service.close());

  it(`${STEPS} mixed steps leave tensors and bytes unchanged`, async () => {
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const r = await soak(service, () => placed.get('rel-channel')!.link.engine.memory(), STEPS);
    gc();
    const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(
      `[reliability] soak (Node, cpu, channel): ${r.steps} mixed steps at ${r.msPerStep.toFixed(1)} ms/step; ` +
        `tensors ${r.warm.numTensors} → ${r.after.numTensors} (leaked ${r.after.numTensors - r.warm.numTensors}), ` +
        `bytes ${r.warm.numBytes} → ${r.after.numBytes} (leaked ${r.after.numBytes - r.warm.numBytes}); ` +
        `after close ${r.closed.numTensors} tensors (start ${r.start.numTensors}); heap ${heapMiB.toFixed(1)} MiB`,
    );
    expect(r.policyVersion).toBe(STEPS + 1);
    expect(r.after.numTensors).toBe(r.warm.numTensors);
    expect(r.after.numBytes).toBe(r.warm.numBytes);
    expect(r.after.numDataBuffers).toBe(r.warm.numDataBuffers);
    expect(r.closed.numTensors).toBe(r.start.numTensors);
    expect(r.closed.numBytes).toBe(r.start.numBytes);
    // JS heap (page and engine share this process): the metrics history grows by design, a few
    // KiB a step at most; a retained result per call (as comlink calls raced against a
    // never-settling death promise once kept, ~350 KiB a step) would blow through this.
    expect(heapMiB).toBeLessThan(4 + (32 / 1024) * STEPS);
  });
});
