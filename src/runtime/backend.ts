/**
 * The one place that chooses the TF.js backend (webgpu, wasm or cpu) and reports what it got.
 *
 * `auto` takes WebGPU only on a hardware adapter, else wasm, else cpu: on the machines we measured,
 * wasm ran a 512³ matmul ~40× faster than the cpu backend, and a software (SwiftShader) WebGPU
 * adapter is slower than wasm. We register the webgpu backend ourselves (instead of the package's
 * own factory) so the engine keeps the `GPUDevice` and `GPUAdapter`, to read limits and to notice a
 * lost device (device-lost.ts). Kernels wasm lacks or gets wrong are registered from
 * `runtime/wasm-kernels`.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { WebGPUUnavailableError, ValidationError } from '../errors/loops-errors';
import { watchDeviceLoss } from './device-lost';
import { registerWasmKernels } from './wasm-kernels';
import {
  currentScope,
  planThreads,
  redirectPthreadWorkers,
  requestThreads,
  threadsReport,
  type WasmThreadsReport,
} from './wasm-threads';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto' | 'webgl';

export const BACKEND_REQUESTS: readonly BackendRequest[] = [
  'auto',
  'webgpu',
  'wasm',
  'webgl',
  'cpu',
];

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

export interface BackendReport {
  /** The backend TF.js is running on now. */
  readonly backend: BackendName;
  readonly requested: BackendRequest;
  /** The WebGPU adapter, when one was found (even if not chosen). */
  readonly adapter: AdapterReport | null;
  /** Why the choice differs from a hardware WebGPU adapter, in words; null when it does not. */
  readonly reason: string | null;
  /** On wasm: its threads and binary, and why it runs fewer threads; null on other backends. */
  readonly wasm: WasmThreadsReport | null;
  /**
   * On webgpu: the buffer limits the engine plans with (the device's, lowered by
   * `BackendOptions.gpuLimits`); vocab tables are split and models refused against these.
   * Absent elsewhere.
   */
  readonly gpuLimits?: BufferLimits;
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

/** Options for wasm: where its files are served (browsers) and how many threads it may run. */
export interface BackendOptions {
  /** The `.wasm` binaries: a folder URL or a map from the package's file names to URLs. */
  readonly wasmPaths?: string | Record<string, string>;
  /** The same-origin pthread script (runtime/wasm-threads.ts says why TF.js's own is not used). */
  readonly wasmPthreadUrl?: string;
  /** Threads for wasm; default: every core up to 4, one fewer above (needs cross-origin isolation). */
  readonly wasmThreads?: number;
  /**
   * Run webgpu as if the adapter offered at most these limits (to emulate a 128 MiB-binding
   * adapter on a bigger one, or a tiny one in tests). The device is requested with them where
   * WebGPU allows (never below the spec defaults, `DEFAULT_BUFFER_LIMITS`); the engine plans
   * with them in any case (`gpuBufferLimits`).
   */
  readonly gpuLimits?: Partial<BufferLimits>;
}

let gpu: { adapter: GPUAdapter; device: GPUDevice; cap: Partial<BufferLimits> } | null = null;
/** The cap the next webgpu device is created with (set by `selectBackend`). */
let requestedCap: Partial<BufferLimits> = {};

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

/**
 * Selects and initialises a backend; resolves with what is in use and why.
 * Throws `WebGPUUnavailableError` when `webgpu` is asked for explicitly and cannot start.
 */
export async function selectBackend(
  requested: BackendRequest,
  options: BackendOptions = {},
): Promise<BackendReport> {
  if (!BACKEND_REQUESTS.includes(requested)) {
    throw new ValidationError(
      `backend '${String(requested)}' is not one of ${BACKEND_REQUESTS.join(', ')}; pick one of those.`,
    );
  }
  checkThreads(options.wasmThreads);
  requestedCap = checkGpuLimits(options.gpuLimits);
  if (options.wasmPaths !== undefined) setWasmPaths(options.wasmPaths);
  if (options.wasmPthreadUrl !== undefined) redirectPthreadWorkers(options.wasmPthreadUrl);
  const adapter = await probeAdapter();

  if (requested === 'webgpu') {
    if (!adapter) throw unavailable('this context exposes no WebGPU adapter');
    await activate('webgpu');
    return webgpuReport(requested, adapter);
  }
  if (requested === 'auto' && adapter && !adapter.isSoftware) {
    await activate('webgpu');
    return webgpuReport(requested, adapter);
  }
  const reason =
    requested === 'auto'
      ? adapter
        ? `the WebGPU adapter (${adapter.description || adapter.architecture}) is a software one, slower than wasm`
        : 'no WebGPU adapter in this context'
      : requested === 'webgl'
        ? 'webgl is not built into this engine; wasm is used instead'
        : `${requested} was requested`;
  const fallbacks: BackendName[] = requested === 'cpu' ? ['cpu'] : ['wasm', 'cpu'];
  const failures: string[] = [];
  for (const name of fallbacks) {
    try {
      const wasm = await activate(name, options.wasmThreads);
      const why = failures.length ? `${reason}; ${failures.join('; ')}` : reason;
      return { backend: name, requested, adapter, reason: why, wasm };
    } catch (error) {
      failures.push(`${name} failed to start (${(error as Error).message})`);
    }
  }
  throw new Error(`no TF.js backend could start: ${failures.join('; ')}`);
}

function webgpuReport(requested: BackendRequest, adapter: AdapterReport): BackendReport {
  const limits = gpuBufferLimits();
  return {
    backend: 'webgpu',
    requested,
    adapter,
    reason: null,
    wasm: null,
    ...(limits ? { gpuLimits: limits } : {}),
  };
}

function checkGpuLimits(cap: Partial<BufferLimits> | undefined): Partial<BufferLimits> {
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

/** Starts `name`; on wasm, with its threads, and resolves with what it runs on. */
async function activate(name: BackendName, threads?: number): Promise<WasmThreadsReport | null> {
  if (name === 'webgpu') registerOwnWebGpu();
  const plan = name === 'wasm' ? planThreads(threads, currentScope()) : null;
  if (plan) registerWasmKernels();
  const restore = plan ? requestThreads(plan) : () => undefined;
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } finally {
    restore();
  }
  if (!ok || tf.getBackend() !== name) {
    if (name === 'webgpu') throw unavailable('the webgpu backend failed to initialise');
    throw new Error(`backend ${name} did not initialise (TF.js is on ${tf.getBackend()})`);
  }
  return plan ? threadsReport(plan, threads, currentScope()) : null;
}

function checkThreads(threads: number | undefined): void {
  if (threads === undefined || (Number.isInteger(threads) && threads >= 1 && threads <= 256))
    return;
  throw new ValidationError(
    `wasmThreads is ${String(threads)}; it must be an integer from 1 to 256 (or left out for the default).`,
  );
}

function registerOwnWebGpu(): void {
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

async function probeAdapter(): Promise<AdapterReport | null> {
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

function unavailable(why: string): WebGPUUnavailableError {
  return new WebGPUUnavailableError(
    `WebGPU is unavailable: ${why}. Use a browser with WebGPU enabled (Chrome/Edge 113+, or ` +
      `Chromium with --enable-unsafe-webgpu), or pick backend 'wasm' or 'auto'.`,
  );
}
