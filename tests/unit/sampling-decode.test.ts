import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import { seededArray } from '../helpers/seeded';
import { decode } from '../../src/sampling/decode-loop';
import type { DecodeModel, DecodeSession } from '../../src/sampling/decode-model';
import { normaliseSamplingParams } from '../../src/core/sampling-params';
import type { SamplingParamsInput } from '../../src/core/sampling-params';

const V = 6;
const EOS = 5;

/** Logits as a function of a sequence's whole context (prompt + fed tokens). */
type LogitsFn = (context: readonly number[]) => Float32Array;

/** "Count up": token (last + 1) mod V gets logit 5, the rest 0. Greedy from [0] → 1, 2, 3, … */
const countUp: LogitsFn = (ctx) => {
  const out = new Float32Array(V);
  out[((ctx[ctx.length - 1] ?? 0) + 1) % V] = 5;
  return out;
};

/** A fairly flat distribution that depends on the last token and the length. */
const wobbly: LogitsFn = (ctx) =>
  seededArray(V, 1 + (ctx[ctx.length - 1] ?? 0) + 7 * ctx.length, 2);

/** A DecodeModel that records how it is driven. */
class FakeModel implements DecodeModel {
  readonly vocabSize = V;
  prefills: { prompt: number[]; batch: number }[] = [];
  /** The tokens of every step call, in order. */
  steps: number[][] = [];
  disposed = 0;
  longestContext = 0;

  constructor(
    readonly maxPositions: number,
    private readonly logits: LogitsFn,
    private readonly failOnStep = -1,
  ) {}

  async prefill(prompt: readonly number[], batch: number) {
    this.prefills.push({ prompt: [...prompt], batch });
    this.longestContext = Math.max(this.longestContext, prompt.length);
    const contexts = Array.from({ length: batch }, () => [...prompt]);
    const session: DecodeSession = {
      batch,
      step: async (tokens) => {
        if (this.steps.length === this.failOnStep) throw new Error('device lost');
        this.steps.push([...tokens]);
        const out = new Float32Array(batch * V); // [B, V]
        contexts.forEach((ctx, i) => {
          ctx.push(tokens[i] as number);
          this.longestContext = Math.max(this.longestContext, ctx.length);
          out.set(this.logits(ctx), i * V);
        });
        return out;
      },
      dispose: () => {
        this.disposed++;
      },
    };
    return { session, lastLogits: this.logits(prompt) };
  }
}

const params = (p: SamplingParamsInput, eos: number[] = [EOS]) =>
  normaliseSamplingParams(p, { vocabSize: V, eosTokenIds: eos });
const letters = (ids: readonly number[]) => ids.map((id) => 'abcdef'[id]).join('');

describe('decode', () => {
  it('is greedy at temperature 0 and batches every step', async () => {
    const model = new FakeModel(100, countUp);
    const out = await decode(model, [0], 3, params({ temperature: 0, max_tokens: 4 }, []), letters);
    for (const s of out) {
      expect(s.tokens).toEqual([1, 2, 3, 4]);
      expect(s.stop_reason).toBe('length');
    }
    // 4 tokens = one prefill (token 1) + 3 steps, each carrying all 3 sequences.
    expect(model.prefills).toEqual([{ prompt: [0], batch: 3 }]);
    expect(model.steps).toEqual([
      [1, 1, 1],
      [2, 2, 2],
      [3, 3, 3],
    ]);
    expect(model.disposed).toBe(1);
  });

  it('stops at EOS with the EOS token included', async () => {
    const model = new FakeModel(100, countUp);
    const [s] = await decode(model, [2], 1, params({ temperature: 0 }), letters);
    expect(s).toMatchObject({ tokens: [3, 4, 5], stop_reason: 'stop' });
    expect(s?.logprobs).toHaveLength(3);
  });

  it('stops at a user token id with it included', async () => {
    const model = new FakeModel(100, countUp);
    const [s] = await decode(model, [0], 1, params({ temperature: 0, stop: [3] }, []), letters);
    expect(s).toMatchObject({ tokens: [1, 2, 3], stop_reason: 'stop' });
  });

  it('trims a stop string spanning tokens, with its log-probs', async () => {
    const model = new FakeModel(100, countUp);
    // Greedy from [0] gives b c d e …; "cd" starts at j = 1, covered by "b" → keep 1 token.
    const [s] = await decode(model, [0], 1, params({ temperature: 0, stop: 'cd' }, []), letters);
    expect(s?.tokens).toEqual([1]);
    expect(s?.logprobs).toHaveLength(1);
    expect(s?.stop_reason).toBe('stop');
    // Stopped when "d" arrived: prefill gave b, steps gave c and d.
    expect(model.steps).toHaveLength(2);
  });

  it('stops each sequence on its own and pads finished ones with their last token', async () => {
    const model = new FakeModel(100, wobbly);
    const out = await decode(model, [1], 8, params({ seed: 11, max_tokens: 8 }), letters);
    for (const s of out) {
      const eosAt = s.tokens.indexOf(EOS);
      if (s.stop_reason === 'stop') expect(eosAt).toBe(s.tokens.length - 1);
      else expect(s).toMatchObject({ stop_reason: 'length', tokens: { length: 8 } });
      expect(s.logprobs).toHaveLength(s.tokens.length);
    }
    // The fixture must exercise both endings and early finishes, or the checks below are empty.
    expect(out.some((s) => s.stop_reason === 'stop')).toBe(true);
    expect(out.some((s) => s.stop_reason === 'length')).toBe(true);
    const longest = Math.max(...out.map((s) => s.tokens.length));
    expect(out.some((s) => s.tokens.length < longest - 1)).toBe(true);
    expect(model.steps).toHaveLength(longest - 1);
    model.steps.forEach((fed, step) =>
      fed.forEach((token, i) => {
        const seq = out[i]?.tokens ?? [];
        // Step `step` feeds token `step` of a running sequence, or a finished one's last token.
        expect(token).toBe(step < seq.length ? seq[step] : seq[seq.length - 1]);
      }),
    );
  });

  it('never runs past the context', async () => {
    const model = new FakeModel(8, countUp);
    const run = (p: SamplingParamsInput) => decode(model, [0, 1, 2], 2, params(p, []), letters);
    // 8 positions − 3 prompt tokens = 5 generated; the 5th is never fed back, so the model
    // sees at most 3 + 4 = 7 positions.
    for (const p of [{ temperature: 0 }, { temperature: 0, max_tokens: 100 }]) {
      const [s] = await run(p);
      expect(s).toMatchObject({ tokens: [3, 4, 5, 0, 1], stop_reason: 'length' });
    }
    expect(model.longestContext).toBe(7);
  });

  it('rejects a prompt that leaves no room, before running the model', async () => {
    const model = new FakeModel(4, countUp);
    const call = decode(model, [0, 1, 2, 3], 1, params({}), letters);
    await expect(call).rejects.toThrow(ValidationError);
    await expect(call).rejects.toThrow(/prompt has 4 tokens.*4 positions/);
    expect(model.prefills).toHaveLength(0);
  });

  it('rejects bad num_samples and prompts', async () => {
    const model = new FakeModel(100, countUp);
    await expect(decode(model, [0], 0, params({}), letters)).rejects.toThrow(/num_samples is 0/);
    await expect(decode(model, [], 1, params({}), letters)).rejects.toThrow(/prompt is empty/);
    await expect(decode(model, [0, 6], 1, params({}), letters)).rejects.toThrow(
      /prompt token 1 is 6/,
    );
  });

  it('repeats with the same seed and differs with another', async () => {
    const run = async (seed: number | null) =>
      (
        await decode(
          new FakeModel(100, wobbly),
          [0],
          1,
          params({ seed, max_tokens: 20 }, []),
          letters,
        )
      )[0]?.tokens;
    const a = await run(1);
    expect(a).toHaveLength(20);
    expect(await run(1)).toEqual(a);
    // 20 draws from a flat-ish 6-way distribution: equal by chance with negligible probability.
    expect(await run(2)).not.toEqual(a);
    expect(await run(null)).not.toEqual(await run(null));
  });

  it('gives sequence 0 the same tokens whatever num_samples is', async () => {
    const p = params({ seed: 7, max_tokens: 15 }, []);
    const [alone] = await decode(new FakeModel(100, wobbly), [0], 1, p, letters);
    const batch = await decode(new FakeModel(100, wobbly), [0], 4, p, letters);
    expect(batch[0]).toEqual(alone);
    // The other streams are independent draws, not copies.
    expect(batch[1]?.tokens).not.toEqual(alone?.tokens);
  });

  it('returns log_softmax of the raw logits for each token', async () => {
    const prompt = [2];
    const out = await decode(
      new FakeModel(100, wobbly),
      prompt,
      2,
      params({ seed: 3, max_tokens: 10, temperature: 0.5, top_k: 3 }, []),
      letters,
    );
    for (const s of out) {
      s.tokens.forEach((token, g) => {
        // Reference: the fixture's logits for this context, log_softmax in float64.
        const raw = Array.from(wobbly([...prompt, ...s.tokens.slice(0, g)]));
        const m = Math.max(...raw);
        const lse = m + Math.log(raw.reduce((acc, x) => acc + Math.exp(x - m), 0));
        expect(s.logprobs[g]).toBeCloseTo((raw[token] as number) - lse, 12);
      });
    }
  });

  it('streams every drawn token through onToken', async () => {
    const seen: [number, number][] = [];
    const out = await decode(
      new FakeModel(100, countUp),
      [0],
      2,
      params({ temperature: 0, max_tokens: 3 }, []),
      letters,
      (seq, token) => seen.push([seq, token]),
    );
    expect(out.map((s) => s.tokens)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(seen).toEqual([
      [0, 1],
      [1, 1],
      [0, 2],
      [1, 2],
      [0, 3],
      [1, 3],
    ]);
  });

  it('disposes the session when a step throws', async () => {
    const model = new FakeModel(100, countUp, 1);
    await expect(
      decode(model, [0], 2, params({ temperature: 0, max_tokens: 10 }, []), letters),
    ).rejects.toThrow('device lost');
    expect(model.steps).toHaveLength(1);
    expect(model.disposed).toBe(1);
  });
});
