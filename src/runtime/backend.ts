/**
 * The one place that chooses the TF.js backend (webgpu, wasm or cpu) and reports what it got.
 *
 * `auto` takes WebGPU only on a hardware adapter, else wasm, else cpu: on the machines we measured,
 * wasm ran a 512³ matmul ~40× faster than the cpu backend, and a software (SwiftShader) WebGPU
 * adapter is slower than wasm. The webgpu backend runs on a device the engine requests itself
 * (webgpu-device.ts). Kernels wasm lacks or gets wrong are registered from `runtime/wasm-kernels`.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ValidationError } from '../errors/loops-errors';
import { registerWasmKernels } from './wasm-kernels';
import {
  currentScope,
  planThreads,
  redirectPthreadWorkers,
  requestThreads,
  threadsReport,
  type WasmThreadsReport,
} from './wasm-threads';
import {
  checkGpuLimits,
  gpuBufferLimits,
  probeAdapter,
  registerOwnWebGpu,
  unavailable,
  type AdapterReport,
  type BufferLimits,
} from './webgpu-device';

export {
  currentGpuDevice,
  DEFAULT_BUFFER_LIMITS,
  describeAdapter,
  gpuBufferLimits,
  type AdapterReport,
  type BufferLimits,
} from './webgpu-device';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto' | 'webgl';

export const BACKEND_REQUESTS: readonly BackendRequest[] = [
  'auto',
  'webgpu',
  'wasm',
  'webgl',
  'cpu',
];

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

/** The cap the next webgpu device is created with (set by `selectBackend`). */
let requestedCap: Partial<BufferLimits> = {};

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

/** Starts `name`; on wasm, with its threads, and resolves with what it runs on. */
async function activate(name: BackendName, threads?: number): Promise<WasmThreadsReport | null> {
  if (name === 'webgpu') registerOwnWebGpu(requestedCap);
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
