/**
 * Our own WebGPU kernels, dispatched in TF.js's command stream.
 *
 * A kernel is one WGSL compute shader with entry point `main`. Its bindings are numbered in the
 * order `dispatch` receives them (storage buffers: tensors or raw buffers, read or read_write as
 * the WGSL declares them), and its uniforms, when it has any, are the last binding: a struct of
 * 4-byte scalars (`u32`, `i32`, `f32`) in the order of `uniforms`. Dispatches are recorded into
 * the backend's open compute pass, so they run in program order with the stock TF.js kernels
 * around them, and are submitted when TF.js submits.
 *
 * Pipelines are cached per kernel source. `precompile` builds many in parallel with
 * `createComputePipelineAsync` (issue 12: compile up front, not at the first step), and
 * `compileMessages` returns the WGSL compiler's messages for tests.
 */
import * as tf from '@tensorflow/tfjs';
import { bufferOf, requireWebgpuBackend, type BackendInternals } from './backend-internals';
import { noteDispatch, notePipeline } from './counters';

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface GpuKernel {
  /** Shown in counters, labels and errors. */
  readonly name: string;
  /** The whole shader; entry point `main`. */
  readonly code: string;
  /** The uniform struct's fields, in order (binding after the storage buffers); empty: none. */
  readonly uniforms?: readonly ScalarType[];
  /**
   * The shader's name when kernels share one source (variants told apart by uniform flags, e.g.
   * kernels/gemm.ts): pipelines are counted under it. Default: `name`.
   */
  readonly shader?: string;
}

/** A storage binding: a tensor (its whole buffer) or a raw buffer, optionally a byte range. */
export type Binding =
  | tf.TensorInfo
  | GPUBuffer
  | { readonly buffer: GPUBuffer; readonly offset?: number; readonly size?: number };

type Workgroups = number | readonly [number, number?, number?];

interface DeviceCache {
  readonly pipelines: Map<string, GPUComputePipeline>;
  readonly pending: Map<string, Promise<GPUComputePipeline>>;
  placeholder?: GPUBuffer;
  writablePlaceholder?: GPUBuffer;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function cacheFor(device: GPUDevice): DeviceCache {
  let cache = caches.get(device);
  if (!cache) {
    cache = { pipelines: new Map(), pending: new Map() };
    caches.set(device, cache);
  }
  return cache;
}

function describe(device: GPUDevice, kernel: GpuKernel): GPUComputePipelineDescriptor {
  const label = kernel.shader ?? kernel.name;
  const module = device.createShaderModule({ code: kernel.code, label });
  return { layout: 'auto', compute: { module, entryPoint: 'main' }, label };
}

function pipelineFor(backend: BackendInternals, kernel: GpuKernel): GPUComputePipeline {
  const cache = cacheFor(backend.device);
  let pipeline = cache.pipelines.get(kernel.code);
  if (!pipeline) {
    pipeline = backend.device.createComputePipeline(describe(backend.device, kernel));
    cache.pipelines.set(kernel.code, pipeline);
    notePipeline(kernel.shader ?? kernel.name);
  }
  return pipeline;
}

/**
 * Builds the pipelines of `kernels` in parallel, so the first dispatch of each does not wait for
 * a serial compile. Safe to call repeatedly; resolves when all are ready.
 */
export async function precompile(kernels: readonly GpuKernel[]): Promise<void> {
  const backend = requireWebgpuBackend();
  await Promise.all(kernels.map((kernel) => compileAsync(backend, kernel)));
}

function compileAsync(backend: BackendInternals, kernel: GpuKernel): Promise<unknown> | undefined {
  const cache = cacheFor(backend.device);
  if (cache.pipelines.has(kernel.code)) return undefined;
  let pending = cache.pending.get(kernel.code);
  if (!pending) {
    pending = backend.device
      .createComputePipelineAsync(describe(backend.device, kernel))
      .then((pipeline) => {
        cache.pipelines.set(kernel.code, pipeline);
        cache.pending.delete(kernel.code);
        return pipeline;
      });
    cache.pending.set(kernel.code, pending);
    notePipeline(kernel.shader ?? kernel.name);
  }
  return pending;
}

/**
 * Waits for every pipeline started by `precompile` or by dispatches in compile-only mode, and for
 * TF.js's own (its `checkCompileCompletionAsync`).
 */
export async function compileCompletion(): Promise<void> {
  const backend = requireWebgpuBackend();
  await Promise.all([...cacheFor(backend.device).pending.values()]);
  await (
    backend as unknown as { checkCompileCompletionAsync(): Promise<void> }
  ).checkCompileCompletionAsync();
}

/**
 * TF.js's compile-only mode (`WEBGPU_ENGINE_COMPILE_ONLY`): programs are compiled in parallel and
 * nothing runs. Our dispatches follow it: they start their pipeline's compile and record nothing.
 * The engine runs one small step this way at load (issue 12: compile up front).
 */
export function compileOnly(): boolean {
  return tf.env().getBool('WEBGPU_ENGINE_COMPILE_ONLY');
}

/** The WGSL compiler's errors and warnings for a kernel (empty when it compiles cleanly). */
export async function compileMessages(kernel: GpuKernel): Promise<string[]> {
  const backend = requireWebgpuBackend();
  const module = backend.device.createShaderModule({ code: kernel.code, label: kernel.name });
  const info = await module.getCompilationInfo();
  return info.messages.map(
    (m) => `${kernel.name}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`,
  );
}

function isTensorInfo(b: Binding): b is tf.TensorInfo {
  return 'dataId' in b;
}

function resourceOf(backend: BackendInternals, b: Binding): GPUBufferBinding {
  if (isTensorInfo(b)) {
    backend.commandQueueOwnedIds.add(b.dataId);
    return { buffer: bufferOf(backend, b) };
  }
  if ('mapAsync' in b) return { buffer: b };
  return { buffer: b.buffer, offset: b.offset ?? 0, size: b.size };
}

function uniformBuffer(
  backend: BackendInternals,
  kernel: GpuKernel,
  values: readonly number[],
): GPUBuffer {
  const types = kernel.uniforms ?? [];
  if (values.length !== types.length) {
    throw new Error(`${kernel.name} takes ${types.length} uniforms, got ${values.length}`);
  }
  const bytes = Math.max(16, Math.ceil((types.length * 4) / 16) * 16);
  const data = new DataView(new ArrayBuffer(bytes));
  types.forEach((type, i) => {
    if (type === 'f32') data.setFloat32(i * 4, values[i]!, true);
    else if (type === 'i32') data.setInt32(i * 4, values[i]!, true);
    else data.setUint32(i * 4, values[i]!, true);
  });
  const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
  const buffer = backend.bufferManager.acquireBuffer(bytes, usage);
  backend.queue.writeBuffer(buffer, 0, data.buffer);
  backend.uniformPendingDisposal.push(buffer);
  return buffer;
}

/**
 * Records one dispatch of `kernel` over `bindings` (+ its uniforms) into TF.js's compute pass.
 * Tensors bound read_write are written in place: only bind tensors you own that way (fresh ones
 * from `emptyTensor`, or buffers no other tensor shares).
 */
export function dispatch(
  kernel: GpuKernel,
  bindings: readonly Binding[],
  workgroups: Workgroups,
  uniforms: readonly number[] = [],
): void {
  const backend = requireWebgpuBackend();
  const [x, y = 1, z = 1] = typeof workgroups === 'number' ? [workgroups] : workgroups;
  if (x === 0 || y === 0 || z === 0) return;
  if (compileOnly()) {
    void compileAsync(backend, kernel);
    noteDispatch(kernel.name); // counted, as TF.js's programs are in this mode (bench/gpu-counts.ts)
    return;
  }
  const pipeline = pipelineFor(backend, kernel);
  const entries: GPUBindGroupEntry[] = bindings.map((b, i) => ({
    binding: i,
    resource: resourceOf(backend, b),
  }));
  if (kernel.uniforms?.length) {
    entries.push({
      binding: entries.length,
      resource: { buffer: uniformBuffer(backend, kernel, uniforms) },
    });
  }
  const bindGroup = backend.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
  backend.ensureCommandEncoderReady();
  backend.computePassEncoder ??= backend.commandEncoder!.beginComputePass({});
  const pass = backend.computePassEncoder;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(x, y, z);
  noteDispatch(kernel.name);
  backend.dispatchCountInPass++;
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

/**
 * Submits what is recorded so far, as TF.js does every `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`
 * dispatches: the buffers of tensors disposed since then go back to the pool only at a submit, so
 * a loop that frees a large buffer and allocates one like it a few dispatches later (the
 * unembedding's chunks) calls this to reuse it. Nothing in compile-only mode or when nothing is
 * recorded.
 */
export function submitRecorded(): void {
  const backend = requireWebgpuBackend();
  if (compileOnly() || !backend.commandEncoder) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** Records a buffer-to-buffer copy in order with the dispatches (ends the open compute pass). */
export function copyBuffer(
  src: Binding,
  srcOffset: number,
  dst: Binding,
  dstOffset: number,
  bytes: number,
): void {
  const backend = requireWebgpuBackend();
  const from = resourceOf(backend, src);
  const to = resourceOf(backend, dst);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.commandEncoder!.copyBufferToBuffer(
    from.buffer,
    (from.offset ?? 0) + srcOffset,
    to.buffer,
    (to.offset ?? 0) + dstOffset,
    bytes,
  );
}

/**
 * A small storage buffer to bind where a kernel's optional input (or, `writable`, output) is
 * absent (the kernel's flags say it is not touched). Two per device, never written: the read-only
 * one may be bound several times in a dispatch, the writable one once (WebGPU forbids a buffer
 * bound writable and read in one dispatch).
 */
export function placeholderBuffer(writable = false): GPUBuffer {
  const backend = requireWebgpuBackend();
  const cache = cacheFor(backend.device);
  const make = (label: string) =>
    backend.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label });
  if (writable) return (cache.writablePlaceholder ??= make('placeholder-writable'));
  return (cache.placeholder ??= make('placeholder'));
}

/** Workgroups needed to cover `n` items at `perGroup` items each. */
export function groupsFor(n: number, perGroup: number): number {
  return Math.ceil(n / perGroup);
}
