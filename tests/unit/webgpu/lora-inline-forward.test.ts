// When the LoRA projection takes its one-dispatch forward (x·Aᵀ formed in the GEMM): only without a
// gradient tape and for at most INLINE_MAX_ROWS rows. Activation checkpointing runs the block's
// forward without a tape (inline) and again under one in backward (two-dispatch, differentiable):
// its gradients must equal the plain block's.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseLinear } from '../../../src/lora/linear';
import { LoraLinear } from '../../../src/lora/lora-linear';
import { project } from '../../../src/model/blocks';
import { checkpointed } from '../../../src/model/checkpoint';
import type { ProjectionSpec } from '../../../src/model/weight-names';
import { countGpuWork } from '../../../src/runtime/webgpu/counters';
import { INLINE_MAX_ROWS } from '../../../src/runtime/webgpu/ops/lora-projection';
import { expectNoLeaks } from '../../helpers/tf-node';
import { relativeError } from '../../helpers/model-fixtures';
import { seededArray } from '../../helpers/seeded';
import { useCpuAgain, useWebGpuBackend } from '../../helpers/webgpu-node';

const [IN, OUT, R] = [12, 8, 4];
const spec: ProjectionSpec = {
  path: 'test.q',
  projection: 'q_proj',
  inFeatures: IN,
  outFeatures: OUT,
  layout: 'out_in',
  hasBias: false,
};

function makeLora(): { lora: LoraLinear; tensors: tf.Tensor[]; params: tf.Variable[] } {
  const w = tf.tensor2d(seededArray(OUT * IN, 1, 1), [OUT, IN]);
  const a = tf.tidy(() => tf.variable(tf.tensor2d(seededArray(R * IN, 2, 1), [R, IN])));
  const b = tf.tidy(() => tf.variable(tf.tensor2d(seededArray(OUT * R, 3, 1), [OUT, R])));
  const lora = new LoraLinear(new DenseLinear(spec, w, null), a, b, 2);
  return { lora, tensors: [w, a, b], params: [a, b] };
}

describe('LoRA projection: the inline forward only without a tape and for few rows (Dawn)', () => {
  beforeAll(useWebGpuBackend);
  afterAll(useCpuAgain);

  it(`${INLINE_MAX_ROWS} rows: 1 dispatch; ${INLINE_MAX_ROWS + 1}: 2, the same rows' values`, async () => {
    await expectNoLeaks(async () => {
      const { lora, tensors } = makeLora();
      const rows = INLINE_MAX_ROWS + 1;
      const x = tf.tensor2d(seededArray(rows * IN, 4, 2), [rows, IN]);
      const head = tf.slice(x, [0, 0], [INLINE_MAX_ROWS, IN]);
      const few = await countGpuWork(() => lora.apply(head));
      const many = await countGpuWork(() => lora.apply(x));
      expect(few.work.dispatches).toBe(1);
      expect(Object.keys(few.work.ours)).toEqual(['gemm-nt-lrti-vec4']);
      expect(many.work.dispatches).toBe(2);
      expect(Object.keys(many.work.ours).sort()).toEqual(['gemm-nt-lrt-vec4', 'gemm-nt-vec4']);
      const manyHead = tf.slice(many.result, [0, 0], [INLINE_MAX_ROWS, OUT]);
      expect(relativeError(await few.result.data(), await manyHead.data())).toBeLessThan(1e-5);
      tf.dispose([...tensors, x, head, few.result, many.result, manyHead]);
    });
  });

  it('under a checkpointed block: inline forward, differentiable recompute, same gradients', async () => {
    await expectNoLeaks(async () => {
      const { lora, tensors, params } = makeLora();
      const x = tf.tensor3d(seededArray(2 * 3 * IN, 5, 2), [2, 3, IN]);
      const dy = tf.tensor3d(seededArray(2 * 3 * OUT, 6, 2), [2, 3, OUT]);
      const block = (xs: tf.Tensor3D) => project(lora, xs);
      const xs = [x, ...params];
      const plain = await countGpuWork(() => tf.engine().gradients(() => block(x), xs, dy));
      const ckpt = await countGpuWork(() =>
        tf.engine().gradients(() => checkpointed(block, x, params, 2), xs, dy),
      );
      // Plain: 2 forward + 4 backward. Checkpointed: 1 (inline, no tape inside the op's
      // forward) + the recompute under a tape (2) + 4 backward.
      expect(plain.work.dispatches).toBe(6);
      expect(plain.work.ours['gemm-nt-lrti-vec4']).toBeUndefined();
      expect(ckpt.work.dispatches).toBe(7);
      expect(ckpt.work.ours['gemm-nt-lrti-vec4']).toBe(1);
      expect(
        relativeError(await ckpt.result.value.data(), await plain.result.value.data()),
      ).toBeLessThan(1e-5);
      for (let i = 0; i < xs.length; i++) {
        const got = await ckpt.result.grads[i]!.data();
        expect(relativeError(got, await plain.result.grads[i]!.data()), `grad ${i}`).toBeLessThan(
          1e-5,
        );
      }
      tf.dispose([...tensors, x, dy, plain.result.value, ...plain.result.grads]);
      tf.dispose([ckpt.result.value, ...ckpt.result.grads]);
    });
  });
});
