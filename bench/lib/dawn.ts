/**
 * WebGPU in Node for the benchmarks: Dawn (the `webgpu` package) over the SwiftShader Vulkan driver
 * that Debian's Chromium ships (shared/reference/webgpu-in-node.md). Dawn opens `libvulkan.so.1`
 * when it loads, so the library path must be set before the process starts: `dawnEnv()` gives the
 * variables a child process needs, and `startDawnWebGpu()` starts TF.js's webgpu backend (through
 * the engine's own `selectBackend`) once `navigator.gpu` exists.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { selectBackend } from '../../src/runtime/backend';

const CHROMIUM_LIBS = '/usr/lib/chromium';
const SWIFTSHADER_ICD = `${CHROMIUM_LIBS}/vk_swiftshader_icd.json`;

/**
 * The environment a Dawn child process needs here: Chromium's Vulkan loader on LD_LIBRARY_PATH and
 * its SwiftShader driver, when /usr/lib/chromium exists and the caller has not chosen a driver.
 */
export function dawnEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || !existsSync(SWIFTSHADER_ICD)) return env;
  const libs = env.LD_LIBRARY_PATH ? `${CHROMIUM_LIBS}:${env.LD_LIBRARY_PATH}` : CHROMIUM_LIBS;
  return { ...env, LD_LIBRARY_PATH: libs, VK_DRIVER_FILES: SWIFTSHADER_ICD };
}

/** Whether this process already runs with a Vulkan driver chosen (or has nothing to choose). */
export function hasDawnEnv(): boolean {
  return dawnEnv() === process.env;
}

/** Gives this process `navigator.gpu` from Dawn and starts TF.js's webgpu backend; returns the adapter's description. */
export async function startDawnWebGpu(): Promise<string> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu) {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu });
    else g.navigator = { gpu };
  }
  const report = await selectBackend('webgpu');
  if (tf.getBackend() !== 'webgpu') throw new Error('TF.js did not start on webgpu');
  const a = report.adapter;
  return a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') : 'unknown';
}
