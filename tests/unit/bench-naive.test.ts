// The bench's naive baselines (bench/lib/naive.ts) against the engine's optimised paths, which
// model-forward / model-gradients tests check against the float64 reference: a benchmark ratio
// only means something if both sides compute the same numbers. The adapter's B is seeded noise
// (engineFixture), so ΔW ≠ 0 and a wrong merge or transpose in the materialised LoRA shows.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MaterialisedLoraLinear, NaiveCausalLM, NoCacheDecoder } from '../../bench/lib/naive';
import { engineFixture, relativeError, type EngineFixture } from '../helpers/model-fixtures';
import { expectNoLeaks, useCpuBackend } from '../helpers/tf-node';
import { normaliseSamplingParams } from '../../src/core/sampling-params';
import type { CausalLM } from '../../src/model/causal-lm';
import type { Linear } from '../../src/lora/linear';
import { LoraLinear } from '../../src/lora/lora-linear';
import { LmDecoder } from '../../src/model/lm-decoder';
import {
  ATTENTION_PROJECTIONS,
  MLP_PROJECTIONS,
  type ProjectionName,
  type ProjectionSpec,
} from '../../src/model/weight-names';
import { decode } from '../../src/sampling/decode-loop';
import type { DecodeModel, DecodeSession } from '../../src/sampling/decode-model';

beforeAll(useCpuBackend);

const tokens = [
  [3, 17, 5, 9, 22, 1, 14],
  [8, 2, 30, 11, 4, 19, 6],
];
const targets = [
  [17, -100, 9, 22, 1, -100, 6],
  [2, 30, 11, -100, 19, 6, 25],
];
const lossWeights = [
  [0.5, -1.2, 0.9, 1.0, 0.7, -0.4, 0.3],
  [1.1, 0.2, -0.6, 0.8, -0.9, 0.4, 1.3],
];

/** Both models over one fixture with LoRA on every projection and lm_head. */
function models(name: 'llamaGqa' | 'gpt2'): {
  f: EngineFixture;
  real: CausalLM;
  naive: NaiveCausalLM;
} {
  const family = name === 'gpt2' ? 'gpt2' : 'llama';
  const loraTargets: ProjectionName[] = [
    ...ATTENTION_PROJECTIONS[family],
    ...MLP_PROJECTIONS[family],
    'lm_head',
  ];
  // chunkRows 3 splits the 14 rows into 5 chunks, so the real path's chunking is exercised too.
  const f = engineFixture(name, { targets: loraTargets, rank: 3 }, { chunkRows: 3 });
  return { f, real: f.model, naive: new NaiveCausalLM(f.config, f.tfWeights, f.adapter) };
}

/** Σ w·lp and its gradients w.r.t. the adapter's variables, as arrays. */
async function lossAndGrads(model: CausalLM, vars: tf.Variable[]) {
  const { value, grads } = tf.variableGrads(() => {
    const lp = model.targetLogprobs(
      tf.tensor2d(tokens, [2, 7], 'int32'),
      tf.tensor2d(targets, [2, 7], 'int32'),
    ); // [2, 7]
    return tf.sum(tf.mul(lp, tf.tensor2d(lossWeights))) as tf.Scalar;
  }, vars);
  const out = {
    loss: (await value.data())[0] as number,
    grads: await Promise.all(vars.map((v) => grads[v.name]!.data())),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

/** A DecodeModel that keeps a copy of every logits array its inner model returns. */
class Recorder implements DecodeModel {
  readonly logits: Float32Array[] = [];

  constructor(private readonly inner: DecodeModel) {}

  get vocabSize(): number {
    return this.inner.vocabSize;
  }

  get maxPositions(): number {
    return this.inner.maxPositions;
  }

  async prefill(prompt: readonly number[], batch: number) {
    const { session, lastLogits } = await this.inner.prefill(prompt, batch);
    this.logits.push(lastLogits.slice());
    const recorded: DecodeSession = {
      batch: session.batch,
      step: async (stepTokens) => {
        const out = await session.step(stepTokens);
        this.logits.push(out.slice());
        return out;
      },
      dispose: () => session.dispose(),
    };
    return { session: recorded, lastLogits };
  }
}

describe.each(['llamaGqa', 'gpt2'] as const)('%s', (name) => {
  it('the naive model builds materialised LoRA projections', () => {
    const { f, real, naive } = models(name);
    // `linear` is protected; called here only to see which class each model builds. Without the
    // override taking effect the equality tests below would compare the real model with itself.
    const build = (m: CausalLM, spec: ProjectionSpec) =>
      (m as unknown as { linear(s: ProjectionSpec): Linear }).linear(spec);
    const specs = [...f.adapter!.modules.values()].map((m) => m.spec);
    const layerSpecs = specs.filter((s) => s.path !== 'lm_head');
    expect(layerSpecs.length).toBe(specs.length - 1);
    for (const spec of layerSpecs) {
      expect(build(naive, spec)).toBeInstanceOf(MaterialisedLoraLinear);
      expect(build(real, spec)).toBeInstanceOf(LoraLinear);
    }
    f.dispose();
  });

  it('target log-probs equal the chunked ones, −100 targets included', async () => {
    const { f, real, naive } = models(name);
    await expectNoLeaks(async () => {
      const run = async (m: CausalLM) => {
        const lp = tf.tidy(() =>
          m.targetLogprobs(
            tf.tensor2d(tokens, [2, 7], 'int32'),
            tf.tensor2d(targets, [2, 7], 'int32'),
          ),
        );
        const data = await lp.data();
        lp.dispose();
        return data;
      };
      const [got, want] = [await run(naive), await run(real)];
      const diff = maxAbsDiff(got, want);
      console.log(`${name}: naive vs chunked log-probs, max |diff| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-5);
      targets.flat().forEach((t, i) => {
        if (t < 0)
          expect(Math.abs(got[i]!)).toBe(0); // ±0: lp·0, as in CausalLM
        else expect(got[i]).toBeLessThan(0);
      });
    });
    f.dispose();
  });

  it('gradients w.r.t. the adapter match', async () => {
    const { f, real, naive } = models(name);
    const vars = f.adapter!.variables;
    await expectNoLeaks(async () => {
      const got = await lossAndGrads(naive, vars);
      const want = await lossAndGrads(real, vars);
      expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-4);
      const worst = Math.max(...want.grads.map((w, i) => relativeError(got.grads[i]!, w)));
      console.log(
        `${name}: naive vs chunked LoRA grads, worst rel. error ${worst.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-4);
    });
    f.dispose();
  });

  it.each([1, 3])(
    'greedy decode without a KV cache matches LmDecoder (num_samples %i)',
    async (n) => {
      const { f, real } = models(name);
      const params = normaliseSamplingParams(
        { temperature: 0, max_tokens: 8 },
        { vocabSize: f.config.vocabSize, eosTokenIds: [] },
      );
      const prompt = [5, 12, 3, 40, 7];
      await expectNoLeaks(async () => {
        const cached = new Recorder(new LmDecoder(real));
        const uncached = new Recorder(new NoCacheDecoder(real));
        const want = await decode(cached, prompt, n, params, () => '');
        const got = await decode(uncached, prompt, n, params, () => '');
        expect(got.map((s) => s.tokens)).toEqual(want.map((s) => s.tokens));
        expect(got[0]!.tokens).toHaveLength(8);
        // One prefill and 7 steps each; the 8th token is never fed back.
        expect(uncached.logits).toHaveLength(cached.logits.length);
        const diffs = uncached.logits.map((l, i) => maxAbsDiff(l, cached.logits[i]!));
        console.log(
          `${name}, ${n} samples: last logits max |diff| ${diffs.at(-1)!.toExponential(2)}`,
        );
        expect(diffs.at(-1)).toBeLessThan(1e-4);
        expect(Math.max(...diffs)).toBeLessThan(1e-4);
      });
      f.dispose();
    },
  );
});
