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
 *
 * In TF.js's compile-only mode (the engine's warm-up, src/engine/warm-up.ts) nothing runs and the
 * readback answers zeros, which would read as token 0 for every sequence, and stop them all where
 * 0 is an EOS id (SmolLM2's), before the steps' pipelines are compiled. There the source answers
 * what the page path answers on all-zero logits: a uniform draw from each sequence's stream.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TokenChoiceParams } from '../core/sampling-params';
import { compileOnly } from '../runtime/webgpu/gpu-runtime';
import { chooseTokensOnDevice, rngStates } from '../runtime/webgpu/ops/sampling';
import { nonFiniteLogitError, noLiveTokenError, type TokenChoice } from './choose-token';
import type { DecodeModel, DeviceDecodeSession } from './decode-model';
import { streamRng, type Rng, type SeedWords } from './rng';
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
  return new DeviceTokens(session, lastLogits, rngStates(states), batch, V, params, seed);
}

class DeviceTokens implements TokenSource {
  /** [B] int32: the last chosen ids, the next step's input. */
  private ids: tf.Tensor1D | null = null;
  /** The page's streams, only for compile-only mode (see the module comment). */
  private pageRngs: Rng[] | null = null;

  constructor(
    private readonly session: DeviceDecodeSession,
    /** [1, V] from the prefill until the first call, then null. */
    private first: tf.Tensor2D | null,
    /** [B·4] int32 xoshiro128** states, advanced in place by the kernel. */
    private readonly rng: tf.Tensor1D,
    private readonly batch: number,
    private readonly V: number,
    private readonly params: TokenChoiceParams,
    private readonly seed: SeedWords,
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
    if (compileOnly()) return running.map((on, i) => (on ? this.uniformChoice(i) : null));
    return running.map((on, i) => (on ? this.choice(out, i) : null));
  }

  dispose(): void {
    this.first?.dispose();
    this.ids?.dispose();
    this.rng.dispose();
    this.session.dispose();
  }

  /** What choose-token.ts gives sequence i on all-equal logits: a uniform draw. */
  private uniformChoice(i: number): TokenChoice {
    this.pageRngs ??= Array.from({ length: this.batch }, (_, j) => streamRng(this.seed, j));
    const u = this.pageRngs[i]!.nextFloat();
    return { token: Math.min(this.V - 1, Math.floor(u * this.V)), logprob: -Math.log(this.V) };
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
