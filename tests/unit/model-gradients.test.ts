// Gradients of a weighted sum of target log-probs w.r.t. LoRA factors (and, for full-parameter
// training, the base weights) against central finite differences of the float64 reference.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { referenceTargetLogprobs, type LoraFactors } from '../reference/transformer-f64';
import { gradFD } from '../reference/finite-diff';
import { TINY_MODEL_NAMES, tinyModel } from '../helpers/tiny-models';
import { useCpuBackend, expectNoLeaks } from '../helpers/tf-node';
import { engineFixture, referenceLora } from '../helpers/model-fixtures';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../src/model/weight-names';
import { CausalLM } from '../../src/model/causal-lm';

beforeAll(useCpuBackend);

const tokens = [3, 17, 5, 9, 22, 1];
const targets = [17, 5, -100, 22, 1, 7];
const lossWeights = [0.5, -1.2, 0.9, 1.0, 0.7, -0.4];

/** L = Σ_t w_t · lp_t on the engine: value and gradients of the given variables. */
function engineLoss(model: CausalLM, vars: tf.Variable[]) {
  return tf.variableGrads(() => {
    const lp = model.targetLogprobs(
      tf.tensor2d([tokens], [1, tokens.length], 'int32'),
      tf.tensor2d([targets], [1, tokens.length], 'int32'),
    );
    return tf.sum(tf.mul(lp, tf.tensor2d([lossWeights]))) as tf.Scalar;
  }, vars);
}

function sampleIndices(n: number, count: number): number[] {
  const step = Math.max(1, Math.floor(n / count));
  return Array.from({ length: Math.min(count, n) }, (_, i) => (i * step + 1) % n);
}

describe.each(TINY_MODEL_NAMES)('%s', (name) => {
  it('LoRA gradients match finite differences of the float64 reference', async () => {
    const { config } = tinyModel(name);
    const targetsList = [
      ...ATTENTION_PROJECTIONS[config.family],
      ...MLP_PROJECTIONS[config.family],
      'lm_head' as const,
    ];
    const f = engineFixture(name, { targets: targetsList, rank: 2 }, { chunkRows: 4 });
    const adapter = f.adapter!;
    let worst = 0;
    await expectNoLeaks(async () => {
      const { value, grads } = engineLoss(f.model, adapter.variables);
      const lora = referenceLora(adapter);
      const refLoss = (l: Map<string, LoraFactors>) =>
        referenceTargetLogprobs(f.config, f.weights, tokens, targets, l).reduce(
          (s, lp, t) => s + (lossWeights[t] as number) * lp,
          0,
        );
      expect(Math.abs((await value.data())[0]! - refLoss(lora))).toBeLessThan(1e-4);
      for (const [path, m] of adapter.modules) {
        for (const which of ['A', 'B'] as const) {
          const variable = which === 'A' ? m.a : m.b;
          const got = await grads[variable.name]!.data();
          const indices = sampleIndices(variable.size, 4);
          const base = lora.get(path)!;
          const fd = gradFD(
            (x) => refLoss(new Map(lora).set(path, { ...base, [which]: x })),
            which === 'A' ? base.A : base.B,
            1e-5,
            indices,
          );
          indices.forEach((idx, j) => {
            const err =
              Math.abs((got[idx] as number) - (fd[j] as number)) /
              (Math.abs(fd[j] as number) + 1e-3);
            worst = Math.max(worst, err);
          });
        }
      }
      tf.dispose([value, ...Object.values(grads)]);
    });
    console.log(
      `${name}: LoRA grad vs finite differences, worst rel. error ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(2e-3);
    f.dispose();
  });

  it('full-parameter gradients (pretraining) match finite differences', async () => {
    const { config, weights } = tinyModel(name);
    const vars = new Map<string, tf.Variable>();
    for (const [key, t] of weights) vars.set(key, tf.variable(tf.tensor(t.data, t.shape), true));
    const model = new CausalLM(config, vars, null, { trainBase: true, chunkRows: 4 });
    const probe = [...vars.keys()].filter((k) =>
      /embed_tokens|wte|wpe|lm_head|layers\.1\.self_attn\.q_proj\.weight|h\.1\.attn\.c_attn\.weight|norm\.weight|ln_f\.bias|k_norm/.test(
        k,
      ),
    );
    let worst = 0;
    await expectNoLeaks(async () => {
      const { value, grads } = engineLoss(model, [...vars.values()]);
      for (const key of probe) {
        const v = vars.get(key)!;
        const got = await grads[v.name]!.data();
        const indices = sampleIndices(v.size, 3);
        const base = weights.get(key)!;
        const fd = gradFD(
          (x) => {
            const w = new Map(weights).set(key, { data: Float32Array.from(x), shape: base.shape });
            return referenceTargetLogprobs(config, w, tokens, targets).reduce(
              (s, lp, t) => s + (lossWeights[t] as number) * lp,
              0,
            );
          },
          Float64Array.from(base.data),
          1e-3, // the weights are float32 in the reference too; a larger step keeps rounding small
          indices,
        );
        indices.forEach((idx, j) => {
          worst = Math.max(
            worst,
            Math.abs((got[idx] as number) - (fd[j] as number)) / (Math.abs(fd[j] as number) + 1e-2),
          );
        });
      }
      tf.dispose([value, ...Object.values(grads)]);
    });
    console.log(
      `${name}: full-parameter grad vs finite differences over ${probe.length} tensors, worst rel. error ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1e-2);
    for (const v of vars.values()) v.dispose();
  });
});
