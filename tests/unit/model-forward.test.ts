// The TF.js model against the independent float64 reference, family by family, with and without
// LoRA, batched with right padding, through the chunked log-prob path and through the KV cache.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { referenceLogits, referenceTargetLogprobs } from '../reference/transformer-f64';
import { TINY_MODEL_NAMES } from '../helpers/tiny-models';
import { useCpuBackend, expectNoLeaks } from '../helpers/tf-node';
import { engineFixture, referenceLora, relativeError } from '../helpers/model-fixtures';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../src/model/weight-names';
import { KvCache } from '../../src/model/kv-cache';

beforeAll(useCpuBackend);

const seqA = [3, 17, 5, 9, 22, 1, 14];
const seqB = [8, 2, 30, 11];

describe.each(TINY_MODEL_NAMES)('%s', (name) => {
  it('logits match the float64 reference (batched, right-padded, with LoRA everywhere)', async () => {
    const f = engineFixture(name);
    const targets = [
      ...ATTENTION_PROJECTIONS[f.config.family],
      ...MLP_PROJECTIONS[f.config.family],
      'lm_head' as const,
    ];
    f.dispose();
    const g = engineFixture(name, { targets, rank: 3 });
    await expectNoLeaks(async () => {
      const T = seqA.length;
      const padded = [...seqA, ...seqB, ...new Array<number>(T - seqB.length).fill(0)];
      const logits = tf.tidy(() => {
        const h = g.model.hidden(tf.tensor2d(padded, [2, T], 'int32')); // [2, T, C]
        return g.model.logits(tf.reshape(h, [2 * T, -1]) as tf.Tensor2D); // [2T, V]
      });
      const got = await logits.data();
      logits.dispose();
      const V = g.config.vocabSize;
      const lora = referenceLora(g.adapter);
      const refA = referenceLogits(g.config, g.weights, seqA, lora);
      const refB = referenceLogits(g.config, g.weights, seqB, lora);
      const errA = relativeError(got.subarray(0, T * V), refA);
      const errB = relativeError(got.subarray(T * V, (T + seqB.length) * V), refB);
      console.log(
        `${name}: logits rel. error vs float64 ${errA.toExponential(2)} / ${errB.toExponential(2)}`,
      );
      expect(errA).toBeLessThan(1e-4);
      expect(errB).toBeLessThan(1e-4);
    });
    g.dispose();
  });

  it('target log-probs (chunked, with -100 ignored) match the reference', async () => {
    const f = engineFixture(
      name,
      { targets: ['lm_head', ...ATTENTION_PROJECTIONS[tinyFamily(name)]], rank: 2 },
      { chunkRows: 3 },
    );
    const targets = [17, -100, 9, 22, 1, -100, 6];
    await expectNoLeaks(async () => {
      const lp = tf.tidy(() =>
        f.model.targetLogprobs(
          tf.tensor2d([seqA], [1, seqA.length], 'int32'),
          tf.tensor2d([targets], [1, seqA.length], 'int32'),
        ),
      );
      const got = await lp.data();
      lp.dispose();
      const ref = referenceTargetLogprobs(
        f.config,
        f.weights,
        seqA,
        targets,
        referenceLora(f.adapter),
      );
      expect(Math.abs(got[1] as number)).toBe(0);
      expect(Math.abs(got[5] as number)).toBe(0);
      expect(relativeError(got, ref)).toBeLessThan(1e-4);
    });
    f.dispose();
  });

  it('KV-cached decoding gives the logits of recomputing the whole sequence', async () => {
    const f = engineFixture(name, {
      targets: [...ATTENTION_PROJECTIONS[tinyFamily(name)], 'lm_head'],
      rank: 2,
    });
    await expectNoLeaks(async () => {
      const cache = new KvCache(f.config.numLayers);
      const stepped: number[] = [];
      const prefix = 3;
      const first = tf.tidy(() => {
        const h = f.model.hidden(tf.tensor2d([seqA.slice(0, prefix)], [1, prefix], 'int32'), cache);
        return f.model.logits(tf.reshape(h, [prefix, -1]) as tf.Tensor2D);
      });
      stepped.push(...(await first.data()));
      first.dispose();
      for (let t = prefix; t < seqA.length; t++) {
        const next = tf.tidy(() => {
          const h = f.model.hidden(tf.tensor2d([[seqA[t] as number]], [1, 1], 'int32'), cache);
          return f.model.logits(tf.reshape(h, [1, -1]) as tf.Tensor2D);
        });
        stepped.push(...(await next.data()));
        next.dispose();
      }
      expect(cache.length).toBe(seqA.length);
      cache.dispose();
      const full = tf.tidy(() => {
        const h = f.model.hidden(tf.tensor2d([seqA], [1, seqA.length], 'int32'));
        return f.model.logits(tf.reshape(h, [seqA.length, -1]) as tf.Tensor2D);
      });
      const fullData = await full.data();
      full.dispose();
      const err = relativeError(stepped, fullData);
      console.log(`${name}: cached vs full recompute rel. error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
    f.dispose();
  });
});

function tinyFamily(name: (typeof TINY_MODEL_NAMES)[number]) {
  const f = engineFixture(name);
  const family = f.config.family;
  f.dispose();
  return family;
}
