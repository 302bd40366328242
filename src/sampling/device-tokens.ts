/**
 * The device path of the decode loop (webgpu with our kernels): the logits stay on the GPU, the
 * sample-rows kernel chooses every sequence's token there (src/runtime/webgpu/kernels/
 * sample-rows.ts: the same temperature, top-k, top-p, draw and raw log-prob as choose-token.ts),
 * and each step reads back one small buffer, B ids then B log-probs. The chosen ids also stay on
 * the device as the next step's input, so a step uploads nothing.
 *
 * Random numbers: sequence i runs the same xoshiro128** stream as on the page (rng.ts,
 * `streamRng(seed, i)`), its state uploaded once and advanced by the kernel, so a seed gives the
 * page path's tokens wherever float32 rounding does not move a choice (sample-rows.ts says when
 * it can). A finished sequence is fed the kernel's choice rather than its own last token; its row
 * is ignored either way.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TokenChoiceParams } from '../core/sampling-params';
import { chooseTokensOnDevice, rngStates } from '../runtime/webgpu/ops/sampling';
import { nonFiniteLogitError, noLiveTokenError, type TokenChoice } from './choose-token';
import type { DecodeModel, DeviceDecodeSession } from './decode-model';
import { streamRng, type SeedWords } from './rng';
import type { TokenSource } from './token-source';

/** The device path: prefill, then per step one kernel dispatch and one readback of [2, B]. */
export function deviceTokenSource(
  model: DecodeModel,
  prompt: readonly number[],
  batch: number,
  params: TokenChoiceParams,
  seed: SeedWords,
  maxNewTokens: number,
): TokenSource {
  const V = model.vocabSize;
  const states = Array.from({ length: batch }, (_, i) => streamRng(seed, i).state());
  if (!model.prefillOnDevice) {
    throw new TypeError('deviceTokenSource: this DecodeModel has no prefillOnDevice.');
  }
  const { session, lastLogits } = model.prefillOnDevice(prompt, batch, maxNewTokens);
  return new DeviceTokens(session, lastLogits, rngStates(states), batch, V, params);
}

class DeviceTokens implements TokenSource {
  /** [B] int32: the last chosen ids, the next step's input. */
  private ids: tf.Tensor1D | null = null;

  constructor(
    private readonly session: DeviceDecodeSession,
    /** [1, V] from the prefill until the first call, then null. */
    private first: tf.Tensor2D | null,
    /** [B·4] int32 xoshiro128** states, advanced in place by the kernel. */
    private readonly rng: tf.Tensor1D,
    private readonly batch: number,
    private readonly V: number,
    private readonly params: TokenChoiceParams,
  ) {}

  async next(
    _last: readonly number[],
    running: readonly boolean[],
  ): Promise<(TokenChoice | null)[]> {
    const logits = this.first ?? this.session.stepOnDevice(this.ids!); // [B, V] or [1, V]
    this.first = null;
    let chosen;
    try {
      chosen = chooseTokensOnDevice(logits, this.batch, this.rng, this.params);
    } finally {
      logits.dispose();
    }
    this.ids?.dispose();
    this.ids = chosen.ids;
    let out: Float32Array; // [2, B]: ids (or error codes), then log-probs
    try {
      out = (await chosen.result.data()) as Float32Array;
    } finally {
      chosen.result.dispose();
    }
    return running.map((on, i) => (on ? this.choice(out, i) : null));
  }

  dispose(): void {
    this.first?.dispose();
    this.ids?.dispose();
    this.rng.dispose();
    this.session.dispose();
  }

  /** Sequence i's choice, or the error the page chooser would throw for its row. */
  private choice(out: Float32Array, i: number): TokenChoice {
    const token = out[i] as number;
    const logprob = out[this.batch + i] as number;
    if (token >= 0) return { token, logprob };
    const index = -token - 1;
    if (index < this.V) throw nonFiniteLogitError(index, this.V, logprob);
    throw noLiveTokenError(this.V);
  }
}
