// Property-based bad input: thousands of random malformed Datums, ModelInputs, SamplingParams,
// AdamParams, loss configs and checkpoint names/paths, in-process and over a MessageChannel. Each
// must throw a ValidationError at call time (synchronously; the async create_* methods reject)
// whose message names the field and says what to do, and nothing may reach the engine: the
// page→engine traffic counter does not move, and afterwards the run (which holds an accumulated
// gradient during the bad calls) steps exactly like a twin that never saw them.
// Runs per property: LOOPS_FC_RUNS (default 500; scripts/soak.ts runs the full count).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamParams,
  ServiceClient,
  ValidationError,
  type SamplingClient,
  type TrainingClient,
} from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { BATCHES, makeDatum } from '../helpers/training-data';
import { BAD_BATCH, BAD_PROMPT, type BadCall } from './helpers/malformed-data';
import { BAD_ADAM, BAD_LOSS, BAD_NAME, BAD_PATH, BAD_SAMPLE } from './helpers/malformed-params';
import { REL_PLACEMENTS, placed, registerReliabilityPlacements } from './helpers/placements';

registerReliabilityPlacements();

const RUNS = Number(process.env.LOOPS_FC_RUNS ?? 500);
const SEED = Number(process.env.LOOPS_FC_SEED ?? 20_261_127);
/** Every message must say what to do, not only what is wrong. */
const FIX =
  /\b(must|use|give|pass|remove|add|truncate|wrap|build|shorten|needs?|takes?|for example|expected|pick)\b/i;

/** Figures for the report: cases per property and placement, and a few example messages. */
const figures: Record<string, number> = {};
const examples = new Map<string, string>();

/** Asserts that `call()` throws a ValidationError naming `field`, with a fix. */
function expectRejected(kind: string, call: () => unknown, field: string | RegExp): void {
  let thrown: unknown;
  let returned: unknown;
  try {
    returned = call();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) {
    void Promise.resolve(returned).catch(() => undefined);
    expect.fail(`${kind}: the call was accepted (it returned ${String(returned)})`);
  }
  checkError(kind, thrown, field);
}

function checkError(kind: string, error: unknown, field: string | RegExp): void {
  expect(error, `${kind}: ${String(error)}`).toBeInstanceOf(ValidationError);
  const message = (error as Error).message;
  if (typeof field === 'string') expect(message).toContain(field);
  else expect(message).toMatch(field);
  expect(message).toMatch(FIX);
  if (!examples.has(kind)) examples.set(kind, message);
}

function property<T>(name: string, arb: fc.Arbitrary<T>, check: (value: T) => void): void {
  let cases = 0;
  fc.assert(
    fc.property(arb, (value) => {
      cases++;
      check(value);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  figures[name] = (figures[name] ?? 0) + cases;
}

async function propertyAsync<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  call: (value: T) => Promise<unknown>,
  field: string,
): Promise<void> {
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(arb, async (value) => {
      cases++;
      const error = await call(value).then(
        () => expect.fail(`${name}: the call succeeded`),
        (e: unknown) => e,
      );
      checkError(name, error, field);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  figures[name] = (figures[name] ?? 0) + cases;
}

describe.each(REL_PLACEMENTS)('malformed calls over %s', (placement) => {
  let service: ServiceClient;
  let tc: TrainingClient;
  let twin: TrainingClient;
  let sc: SamplingClient;
  let sentBefore = 0;
  const sent = () => placed.get(placement)!.sent;

  beforeAll(async () => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `bad-${placement}`,
    });
    [tc, twin] = await Promise.all([
      service.create_lora_training_client(FIXTURE_MODEL, 4, 3),
      service.create_lora_training_client(FIXTURE_MODEL, 4, 3),
    ]);
    sc = await service.create_sampling_client(FIXTURE_MODEL);
    // Both runs hold the same accumulated gradient while the bad calls arrive.
    await Promise.all([tc.forward_backward(BATCHES[0]!), twin.forward_backward(BATCHES[0]!)]);
    sentBefore = sent();
  });
  afterAll(() => service.close());

  it('Datums and batches (forward_backward, forward)', () => {
    property('datum', fc.tuple(BAD_BATCH, fc.boolean()), ([bad, backward]: [BadCall, boolean]) => {
      const call = () => (backward ? tc.forward_backward(...bad.args) : tc.forward(...bad.args));
      expectRejected(bad.kind, call, bad.field);
    });
  });

  it('loss names, loss inputs and loss_fn_config', () => {
    property('loss', BAD_LOSS, (bad) =>
      expectRejected(bad.kind, () => tc.forward_backward(...bad.args), bad.field),
    );
  });

  it('prompts (ModelInput) for sample and compute_logprobs', () => {
    property('prompt', fc.tuple(BAD_PROMPT, fc.boolean()), ([prompt, score]) =>
      expectRejected(
        'prompt',
        () => (score ? sc.compute_logprobs(prompt) : sc.sample(prompt, 1)),
        'prompt',
      ),
    );
  });

  it('SamplingParams and the other sample() arguments', () => {
    property('sampling', BAD_SAMPLE, (bad) =>
      expectRejected(bad.kind, () => sc.sample(...bad.args), bad.field),
    );
  });

  it('AdamParams (optim_step)', () => {
    property('adam', BAD_ADAM, (bad) =>
      expectRejected(bad.kind, () => tc.optim_step(...bad.args), bad.field),
    );
  });

  it('checkpoint names and paths (save, load, sampler snapshots)', async () => {
    const savers = [
      'save_state',
      'save_weights_for_sampler',
      'save_weights_and_get_sampling_client',
    ] as const;
    property('name', fc.tuple(BAD_NAME, fc.constantFrom(...savers)), ([name, method]) =>
      expectRejected(method, () => tc[method](name), method),
    );
    const loaders = ['load_state', 'load_state_with_optimizer'] as const;
    property('path', fc.tuple(BAD_PATH, fc.constantFrom(...loaders)), ([path, method]) =>
      expectRejected(method, () => tc[method](path), method),
    );
    await propertyAsync(
      'path-async',
      fc.tuple(BAD_PATH, fc.nat(3)),
      ([path, which]) =>
        [
          () => service.create_training_client_from_state(path),
          () => service.create_training_client_from_state_with_optimizer(path),
          () => service.create_sampling_client({ model_path: path }),
          () => tc.create_sampling_client(path),
        ][which]!(),
      'path',
    );
  });

  it('sent nothing to the engine, and the run steps exactly like its twin', async () => {
    expect(sent() - sentBefore, 'messages or calls sent to the engine by rejected calls').toBe(0);
    expect(tc.policy_version).toBe(twin.policy_version);
    const adam = new AdamParams({ learning_rate: 1e-2 });
    await Promise.all([tc.optim_step(adam), twin.optim_step(adam)]);
    const [a, b] = await Promise.all([tc.forward([makeDatum(7)]), twin.forward([makeDatum(7)])]);
    const lpA = a.loss_fn_outputs[0]!.logprobs.tolist();
    expect(lpA).toEqual(b.loss_fn_outputs[0]!.logprobs.tolist());
    // The step did change the weights, so equality above is a real comparison.
    expect(lpA).not.toEqual(
      (
        await service
          .create_lora_training_client(FIXTURE_MODEL, 4, 3)
          .then((c) => c.forward([makeDatum(7)]))
      ).loss_fn_outputs[0]!.logprobs.tolist(),
    );
    expect(tc.policy_version).toBe(1);
  });
});

afterAll(() => {
  const total = Object.values(figures).reduce((a, b) => a + b, 0);
  console.log(
    `[reliability] bad input: ${total} malformed calls rejected (${RUNS} runs per property and placement): ${JSON.stringify(figures)}`,
  );
  for (const [kind, message] of examples) console.log(`[reliability]   ${kind}: ${message}`);
});
