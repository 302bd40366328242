// RMSNorm and LayerNorm on our WebGPU kernels (src/runtime/webgpu/kernels/norms.ts) against the
// float64 reference (tests/reference/transformer-f64-ops.ts, its gradient by finite differences)
// and the stock TF.js ops on cpu (src/model/layers.ts with our kernels off), forward and backward,
// any rank; one dispatch each way.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerNorm, rmsNorm } from '../../../src/model/layers';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { precompile } from '../../../src/runtime/webgpu/gpu-runtime';
import { NORM_KERNELS } from '../../../src/runtime/webgpu/kernels/norms';
import { gradFD } from '../../reference/finite-diff';
import * as f64 from '../../reference/transformer-f64-ops';
import { expectNoLeaks, seededArray } from '../../helpers/tf-node';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';
import { expectClose, onCpu } from '../../helpers/webgpu-parity';

const EPS = 1e-5;

interface Case {
  readonly kind: 'rms' | 'layer';
  readonly shape: number[];
}

// C = 8 takes the vec4 kernels, C = 6 the scalar ones; the 4-D case is Qwen3's per-head q/k norm.
const CASES: Case[] = [
  { kind: 'rms', shape: [2, 3, 8] },
  { kind: 'rms', shape: [2, 2, 3, 6] },
  { kind: 'layer', shape: [3, 8] },
  { kind: 'layer', shape: [2, 5, 6] },
];

interface Data {
  readonly x: Float32Array;
  readonly w: Float32Array;
  readonly b: Float32Array;
  readonly dy: Float32Array;
}

function data({ shape }: Case, seed: number): Data {
  const C = shape[shape.length - 1]!;
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    x: seededArray(n, seed, 4),
    w: seededArray(C, seed + 1).map((v) => 1 + v),
    b: seededArray(C, seed + 2),
    dy: seededArray(n, seed + 3, 2),
  };
}

function apply(kind: Case['kind'], x: tf.Tensor, w: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor {
  return kind === 'rms' ? rmsNorm(x, w, EPS) : layerNorm(x, w, b, EPS);
}

/** y and dL/dx for L = Σ y·dy, on whatever backend is running. */
async function run(c: Case, d: Data): Promise<{ y: Float32Array; dx: Float32Array }> {
  const x = tf.tensor(d.x, c.shape);
  const w = tf.tensor1d(d.w);
  const b = tf.tensor1d(d.b);
  const dy = tf.tensor(d.dy, c.shape);
  const y = apply(c.kind, x, w, b);
  const dx = tf.grad((xs: tf.Tensor) => apply(c.kind, xs, w, b))(x, dy);
  const out = { y: (await y.data()) as Float32Array, dx: (await dx.data()) as Float32Array };
  tf.dispose([x, w, b, dy, y, dx]);
  return out;
}

function reference(c: Case, d: Data): { y: Float64Array; dx: Float64Array } {
  const C = c.shape[c.shape.length - 1]!;
  const rows = d.x.length / C;
  const forward = (x: Float64Array) =>
    c.kind === 'rms' ? f64.rmsNorm(x, rows, C, d.w, EPS) : f64.layerNorm(x, rows, C, d.w, d.b, EPS);
  const loss = (x: Float64Array) => forward(x).reduce((s, v, i) => s + v * d.dy[i]!, 0);
  const x = Float64Array.from(d.x);
  return { y: forward(x), dx: gradFD(loss, x, 1e-6) };
}

describe('norm kernels (Dawn)', () => {
  beforeAll(async () => {
    await useWebGpuBackend();
    await precompile(NORM_KERNELS);
  }, 120_000);
  afterAll(useCpuAgain);

  for (const c of CASES) {
    it(`${c.kind}Norm [${c.shape}] matches float64 and stock cpu, forward and backward`, async () => {
      const d = data(c, 7);
      const ours = await expectNoLeaks(() => run(c, d));
      const stock = await onCpu(() => run(c, d));
      const ref = reference(c, d);
      expectClose(ours.y, ref.y, 2e-6, 'y vs float64');
      expectClose(ours.dx, ref.dx, 1e-5, 'dx vs float64 finite differences');
      expectClose(ours.y, stock.y, 2e-6, 'y vs stock cpu');
      expectClose(ours.dx, stock.dx, 1e-5, 'dx vs stock cpu');
    });
  }

  it('forward and backward are one shader (one pipeline) per kind and load width', () => {
    const shaders = new Set(
      NORM_KERNELS.filter((k) => !k.name.includes('weight')).map((k) => k.code),
    );
    expect(shaders.size).toBe(4); // rms, layer × scalar, vec4
  });

  it('costs one dispatch forward and one backward', async () => {
    for (const c of [CASES[0]!, CASES[2]!]) {
      const d = data(c, 3);
      const x = tf.tensor(d.x, c.shape);
      const [w, b] = [tf.tensor1d(d.w), tf.tensor1d(d.b)];
      const dy = tf.tensor(d.dy, c.shape);
      const fwd = await countGpuWork(() => apply(c.kind, x, w, b));
      expect(fwd.work.dispatches).toBe(1);
      const both = await countGpuWork(() =>
        tf.grad((xs: tf.Tensor) => apply(c.kind, xs, w, b))(x, dy),
      );
      expect(both.work.ours).toEqual({
        [`${c.kind}-norm-forward-vec4`]: 1,
        [`${c.kind}-norm-backward-vec4`]: 1,
      });
      expect(both.work.dispatches).toBe(2);
      tf.dispose([x, w, b, dy, fwd.result, both.result]);
    }
  });

  it('gives trainable norm weights their gradients (pretraining)', async () => {
    for (const c of [CASES[1]!, CASES[3]!]) {
      const d = data(c, 11);
      const grads = async () => {
        const x = tf.tensor(d.x, c.shape);
        const dy = tf.tensor(d.dy, c.shape);
        const w = tf.variable(tf.tensor1d(d.w), true, `w-${c.kind}-${tf.getBackend()}`);
        const b = tf.variable(tf.tensor1d(d.b), true, `b-${c.kind}-${tf.getBackend()}`);
        const { value, grads: g } = tf.variableGrads(
          () => tf.sum(tf.mul(apply(c.kind, x, w, b), dy)),
          c.kind === 'rms' ? [w] : [w, b],
        );
        const dw = (await g[w.name]!.data()) as Float32Array;
        const db = c.kind === 'layer' ? ((await g[b.name]!.data()) as Float32Array) : null;
        tf.dispose([x, dy, w, b, value, ...Object.values(g)]);
        return { dw, db };
      };
      const ours = await grads();
      const stock = await onCpu(grads);
      expectClose(ours.dw, stock.dw, 1e-5, `${c.kind} dw`);
      if (c.kind === 'layer') expectClose(ours.db!, stock.db!, 1e-5, 'db');
    }
  });
});
