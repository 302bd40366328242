// The runtime our WebGPU kernels stand on: dispatches in TF.js's stream, in-place writes,
// uniforms, parallel compile, compile errors, counters. On Dawn over SwiftShader.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyTensor, webgpuBackend } from '../../../src/runtime/webgpu/backend-internals';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import {
  compileMessages,
  dispatch,
  groupsFor,
  precompile,
  type GpuKernel,
} from '../../../src/runtime/webgpu/gpu-runtime';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const AXPY: GpuKernel = {
  name: 'test-axpy',
  uniforms: ['u32', 'f32'],
  code: /* wgsl */ `
    struct U { n: u32, a: f32 }
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> y: array<f32>;
    @group(0) @binding(2) var<uniform> u: U;
    @compute @workgroup_size(64)
    fn main(@builtin(global_invocation_id) id: vec3<u32>) {
      if (id.x < u.n) { y[id.x] = u.a * x[id.x] + y[id.x]; }
    }`,
};

describe('webgpu runtime (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it('exposes the backend members it relies on', () => {
    const b = webgpuBackend()!;
    for (const name of [
      'ensureCommandEncoderReady',
      'endComputePassEncoder',
      'submitQueue',
      'uploadToGPU',
      'getBufferData',
    ] as const) {
      expect(typeof b[name], name).toBe('function');
    }
    expect(Array.isArray(b.uniformPendingDisposal)).toBe(true);
    expect(b.commandQueueOwnedIds).toBeInstanceOf(WeakSet);
    expect(typeof b.dispatchCountInPass).toBe('number');
  });

  it('dispatches in order with stock ops and writes in place', async () => {
    await precompile([AXPY]);
    const x = tf.tensor1d([1, 2, 3, 4, 5]);
    const y = tf.add(tf.tensor1d([10, 20, 30, 40, 50]), 0); // made by a stock kernel
    const { work } = await countGpuWork(async () => {
      dispatch(AXPY, [x, y], groupsFor(5, 64), [5, 2]);
      const z = tf.mul(y, 2); // a stock kernel reading what ours wrote
      const out = await z.data();
      z.dispose();
      return out;
    });
    expect(Array.from(await y.data())).toEqual([12, 24, 36, 48, 60]);
    expect(work.ours['test-axpy']).toBe(1);
    expect(work.stock.BinaryOpProgram).toBe(1);
    expect(work.readbacks).toBe(1);
    tf.dispose([x, y]);
  });

  it('gives a fresh tensor a buffer for a kernel to fill', async () => {
    const x = tf.tensor1d([1, 1, 1]);
    const y = emptyTensor<tf.Tensor1D>([3]);
    const zero: GpuKernel = {
      name: 'test-zero',
      code: `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
        @compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
          if (id.x < 3u) { y[id.x] = 0.0; } }`,
    };
    dispatch(zero, [y], 1);
    dispatch(AXPY, [x, y], 1, [3, 0.5]);
    expect(Array.from(await y.data())).toEqual([0.5, 0.5, 0.5]);
    tf.dispose([x, y]);
  });

  it('reports WGSL compile errors with the kernel name and line', async () => {
    const broken: GpuKernel = { name: 'test-broken', code: 'fn main() { let a: f32 = 1u; }' };
    const messages = await compileMessages(broken);
    expect(messages.some((m) => m.startsWith('test-broken:1:') && m.includes('error'))).toBe(true);
  });
});
