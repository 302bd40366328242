import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/runtime/backend';
import { runSelfCheck } from '../../src/runtime/self-check';
import { ValidationError, WebGPUUnavailableError } from '../../src/errors/loops-errors';
import { maxRelError, referenceSelfCheck } from '../reference/self-check';
import { seededArray } from '../helpers/seeded';

const [m, k, n] = [5, 7, 3];
const x = seededArray(m * k, 11);
const w = seededArray(k * n, 12);
const ref = referenceSelfCheck(m, k, n, x, w);

describe('selectBackend in Node (no WebGPU)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('cpu: runs the self-check and agrees with the float64 reference', async () => {
    const report = await selectBackend('cpu');
    expect(report).toMatchObject({ backend: 'cpu', requested: 'cpu', adapter: null });
    const got = await runSelfCheck({ m, k, n, x, w });
    expect(got.backend).toBe('cpu');
    expect(maxRelError(got.product, ref.product)).toBeLessThan(1e-5);
    expect(Math.abs(got.value - ref.value) / ref.value).toBeLessThan(1e-5);
    expect(maxRelError(got.gradX, ref.gradX)).toBeLessThan(1e-4);
    expect(maxRelError(got.gradW, ref.gradW)).toBeLessThan(1e-4);
    expect(got.leakedTensors).toBe(0);
  });

  it('auto: falls back to wasm and says there is no adapter', async () => {
    const report = await selectBackend('auto');
    expect(report.backend).toBe('wasm');
    expect(report.reason).toContain('no WebGPU adapter');
    const got = await runSelfCheck({ m, k, n, x, w });
    expect(got.backend).toBe('wasm');
    expect(maxRelError(got.gradW, ref.gradW)).toBeLessThan(1e-4);
  });

  it('webgpu asked for explicitly: a typed error with the fix', async () => {
    const error = await selectBackend('webgpu').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebGPUUnavailableError);
    expect((error as Error).message).toMatch(/pick backend 'wasm' or 'auto'/);
  });

  it('an unknown backend name is a ValidationError naming it', async () => {
    const error = await selectBackend('tpu' as 'cpu').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain("'tpu'");
  });
});
