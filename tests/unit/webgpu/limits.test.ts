// Device limits on webgpu (Dawn over SwiftShader, whose adapter offers 1 GiB bindings): the
// engine requests the adapter's real limits, `gpuLimits` lowers them on purpose (down to the
// spec's floor on the device itself, below it in the engine's plan), the backend report says
// what it plans with, and a model loaded under them has its vocab table in parts and runs
// without a WebGPU validation error.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/loops-errors';
import { loadModelFiles } from '../../../src/engine/model-registry';
import { shippedModelFiles } from '../../../src/io/model-source';
import { nodeFolder } from '../../../src/io/node-files';
import { CausalLM } from '../../../src/model/causal-lm';
import { partName } from '../../../src/model/weight-parts';
import {
  DEFAULT_BUFFER_LIMITS,
  currentGpuDevice,
  gpuBufferLimits,
  selectBackend,
} from '../../../src/runtime/backend';
import { FIXTURE_MODEL, writeFixtureModels } from '../../helpers/fixture-model-dir';
import { installDawn, useCpuAgain } from '../../helpers/webgpu-node';

const MIB = 2 ** 20;

describe('webgpu device limits', () => {
  beforeAll(async () => {
    expect(await installDawn()).toBe(true);
  });
  afterAll(useCpuAgain);

  it('without gpuLimits: the device gets the adapter’s real limits, and the report says so', async () => {
    const report = await selectBackend('webgpu');
    const device = currentGpuDevice()!;
    const adapter = report.adapter!.limits;
    expect(device.limits.maxStorageBufferBindingSize).toBe(adapter.maxStorageBufferBindingSize);
    expect(device.limits.maxBufferSize).toBe(adapter.maxBufferSize);
    expect(report.gpuLimits).toEqual({
      maxBufferSize: adapter.maxBufferSize,
      maxStorageBufferBindingSize: adapter.maxStorageBufferBindingSize,
    });
  });

  it('a 128 MiB-binding adapter, emulated: the device is requested at those limits', async () => {
    const limits = { maxStorageBufferBindingSize: 128 * MIB, maxBufferSize: 256 * MIB };
    const report = await selectBackend('webgpu', { gpuLimits: limits });
    const device = currentGpuDevice()!;
    // SwiftShader offers more, so the device really is lowered (not just the plan).
    expect(report.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * MIB);
    expect(device.limits.maxStorageBufferBindingSize).toBe(128 * MIB);
    expect(device.limits.maxBufferSize).toBe(256 * MIB);
    expect(report.gpuLimits).toEqual({
      maxBufferSize: 256 * MIB,
      maxStorageBufferBindingSize: 128 * MIB,
    });
    expect(gpuBufferLimits()).toEqual(report.gpuLimits);
  });

  it('below the spec floor: the device stays at the defaults, the engine plans with the cap', async () => {
    await selectBackend('webgpu', { gpuLimits: { maxStorageBufferBindingSize: 64 * 1024 } });
    const device = currentGpuDevice()!;
    expect(device.limits.maxStorageBufferBindingSize).toBe(
      DEFAULT_BUFFER_LIMITS.maxStorageBufferBindingSize,
    );
    expect(gpuBufferLimits()!.maxStorageBufferBindingSize).toBe(64 * 1024);
  });

  it('a bad cap is a ValidationError that names it', async () => {
    await expect(
      selectBackend('webgpu', { gpuLimits: { maxStorageBufferBindingSize: 1.5 } }),
    ).rejects.toThrow(ValidationError);
    await expect(
      selectBackend('webgpu', { gpuLimits: { maxBindings: 4 } as never }),
    ).rejects.toThrow(/gpuLimits\.maxBindings is not a limit/);
  });

  it('the engine’s load splits the fixture’s embedding under a 128 KiB cap and runs clean', async () => {
    // The fixture's embedding [4096, 32] is 512 KiB: 128 KiB holds 1024 rows, so 4 parts.
    await selectBackend('webgpu', { gpuLimits: { maxStorageBufferBindingSize: 128 * 1024 } });
    const errors: string[] = [];
    currentGpuDevice()!.addEventListener('uncapturederror', (e) => {
      errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    const root = writeFixtureModels();
    const loaded = await loadModelFiles(
      shippedModelFiles(FIXTURE_MODEL, { folder: nodeFolder(root) }),
    );
    const name = 'model.embed_tokens.weight';
    expect(loaded.weights.has(name)).toBe(false);
    expect([0, 1, 2, 3].map((i) => loaded.weights.get(partName(name, i))?.shape)).toEqual([
      [1024, 32],
      [1024, 32],
      [1024, 32],
      [1024, 32],
    ]);
    for (const t of loaded.weights.values()) expect(t.size * 4).toBeLessThanOrEqual(128 * 1024);
    const model = new CausalLM(loaded.config, loaded.weights);
    const lp = tf.tidy(() =>
      model.targetLogprobs(
        tf.tensor2d([[1, 2000, 3100, 4095]], [1, 4], 'int32'),
        tf.tensor2d([[2000, 3100, 4095, 7]], [1, 4], 'int32'),
      ),
    );
    const values = await lp.data();
    lp.dispose();
    // Random weights: each log-prob is near −ln 4096 ≈ −8.3, and finite.
    for (const v of values) expect(v).toBeLessThan(0);
    for (const v of values) expect(v).toBeGreaterThan(-20);
    expect(errors).toEqual([]);
    for (const t of loaded.weights.values()) t.dispose();
  }, 300_000);
});
