// Threads for the wasm backend: the count the engine plans from the context (isolation, cores),
// what it says when it cannot run threads, and what selectBackend reports in Node, where TF.js's
// wasm backend has no threads.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src/client/service-client';
import { ValidationError } from '../../src/errors/loops-errors';
import { selectBackend } from '../../src/runtime/backend';
import { defaultThreads, planThreads } from '../../src/runtime/wasm-threads';

const browser = (isolated: boolean, cores: number) => ({
  isNode: false,
  crossOriginIsolated: isolated,
  navigator: { hardwareConcurrency: cores },
});

describe('defaultThreads', () => {
  it('uses every core up to 4 and leaves one for the page above that', () => {
    // 1, 2, 3, 4 cores → all of them; 6 → 5; 8 → 7; 16 → 15.
    expect([1, 2, 3, 4, 6, 8, 16].map(defaultThreads)).toEqual([1, 2, 3, 4, 5, 7, 15]);
  });
});

describe('planThreads', () => {
  it('isolated: the default count, or what was asked for', () => {
    expect(planThreads(undefined, browser(true, 2))).toEqual({ threads: 2, blocked: null });
    expect(planThreads(undefined, browser(true, 8))).toEqual({ threads: 7, blocked: null });
    expect(planThreads(1, browser(true, 8))).toEqual({ threads: 1, blocked: null });
    expect(planThreads(12, browser(true, 8))).toEqual({ threads: 12, blocked: null });
  });

  it('not isolated: one thread, and the headers that would fix it', () => {
    const plan = planThreads(4, browser(false, 8));
    expect(plan.threads).toBe(1);
    expect(plan.blocked).toMatch(/not cross-origin isolated/);
    expect(plan.blocked).toContain('Cross-Origin-Opener-Policy: same-origin');
    expect(plan.blocked).toContain('Cross-Origin-Embedder-Policy: require-corp');
  });

  it('Node: one thread, said plainly', () => {
    expect(planThreads(undefined, { isNode: true })).toEqual({
      threads: 1,
      blocked: "TF.js's wasm backend runs one thread in Node",
    });
  });
});

describe('selectBackend(wasm) in Node', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('reports one thread on the SIMD binary, and why', async () => {
    const report = await selectBackend('wasm', { wasmThreads: 4 });
    expect(report.backend).toBe('wasm');
    expect(report.wasm).toEqual({
      threads: 1,
      binary: 'simd',
      crossOriginIsolated: false,
      cores: null,
      reason: "TF.js's wasm backend runs one thread in Node",
    });
  });

  it('other backends report no wasm threads', async () => {
    expect((await selectBackend('cpu')).wasm).toBeNull();
  });

  it('a thread count that is not a positive integer is a ValidationError naming it', async () => {
    for (const bad of [0, 1.5, -2, 1000]) {
      const error = await selectBackend('wasm', { wasmThreads: bad }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toContain(`wasmThreads is ${bad}`);
    }
  });
});

describe('ServiceClient wasm_threads', () => {
  it('is checked at call time, before any engine starts', () => {
    for (const bad of [0, 2.5, '4', 999]) {
      expect(() => new ServiceClient({ wasm_threads: bad as number })).toThrow(ValidationError);
      expect(() => new ServiceClient({ wasm_threads: bad as number })).toThrow(
        /wasm_threads is .*; it must be an integer from 1 to 256/,
      );
    }
  });
});
