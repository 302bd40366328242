/**
 * AdamW's state on webgpu for a whole adapter: its moments m and v each one arena (arena.ts), a
 * working copy of the parameters in a third, and the gradient-norm partials. One step is two
 * dispatches whatever the number of tensors (kernels/grad-norm.ts, kernels/adamw.ts) plus buffer
 * copies of the parameters in and out; the stock path costs about 20 kernels per tensor. The
 * update is the same float32 arithmetic as adamw.ts (the reference it is tested against), and the
 * gradient norm stays on the device as a scalar tensor until someone reads it.
 */
import type * as tf from '@tensorflow/tfjs';
import { emptyTensor, requireWebgpuBackend } from '../runtime/webgpu/backend-internals';
import { compileOnly } from '../runtime/webgpu/gpu-runtime';
import { readFloats } from '../runtime/webgpu/read-together';
import { adamwUpdate } from '../runtime/webgpu/kernels/adamw';
import {
  gradNormPartials,
  partialsPlan,
  type PartialsPlan,
} from '../runtime/webgpu/kernels/grad-norm';
import type { AdamHyperparams } from '../core/adam-params';
import { Arena, type ArenaLayout } from './arena';

export interface FlatMoments {
  readonly m: Float32Array;
  readonly v: Float32Array;
}

export class AdamWArena {
  private readonly params: Arena;
  private readonly partials: GPUBuffer;
  private readonly plan: PartialsPlan;

  private constructor(
    readonly layout: ArenaLayout,
    readonly m: Arena,
    readonly v: Arena,
  ) {
    this.params = Arena.zeros(layout);
    this.plan = partialsPlan(layout.total / 4);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.partials = requireWebgpuBackend().bufferManager.acquireBuffer(this.plan.count * 4, usage);
  }

  /** Zero moments, or `saved` ones (one array pair per tensor of the layout, sizes checked). */
  static create(layout: ArenaLayout, saved: readonly FlatMoments[] | null): AdamWArena {
    if (!saved) return new AdamWArena(layout, Arena.zeros(layout), Arena.zeros(layout));
    const m = Arena.fromValues(
      layout,
      Arena.pack(
        layout,
        saved.map((s) => s.m),
      ),
    );
    const v = Arena.fromValues(
      layout,
      Arena.pack(
        layout,
        saved.map((s) => s.v),
      ),
    );
    return new AdamWArena(layout, m, v);
  }

  /** Moments held as tensors (the stock path's), copied in. */
  static fromTensors(
    layout: ArenaLayout,
    moments: readonly { m: tf.Tensor; v: tf.Tensor }[],
  ): AdamWArena {
    const state = new AdamWArena(layout, Arena.zeros(layout), Arena.zeros(layout));
    state.m.copyIn(moments.map((x) => x.m));
    state.v.copyIn(moments.map((x) => x.v));
    return state;
  }

  /**
   * Step t of AdamW on `params` (assigned new tensors) with the gradient sums in `grads` (same
   * layout), zeroed as they are read when `zeroGrads`. Returns the global gradient norm before
   * clipping, a new scalar tensor on the device.
   */
  update(
    params: readonly tf.Variable[],
    grads: Arena,
    hp: AdamHyperparams,
    t: number,
    zeroGrads: boolean,
  ): tf.Scalar {
    const n4 = this.layout.total / 4;
    this.params.copyIn(params);
    gradNormPartials(grads.buffer, n4, this.partials, this.plan);
    const norm = emptyTensor<tf.Scalar>([]);
    const uniforms = {
      lr: hp.learning_rate,
      beta1: hp.beta1,
      beta2: hp.beta2,
      eps: hp.eps,
      weightDecay: hp.weight_decay,
      maxNorm: hp.grad_clip_norm,
      t,
    };
    const buffers = {
      params: this.params.buffer,
      grads: grads.buffer,
      m: this.m.buffer,
      v: this.v.buffer,
      partials: this.partials,
      normOut: norm,
    };
    adamwUpdate(buffers, n4, this.plan.count, uniforms, zeroGrads);
    // In compile-only mode nothing ran: leave the parameters as they are.
    if (!compileOnly()) {
      params.forEach((p, i) => {
        const fresh = this.params.slot(i);
        p.assign(fresh as tf.Tensor);
        fresh.dispose();
      });
    }
    return norm;
  }

  /** The moments, one pair of arrays per tensor, read in one transfer. */
  async exportMoments(): Promise<FlatMoments[]> {
    const bytes = this.layout.total * 4;
    const [m, v] = await readFloats([
      { buffer: this.m.buffer, offset: 0, size: bytes },
      { buffer: this.v.buffer, offset: 0, size: bytes },
    ]);
    const ms = this.m.unpack(m as Float32Array);
    const vs = this.v.unpack(v as Float32Array);
    return ms.map((mi, i) => ({ m: mi, v: vs[i] as Float32Array }));
  }

  /** Slot i of m and v as new tensors (to hand the state to the stock path). */
  momentTensors(i: number): { m: tf.Tensor; v: tf.Tensor } {
    return { m: this.m.slot(i), v: this.v.slot(i) };
  }

  dispose(): void {
    this.params.dispose();
    this.m.dispose();
    this.v.dispose();
    const backend = requireWebgpuBackend();
    if (backend.commandEncoder) backend.uniformPendingDisposal.push(this.partials);
    else backend.bufferManager.releaseBuffer(this.partials);
  }
}
