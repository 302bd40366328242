/**
 * Counts what a stretch of work costs on webgpu: kernel dispatches (TF.js's stock programs and
 * ours), uploads (tensors whose values go from the page to the GPU) and readbacks (buffers mapped
 * to read on the page). Issue 12/13's figures (kernels per step, per decoded token; readbacks per
 * step) come from here: `npm run bench -- --gpu-counts` and the webgpu tests.
 *
 * Counting wraps three backend methods while a window is open and restores them when the last
 * window closes; nothing is wrapped otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { webgpuBackend, type BackendInternals } from './backend-internals';

export interface GpuWork {
  /** Every dispatch: stock TF.js programs plus ours. */
  dispatches: number;
  /** Dispatches of our own kernels, by kernel name. */
  ours: Record<string, number>;
  /** Stock programs by TF.js program class name. */
  stock: Record<string, number>;
  /** Tensor values written from the page into GPU buffers. */
  uploads: number;
  uploadBytes: number;
  /** GPU buffers read back to the page (each an awaited mapAsync). */
  readbacks: number;
  /**
   * Compute pipelines created (compiled) in the window: ours by kernel name (new entries of
   * gpu-runtime's cache, one per WGSL source), stock by program class name (new keys of TF.js's
   * `pipelineCache`, one per shader key: a program's variant, input ranks, dtypes, broadcasts).
   */
  pipelines: { ours: Record<string, number>; stock: Record<string, number> };
}

const open: GpuWork[] = [];
let restore: (() => void) | null = null;

/** A window's counts before anything ran (all zero). */
export function emptyWork(): GpuWork {
  return {
    dispatches: 0,
    ours: {},
    stock: {},
    uploads: 0,
    uploadBytes: 0,
    readbacks: 0,
    pipelines: { ours: {}, stock: {} },
  };
}

/** Called by gpu-runtime for each of our dispatches. */
export function noteDispatch(name: string): void {
  for (const w of open) {
    w.dispatches++;
    w.ours[name] = (w.ours[name] ?? 0) + 1;
  }
}

/** Called by gpu-runtime when one of our kernels' pipelines is created. */
export function notePipeline(name: string): void {
  for (const w of open) w.pipelines.ours[name] = (w.pipelines.ours[name] ?? 0) + 1;
}

function wrap(backend: BackendInternals): () => void {
  const run = backend.runWebGPUProgram;
  const known = new Set(Object.keys(backend.pipelineCache));
  const upload = backend.uploadToGPU;
  const read = backend.getBufferData;
  const b = backend as unknown as Record<string, unknown>;
  b.runWebGPUProgram = function (this: BackendInternals, ...args: Parameters<typeof run>) {
    const [program] = args;
    const name = (program as { constructor: { name: string } }).constructor.name;
    for (const w of open) {
      w.dispatches++;
      w.stock[name] = (w.stock[name] ?? 0) + 1;
    }
    const output = run.apply(this, args);
    const key = (program as { shaderKey?: string }).shaderKey;
    if (key !== undefined && !known.has(key) && key in this.pipelineCache) {
      known.add(key);
      for (const w of open) w.pipelines.stock[name] = (w.pipelines.stock[name] ?? 0) + 1;
    }
    return output;
  };
  b.uploadToGPU = function (this: BackendInternals, dataId: object) {
    const entry = this.tensorMap.get(dataId);
    if (entry.resource == null && entry.values) {
      const bytes = tf.util.sizeFromShape(entry.shape) * 4;
      for (const w of open) {
        w.uploads++;
        w.uploadBytes += bytes;
      }
    }
    upload.call(this, dataId);
  };
  b.getBufferData = function (this: BackendInternals, buffer: GPUBuffer) {
    for (const w of open) w.readbacks++;
    return read.call(this, buffer);
  };
  return () => {
    b.runWebGPUProgram = run;
    b.uploadToGPU = upload;
    b.getBufferData = read;
  };
}

/** Counts the webgpu work `fn` does (zeros on another backend). Windows may nest. */
export async function countGpuWork<T>(
  fn: () => Promise<T> | T,
): Promise<{ result: T; work: GpuWork }> {
  const work = emptyWork();
  const backend = webgpuBackend();
  if (backend && !restore) restore = wrap(backend);
  open.push(work);
  try {
    const result = await fn();
    return { result, work };
  } finally {
    open.splice(open.indexOf(work), 1);
    if (open.length === 0 && restore) {
      restore();
      restore = null;
    }
  }
}

/**
 * Reads back through our own code paths (read-together, pending reads) that map buffers
 * themselves instead of calling the backend's getBufferData.
 */
export function noteReadback(): void {
  for (const w of open) w.readbacks++;
}
