// Errors: bad calls throw a ValidationError at call time and change nothing; engine failures come
// back as their own classes across the boundary; a timeout leaves the op running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamParams,
  Datum,
  ModelInput,
  ServiceClient,
  TimeoutError,
  UnknownCheckpointError,
  UnsupportedModelError,
  ValidationError,
} from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, registerTestPlacements } from '../helpers/placements';
import { BATCHES, makeDatum } from '../helpers/training-data';

registerTestPlacements();

describe.each(PLACEMENTS)('errors over %s', (placement) => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `errors-${placement}`,
    });
  });
  afterAll(() => service.close());

  it('validation errors are thrown at call time, name the field, and leave the run unchanged', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 3);
    const clean = await service.create_lora_training_client(FIXTURE_MODEL, 4, 3);
    const good = makeDatum(1);
    const tokens = good.model_input.to_ints();
    const bad: [string, () => unknown, RegExp][] = [
      [
        'token outside the vocabulary',
        () =>
          tc.forward_backward([
            new Datum({
              model_input: ModelInput.from_ints([...tokens.slice(0, -1), 5000]),
              loss_fn_inputs: good.loss_fn_inputs,
            }),
          ]),
        /Datum 0: model_input: token 5000 at position 11/,
      ],
      [
        'length mismatch',
        () =>
          tc.forward_backward([
            new Datum({
              model_input: good.model_input,
              loss_fn_inputs: { target_tokens: [1, 2, 3] },
            }),
          ]),
        /Datum 0: target_tokens has 3 entries but model_input has 12/,
      ],
      [
        'target outside the vocabulary',
        () =>
          tc.forward_backward([
            new Datum({
              model_input: ModelInput.from_ints([1, 2]),
              loss_fn_inputs: { target_tokens: [7, 9999] },
            }),
          ]),
        /target_tokens\[1\] = 9999/,
      ],
      ['unknown loss', () => tc.forward_backward([good], 'mse'), /Unknown loss_fn 'mse'/],
      [
        'missing loss input',
        () => tc.forward_backward([good], 'importance_sampling'),
        /missing 'logprobs'/,
      ],
      [
        'unknown config key',
        () => tc.forward_backward([good], 'cross_entropy', { clip: 0.2 }),
        /unknown key 'clip'/,
      ],
      ['empty batch', () => tc.forward_backward([]), /non-empty array/],
      [
        'too long',
        () =>
          tc.forward_backward([
            new Datum({
              model_input: ModelInput.from_ints(new Array(200).fill(5)),
              loss_fn_inputs: { target_tokens: new Array(200).fill(5) },
            }),
          ]),
        /max_seq_len 128/,
      ],
      [
        'bad learning rate',
        () => tc.optim_step(new AdamParams({ learning_rate: -1 })),
        /learning_rate is -1/,
      ],
      ['bad checkpoint name', () => tc.save_state('no spaces allowed'), /name of 1–128 letters/],
      [
        'unknown keyword',
        () => tc.forward_backward({ data: [good], loss: 'cross_entropy' }),
        /unknown keyword 'loss'/,
      ],
    ];
    for (const [what, call, message] of bad) {
      let thrown: unknown = null;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, what).toBeInstanceOf(ValidationError);
      expect((thrown as Error).message, what).toMatch(message);
    }
    // Nothing was queued: the run trains exactly like one that never saw the bad calls.
    expect(tc.policy_version).toBe(0);
    for (const run of [tc, clean]) {
      await run.forward_backward(BATCHES[1]!);
      await run.optim_step(new AdamParams({ learning_rate: 1e-2 }));
    }
    const [a, b] = await Promise.all([tc.forward([makeDatum(7)]), clean.forward([makeDatum(7)])]);
    expect(a.loss_fn_outputs[0]!.logprobs.tolist()).toEqual(
      b.loss_fn_outputs[0]!.logprobs.tolist(),
    );
    await Promise.all([tc.close(), clean.close()]);
  });

  it('sampling arguments are checked at call time', async () => {
    const sc = await service.create_sampling_client(FIXTURE_MODEL);
    expect(() => sc.sample(ModelInput.from_ints([1, 2]), 1, { temperature: -1 })).toThrow(
      /temperature/,
    );
    expect(() => sc.sample(ModelInput.from_ints([1, 2]), 0)).toThrow(/num_samples/);
    expect(() => sc.sample(ModelInput.from_ints([]), 1)).toThrow(/empty/);
    expect(() => sc.sample(ModelInput.from_ints([1, 99999]), 1)).toThrow(/outside the vocabulary/);
    await sc.close();
  });

  it('engine failures arrive as typed errors (instanceof works) and do not block the next op', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 3);
    const failed = tc.load_state('idb://loops:nosuchrun/weights/missing');
    const next = tc.forward_backward(BATCHES[0]!);
    await expect(failed).rejects.toBeInstanceOf(UnknownCheckpointError);
    expect((await next).loss).toBeGreaterThan(0);
    await expect(
      service.create_lora_training_client('no-such-org/no-such-model-here', 4),
    ).rejects.toBeInstanceOf(Error);
    await tc.close();
  });

  it('an unsupported architecture is an UnsupportedModelError across the boundary', async () => {
    const error = await service.create_sampling_client('not a repo id!').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(UnsupportedModelError.prototype).toBeInstanceOf(Error);
  });

  it('result(timeout) rejects with TimeoutError and the op still finishes', async () => {
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 3);
    // Ops start in their own tasks, so a zero timeout on the last of five queued ops fires first.
    const queued = [0, 1, 2, 3].map(() => tc.forward_backward(BATCHES[2]!));
    const future = tc.forward_backward(BATCHES[2]!);
    await expect(future.result(0)).rejects.toBeInstanceOf(TimeoutError);
    await Promise.all(queued);
    expect((await future.result()).loss).toBeGreaterThan(0);
    expect(future.done()).toBe(true);
    await tc.close();
  });
});
