// forward_backward_custom is one op in the run's order (shared/LOOPS_API.md, "Futures": every call
// is submitted at once, in order): an optim_step called right after it, without an await in
// between (the documented pipelining pattern), must step on the custom loss's gradient, exactly
// as if the custom op had been awaited first.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamParams, ServiceClient, type TrainingClient } from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const adam = new AdamParams({ learning_rate: 5e-3 });

/** −Σ lp² over every position: a loss no built-in computes, with a non-constant ∂loss/∂lp. */
const squared = (_data: unknown[], lps: unknown[]) => ({
  loss: tf.addN((lps as tf.Tensor[]).map((t) => tf.sum(tf.square(t)))),
  metrics: {},
});

async function probe(tc: TrainingClient): Promise<number[]> {
  return (await tc.forward([makeDatum(61)])).loss_fn_outputs[0]!.logprobs.tolist();
}

describe.each(PLACEMENTS)('forward_backward_custom ordering over %s', (placement) => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `custom-order-${placement}`,
    });
  });
  afterAll(() => service.close());

  it('custom loss + optim_step without await equals the awaited sequence bit for bit', async () => {
    const piped = await service.create_lora_training_client(FIXTURE_MODEL, 4, 31);
    const awaited = await service.create_lora_training_client(FIXTURE_MODEL, 4, 31);
    const pipedSteps = [];
    for (let i = 0; i < 3; i++) {
      const fb = piped.forward_backward_custom(BATCHES[i]!, squared);
      const opt = piped.optim_step(adam); // no await in between
      pipedSteps.push({ loss: (await fb).loss, metrics: (await opt).metrics });
    }
    const awaitedSteps = [];
    for (let i = 0; i < 3; i++) {
      const loss = (await awaited.forward_backward_custom(BATCHES[i]!, squared)).loss;
      awaitedSteps.push({ loss, metrics: (await awaited.optim_step(adam)).metrics });
    }
    // Step 1 must see the custom loss's gradient (an empty buffer gives grad_norm 0).
    expect(awaitedSteps[0]!.metrics.grad_norm).toBeGreaterThan(0);
    expect(pipedSteps).toEqual(awaitedSteps);
    expect(await probe(piped)).toEqual(await probe(awaited));
    await Promise.all([piped.close(), awaited.close()]);
  });

  it('later ops of every kind wait for the custom op; the _async twin resolves once it is submitted', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 32);
    const ref = await service.create_lora_training_client(FIXTURE_MODEL, 4, 32);
    let lossRan = false;
    const handle = await tc.forward_backward_custom_async(
      BATCHES[0]!,
      (d: unknown[], lp: unknown[]) => {
        lossRan = true;
        return squared(d, lp);
      },
    );
    // Submitted = the backward is sent, so the loss has run on the page already.
    expect(lossRan).toBe(true);
    const opt = tc.optim_step(adam);
    const sc = tc.save_weights_and_get_sampling_client();
    const fwd = tc.forward([makeDatum(61)]);
    await ref.forward_backward_custom(BATCHES[0]!, squared);
    const refStep = await ref.optim_step(adam);
    expect((await opt).metrics).toEqual(refStep.metrics);
    expect((await handle.result()).loss).toBeGreaterThan(0);
    expect((await fwd).loss_fn_outputs[0]!.logprobs.tolist()).toEqual(await probe(ref));
    const sampler = await sc;
    expect(sampler.policy_version).toBe(1);
    await Promise.all([sampler.close(), tc.close(), ref.close()]);
  });

  it('a custom loss that throws rejects its own future and the next op still runs', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 33);
    const bad = tc.forward_backward_custom(BATCHES[0]!, () => ({ loss: 'not a tensor' }));
    const next = tc.forward_backward(BATCHES[1]!);
    await expect(bad).rejects.toThrow(/must return \{ loss: <scalar tf.Tensor>/);
    expect((await next).loss).toBeGreaterThan(0);
    await tc.close();
  });
});
