// Order is the contract: ops submitted back to back run in submission order, and pipelined
// training equals awaited training bit for bit. Gradients accumulate until optim_step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamParams, ServiceClient, type TrainingClient } from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();
const adam = new AdamParams({ learning_rate: 5e-3 });

async function logprobsOf(tc: TrainingClient): Promise<number[]> {
  const out = await tc.forward([makeDatum(99)], 'cross_entropy');
  return out.loss_fn_outputs[0]!.logprobs.tolist();
}

describe.each(PLACEMENTS)('ordering over %s', (placement) => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `order-${placement}`,
    });
  });
  afterAll(() => service.close());

  it('20 forward_backward + optim_step submitted before any await run in order, equal to awaited training', async () => {
    const piped = await service.create_lora_training_client(FIXTURE_MODEL, 4, 5);
    const futures = Array.from(
      { length: 20 },
      (_, i) =>
        [piped.forward_backward(BATCHES[i % 4]!, 'cross_entropy'), piped.optim_step(adam)] as const,
    );
    const pipedLosses: number[] = [];
    for (const [i, [fb, opt]] of futures.entries()) {
      pipedLosses.push((await fb).loss);
      expect((await opt).metrics.step).toBe(i + 1);
    }
    expect(piped.policy_version).toBe(20);

    const awaited = await service.create_lora_training_client(FIXTURE_MODEL, 4, 5);
    const awaitedLosses: number[] = [];
    for (let i = 0; i < 20; i++) {
      awaitedLosses.push((await awaited.forward_backward(BATCHES[i % 4]!, 'cross_entropy')).loss);
      await awaited.optim_step(adam);
    }
    expect(pipedLosses).toEqual(awaitedLosses);
    expect(await logprobsOf(piped)).toEqual(await logprobsOf(awaited));
    expect(pipedLosses[19]).toBeLessThan(pipedLosses[3]!);
    await piped.close();
    await awaited.close();
  });

  it('forward leaves the gradient buffer alone; gradients accumulate across calls', async () => {
    const a = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
    const b = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
    const c = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
    const [d1, d2] = BATCHES[0]!;
    // a: one call on both datums. b: the same plus an interleaved forward. c: two calls, one datum each.
    await a.forward_backward([d1!, d2!]);
    await a.optim_step(adam);
    await b.forward_backward([d1!, d2!]);
    await b.forward([makeDatum(50)]);
    await b.optim_step(adam);
    await c.forward_backward([d1!]);
    await c.forward_backward([d2!]);
    const step = await c.optim_step(adam);
    expect(step.metrics.step).toBe(1);
    const [la, lb, lc] = await Promise.all([logprobsOf(a), logprobsOf(b), logprobsOf(c)]);
    expect(lb).toEqual(la);
    // Summed losses: the accumulated gradient equals the one-call gradient up to float rounding.
    lc.forEach((v, i) => expect(Math.abs(v - la[i]!)).toBeLessThan(1e-5));
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});
