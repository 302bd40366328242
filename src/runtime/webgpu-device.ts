/**
 * The WebGPU adapter and device the engine owns: it requests the device itself (instead of
 * TF.js's own factory) so it keeps the `GPUDevice` and `GPUAdapter`, to read their limits, to cap
 * the buffer limits it plans with (`BackendOptions.gpuLimits`) and to notice a lost device
 * (device-lost.ts). Choosing a backend is backend.ts's job.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ValidationError, WebGPUUnavailableError } from '../errors/loops-errors';
import { watchDeviceLoss } from './device-lost';

/** What the adapter says of itself, in plain data (it crosses the worker boundary). */
export interface AdapterReport {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** True for software adapters (SwiftShader, lavapipe): correct but slow. */
  readonly isSoftware: boolean;
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
}

/** The WebGPU limits that bound one tensor's buffer (`GPUSupportedLimits` names), in bytes. */
export interface BufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/**
 * The WebGPU spec's defaults for the two buffer limits: a device never gets less (requestDevice
 * raises a lower request to these), so a stricter `gpuLimits` is enforced by the engine itself.
 */
export const DEFAULT_BUFFER_LIMITS: BufferLimits = Object.freeze({
  maxBufferSize: 256 * 2 ** 20,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
});

let gpu: { adapter: GPUAdapter; device: GPUDevice; cap: Partial<BufferLimits> } | null = null;

/** The device the webgpu backend runs on, or null when it is not in use. */
export function currentGpuDevice(): GPUDevice | null {
  return tf.getBackend() === 'webgpu' ? (gpu?.device ?? null) : null;
}

/**
 * The buffer limits to plan with while the webgpu backend runs: the device's, each lowered to
 * `BackendOptions.gpuLimits` where that is lower. Null on other backends (no such limits).
 */
export function gpuBufferLimits(): BufferLimits | null {
  const device = currentGpuDevice();
  if (!device || !gpu) return null;
  return cappedLimits(device.limits, gpu.cap);
}

function cappedLimits(limits: BufferLimits, cap: Partial<BufferLimits>): BufferLimits {
  return {
    maxBufferSize: Math.min(limits.maxBufferSize, cap.maxBufferSize ?? Infinity),
    maxStorageBufferBindingSize: Math.min(
      limits.maxStorageBufferBindingSize,
      cap.maxStorageBufferBindingSize ?? Infinity,
    ),
  };
}

/** `BackendOptions.gpuLimits`, checked: only the two buffer limits, whole byte counts ≥ 4. */
export function checkGpuLimits(cap: Partial<BufferLimits> | undefined): Partial<BufferLimits> {
  const out: { -readonly [K in keyof BufferLimits]?: number } = {};
  for (const [name, value] of Object.entries(cap ?? {})) {
    if (name !== 'maxBufferSize' && name !== 'maxStorageBufferBindingSize') {
      throw new ValidationError(
        `gpuLimits.${name} is not a limit the engine plans with; use maxStorageBufferBindingSize ` +
          `or maxBufferSize.`,
      );
    }
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 4) {
      throw new ValidationError(
        `gpuLimits.${name} is ${String(value)}; it must be a whole number of bytes (at least 4).`,
      );
    }
    out[name] = value;
  }
  return out;
}

/**
 * Registers TF.js's webgpu backend on a device we request ourselves (the adapter's real limits,
 * the buffer limits lowered to `cap`), unless one with the same cap is registered already.
 */
export function registerOwnWebGpu(requestedCap: Partial<BufferLimits>): void {
  const sameCap = gpu && sameLimits(gpu.cap, requestedCap);
  if (tf.findBackendFactory('webgpu') && gpu && sameCap) return;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const cap = requestedCap;
  tf.registerBackend('webgpu', async () => {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw unavailable('requestAdapter() returned null');
    const l = adapter.limits;
    // The adapter's real limits (the spec's defaults are far below what most GPUs offer), each
    // lowered to the cap where one is set, never below the spec default (requestDevice's floor).
    const capped = (name: keyof BufferLimits) =>
      Math.max(DEFAULT_BUFFER_LIMITS[name], Math.min(l[name], cap[name] ?? Infinity));
    const device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      requiredLimits: {
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: Math.min(
          capped('maxStorageBufferBindingSize'),
          l.maxStorageBufferBindingSize,
        ),
        maxBufferSize: Math.min(capped('maxBufferSize'), l.maxBufferSize),
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      },
    });
    gpu = { adapter, device, cap };
    watchDeviceLoss(device);
    return new WebGPUBackend(device, adapter.info);
  });
}

function sameLimits(a: Partial<BufferLimits>, b: Partial<BufferLimits>): boolean {
  return (
    a.maxBufferSize === b.maxBufferSize &&
    a.maxStorageBufferBindingSize === b.maxStorageBufferBindingSize
  );
}

/** The WebGPU adapter of this context, described; null when it has none. */
export async function probeAdapter(): Promise<AdapterReport | null> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav?.gpu) return null;
  const adapter =
    gpu?.adapter ?? (await nav.gpu.requestAdapter({ powerPreference: 'high-performance' }));
  return adapter ? describeAdapter(adapter) : null;
}

const LIMIT_NAMES = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const text =
    `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const limits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) limits[name] = adapter.limits[name];
  const fallback =
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isSoftware: fallback || /swiftshader|lavapipe|llvmpipe|software/.test(text),
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

export function unavailable(why: string): WebGPUUnavailableError {
  return new WebGPUUnavailableError(
    `WebGPU is unavailable: ${why}. Use a browser with WebGPU enabled (Chrome/Edge 113+, or ` +
      `Chromium with --enable-unsafe-webgpu), or pick backend 'wasm' or 'auto'.`,
  );
}
