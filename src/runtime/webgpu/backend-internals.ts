/**
 * The parts of TF.js's WebGPUBackend (4.22) that our own kernels use, typed in one place.
 *
 * Stock kernels go through `runWebGPUProgram`, which binds one output and read-only inputs. Our
 * kernels need more (several outputs, buffers updated in place, uniforms of their own), so they
 * record their dispatches into the backend's own command encoder and compute pass, in order with
 * every stock kernel, and hand their uniform buffers to the backend to release after submit.
 * Those members are private in the type declarations; tests/unit/webgpu/runtime.test.ts pins
 * that they exist and behave as used here, so a TF.js upgrade that moves them fails loudly.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

interface TensorEntry {
  values: unknown;
  dtype: tf.DataType;
  shape: number[];
  refCount: number;
  resource?: GPUBuffer | GPUTexture | GPUExternalTexture;
}

/** What we touch, with the visibility TF.js gives it at run time. */
export interface BackendInternals {
  readonly device: GPUDevice;
  readonly queue: GPUQueue;
  readonly bufferManager: {
    acquireBuffer(size: number, usage: GPUBufferUsageFlags, mappedAtCreation?: boolean): GPUBuffer;
    releaseBuffer(buffer: GPUBuffer): void;
  };
  readonly tensorMap: { get(dataId: object): TensorEntry; has(dataId: object): boolean };
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  readonly uniformPendingDisposal: GPUBuffer[];
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getBufferData(buffer: GPUBuffer): Promise<ArrayBuffer>;
  runWebGPUProgram: WebGPUBackend['runWebGPUProgram'];
  /** Stock programs' pipelines (or their pending compiles) by shader key. */
  readonly pipelineCache: Record<string, unknown>;
  memory(): { numBytesInGPU: number; numBytesAllocatedInGPU: number };
}

/** The running webgpu backend, or null when TF.js is on another one. */
export function webgpuBackend(): BackendInternals | null {
  if (tf.getBackend() !== 'webgpu') return null;
  return tf.backend() as unknown as BackendInternals;
}

/** The running webgpu backend; throws when TF.js is on another one. */
export function requireWebgpuBackend(): BackendInternals {
  const backend = webgpuBackend();
  if (!backend) {
    throw new Error(`a WebGPU kernel was called while TF.js runs on '${tf.getBackend()}'`);
  }
  return backend;
}

/** The GPU buffer under a tensor, uploading it first if it still lives on the CPU side. */
export function bufferOf(backend: BackendInternals, t: tf.TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  const resource = backend.tensorMap.get(t.dataId).resource;
  if (!resource || !('mapAsync' in resource)) {
    throw new Error(`tensor ${JSON.stringify(t.shape)} has no GPU buffer (a texture?)`);
  }
  return resource;
}

/** A new tensor whose GPU buffer exists (contents undefined until a kernel writes it). */
export function emptyTensor<T extends tf.Tensor>(
  shape: number[],
  dtype: tf.DataType = 'float32',
): T {
  const backend = requireWebgpuBackend();
  const info = backend.makeTensorInfo(shape, dtype);
  backend.uploadToGPU(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info) as T;
}
