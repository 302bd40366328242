// WebGPU in Node for the unit tier: Dawn (the `webgpu` package) over the SwiftShader Vulkan
// driver that Debian's Chromium ships (vite.config.ts puts its libraries on LD_LIBRARY_PATH before
// Vitest forks). Facts: shared/reference/webgpu-in-node.md. SwiftShader is correct and slow, and
// each new pipeline takes a second or more to compile: keep shapes tiny and few.
import { appendFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/runtime/backend';

let installed: Promise<boolean> | null = null;

/** Gives this process `navigator.gpu` from Dawn; resolves with whether an adapter is there. */
export function installDawn(): Promise<boolean> {
  installed ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: GPU } };
    if (!g.navigator?.gpu) {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      if (process.env.LOOPS_COUNT_PIPELINES) countPipelines(process.env.LOOPS_COUNT_PIPELINES);
      const gpu = create([]);
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu });
      else g.navigator = { gpu };
    }
    const adapter = await g.navigator!.gpu!.requestAdapter();
    return adapter !== null;
  })();
  return installed;
}

/**
 * Starts TF.js's webgpu backend (through the engine's own `selectBackend`) on Dawn. Throws with
 * the fix when no adapter is found, so a machine without the driver fails loudly, not silently.
 */
export async function useWebGpuBackend(): Promise<void> {
  if (!(await installDawn())) {
    throw new Error(
      'No WebGPU adapter from Dawn: install Debian chromium (its SwiftShader Vulkan driver in ' +
        '/usr/lib/chromium) and run through Vitest, whose config sets LD_LIBRARY_PATH.',
    );
  }
  if (tf.getBackend() !== 'webgpu') await selectBackend('webgpu');
}

/** Switches this worker back to the cpu backend (the tier's default). */
export async function useCpuAgain(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/**
 * Measuring aid (LOOPS_COUNT_PIPELINES=<file>): appends one line "<pid>" to the file for every
 * compute pipeline this process creates (a load-independent figure for the tests' cost; Vitest
 * ends its workers without an `exit` event, so each one is written as it happens).
 */
function countPipelines(file: string): void {
  const proto = (globalThis as unknown as { GPUDevice: { prototype: GPUDevice } }).GPUDevice
    .prototype;
  const sync = proto.createComputePipeline;
  const async = proto.createComputePipelineAsync;
  const note = () => appendFileSync(file, `${process.pid}\n`);
  proto.createComputePipeline = function (this: GPUDevice, d: GPUComputePipelineDescriptor) {
    note();
    return sync.call(this, d);
  };
  proto.createComputePipelineAsync = function (this: GPUDevice, d: GPUComputePipelineDescriptor) {
    note();
    return async.call(this, d);
  };
}
