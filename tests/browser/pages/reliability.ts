// Harness for tests/browser/reliability*.spec.ts: fault, resume, soak and network scenarios through
// the public client, with the engine in a real Worker. Two placements: 'rel-product' is the
// product's own worker (workers/engine.worker.ts); 'rel-faulty' is the same engine with fault hooks
// (reliability-engine.worker.ts). Both go through the product's workerLink, so its death handling
// is what is tested. The model is the fixture in hub layout (tests/browser/global-setup.ts).
import {
  AdamParams,
  LoopsError,
  ModelInput,
  RemoteOpError,
  SamplingParams,
  ServiceClient,
  registerPlacement,
  workerLink,
  type BackendRequest,
  type EngineLink,
  type TrainingClient,
} from '../../../src/index';
import type { EngineMemory } from '../../../src/protocol/engine-api';
import { BATCHES, makeDatum } from '../../helpers/training-data';

/** Whether this page may evaluate strings as code, checked at load: page.evaluate() itself runs
 * with CSP's eval checks lifted (DevTools), so the check must not run inside it. */
function canEval(): boolean {
  try {
    return new Function('return 1')() === 1;
  } catch {
    return false;
  }
}
const evalAtLoad = canEval();
const violations: string[] = [];
document.addEventListener('securitypolicyviolation', (e) =>
  violations.push(`${e.effectiveDirective} ${e.blockedURI}`),
);

const HUB = `${location.origin}/test-results/hub`;
const MODEL = 'fixture/tiny-llama';
const adam = new AdamParams({ learning_rate: 5e-3, weight_decay: 0.01, grad_clip_norm: 5 });

let lastLink: EngineLink | null = null;
registerPlacement('rel-product', () => (lastLink = workerLink()));
registerPlacement(
  'rel-faulty',
  () =>
    (lastLink = workerLink(
      new Worker(new URL('./reliability-engine.worker.ts', import.meta.url), {
        type: 'module',
        name: 'loops-engine-faulty',
      }),
    )),
);

type Hooks = {
  destroyDevice(): Promise<boolean>;
  crash(): Promise<void>;
  exit(): Promise<void>;
  evalAllowed(): Promise<boolean>;
  memory(): Promise<EngineMemory>;
};

function hooks(): Hooks {
  return lastLink!.engine as unknown as Hooks;
}

function open(placement: string, backend: BackendRequest, namespace: string) {
  return new ServiceClient({
    engine: placement,
    backend,
    hub_url: HUB,
    storage_namespace: namespace,
  });
}

/** `steps` steps on BATCHES[(i + offset) % 4], awaited. */
async function train(tc: TrainingClient, steps: number, offset = 0): Promise<void> {
  for (let i = 0; i < steps; i++) {
    void tc.forward_backward(BATCHES[(i + offset) % 4]!);
    await tc.optim_step(adam);
  }
}

async function probe(tc: TrainingClient): Promise<number[]> {
  return (await tc.forward([makeDatum(77)])).loss_fn_outputs[0]!.logprobs.tolist();
}

interface Outcome {
  state: 'resolved' | 'rejected' | 'hung';
  ms: number;
  typed?: boolean;
  errorClass?: string;
  causeClass?: string;
  message?: string;
}

/** How each future ends, timed from `t0`; one still pending after `limitMs` counts as hung. */
function settle(futures: PromiseLike<unknown>[], t0: number, limitMs: number): Promise<Outcome[]> {
  return Promise.all(
    futures.map(
      (f) =>
        new Promise<Outcome>((resolve) => {
          const timer = setTimeout(() => resolve({ state: 'hung', ms: limitMs }), limitMs);
          const done = (o: Omit<Outcome, 'ms'>) => {
            clearTimeout(timer);
            resolve({ ...o, ms: performance.now() - t0 });
          };
          f.then(
            () => done({ state: 'resolved' }),
            (e: unknown) =>
              done({
                state: 'rejected',
                typed: e instanceof LoopsError,
                errorClass: (e as LoopsError).error_class,
                causeClass: e instanceof RemoteOpError ? e.cause_class : undefined,
                message: (e as Error).message,
              }),
          );
        }),
    ),
  );
}

/** A fresh client on the product worker trains one step: the page can start over. */
async function freshStart(backend: BackendRequest, namespace: string): Promise<number> {
  const service = open('rel-product', backend, namespace);
  try {
    const tc = await service.create_lora_training_client(MODEL, 4, 3);
    const out = await tc.forward_backward(BATCHES[0]!);
    await tc.optim_step(adam);
    return out.loss;
  } finally {
    await service.close();
  }
}

/**
 * The engine dies with ops pending: 'close' ends the product worker through the link (terminate),
 * 'crash' throws an uncaught error in the worker, 'exit' makes the worker close itself.
 */
async function workerDeath(kind: 'close' | 'crash' | 'exit', backend: BackendRequest) {
  const service = open(kind === 'close' ? 'rel-product' : 'rel-faulty', backend, 'rel-death');
  const link = lastLink!;
  const tc = await service.create_lora_training_client(MODEL, 4, 3);
  const sc = await tc.save_weights_and_get_sampling_client();
  const futures: PromiseLike<unknown>[] = [];
  for (let i = 0; i < 4; i++) {
    futures.push(tc.forward_backward(BATCHES[i]!), tc.optim_step(adam));
  }
  futures.push(tc.save_state('never'), sc.sample(ModelInput.from_ints([5, 6, 7]), 2));
  await futures[0]; // the first op has run: the rest are queued or running
  const t0 = performance.now();
  if (kind === 'close') link.close();
  else await hooks()[kind]();
  const outcomes = await settle(futures.slice(1), t0, 10_000);
  const later = await settle([tc.forward([makeDatum(1)])], performance.now(), 10_000);
  await service.close(); // must not throw or hang on a dead engine
  const freshLoss = await freshStart(backend, 'rel-death');
  return { outcomes, later: later[0]!, freshLoss };
}

/** The GPU device is destroyed mid-training; a new client resumes from the last save_state. */
async function deviceLost() {
  const service = open('rel-faulty', 'webgpu', 'rel-device');
  const tc = await service.create_lora_training_client(MODEL, 4, 5);
  await train(tc, 2);
  const { path } = await tc.save_state('before-loss');
  const before = await probe(tc);
  const version = tc.policy_version;
  const pending = [tc.forward_backward(BATCHES[2]!), tc.optim_step(adam)];
  const t0 = performance.now();
  const destroyed = await hooks().destroyDevice();
  const outcomes = await settle(pending, t0, 10_000);
  const later = await settle([tc.forward([makeDatum(1)])], performance.now(), 10_000);
  await service.close();
  const fresh = open('rel-product', 'webgpu', 'rel-device');
  try {
    const backend = (await fresh.backend()).backend;
    const resumed = await fresh.create_training_client_from_state_with_optimizer(path);
    const after = await probe(resumed);
    return {
      destroyed,
      outcomes,
      later: later[0]!,
      backend,
      before,
      after,
      version,
      resumedVersion: resumed.policy_version,
    };
  } finally {
    await fresh.close();
  }
}

/** Reload, part 1: train, save, then leave more training (and a save) in flight. */
async function reloadPart1(backend: BackendRequest, namespace: string) {
  const service = open('rel-product', backend, namespace);
  const tc = await service.create_lora_training_client(MODEL, 4, 11);
  await train(tc, 3);
  const { path } = await tc.save_state('mid');
  for (let i = 0; i < 3; i++) {
    void tc.forward_backward(BATCHES[(i + 3) % 4]!).then(undefined, () => undefined);
    void tc.optim_step(adam).then(undefined, () => undefined);
  }
  void tc.save_state('late').then(undefined, () => undefined);
  return { path, runId: tc.run_id };
}

/** Reload, part 2: resume from the save and compare with a run that never stopped. */
async function reloadPart2(
  backend: BackendRequest,
  namespace: string,
  path: string,
  runId: string,
) {
  const service = open('rel-product', backend, namespace);
  try {
    const listed = (await service.list_checkpoints(runId)).map(
      (c) => `${c.checkpoint_id}@${c.step}`,
    );
    const resumed = await service.create_training_client_from_state_with_optimizer(path);
    const resumedVersion = resumed.policy_version;
    await train(resumed, 3, 3);
    const straight = await service.create_lora_training_client(MODEL, 4, 11);
    await train(straight, 6);
    return {
      listed,
      resumedVersion,
      resumed: await probe(resumed),
      straight: await probe(straight),
    };
  } finally {
    await service.close();
  }
}

/** `steps` mixed steps (train, sample, save, load); the engine's TF.js memory around them. */
async function soak(backend: BackendRequest, steps: number) {
  const service = open('rel-product', backend, 'rel-soak');
  const memory = () => hooks().memory();
  try {
    await service.backend();
    const start = await memory();
    const tc = await service.create_lora_training_client(MODEL, 4, 9);
    const ms: Record<string, number> = { train: 0, sample: 0, save: 0, load: 0 };
    const timed = async <T>(kind: string, f: () => PromiseLike<T>): Promise<T> => {
      const t = performance.now();
      const out = await f();
      ms[kind]! += performance.now() - t;
      return out;
    };
    const step = async (i: number) => {
      await timed('train', async () => {
        void tc.forward_backward(BATCHES[i % 4]!);
        await tc.optim_step(adam);
      });
      await timed('sample', async () => {
        const sc = await tc.save_weights_and_get_sampling_client();
        await sc.sample(
          ModelInput.from_ints([5, 6, 7]),
          2,
          new SamplingParams({ max_tokens: 3, seed: i }),
        );
        await sc.close();
      });
      const { path } = await timed('save', () => tc.save_state('soak'));
      await timed('load', () => tc.load_state_with_optimizer(path));
    };
    await step(0); // warm-up: Adam moments and kernels exist from here on
    const warm = await memory();
    const t0 = performance.now();
    for (let i = 1; i <= steps; i++) await step(i);
    const msPerStep = (performance.now() - t0) / steps;
    const after = await memory();
    await tc.close();
    const closed = await memory();
    return { start, warm, after, closed, msPerStep, ms, policyVersion: tc.policy_version };
  } finally {
    await service.close();
  }
}

/** One training step and one sample on `backend`, for the network and CSP checks. */
async function trainAndSample(backend: BackendRequest) {
  const service = open('rel-product', backend, 'rel-net');
  try {
    const report = await service.backend();
    const tc = await service.create_lora_training_client(MODEL, 4, 3);
    const out = await tc.forward_backward(BATCHES[0]!);
    await tc.optim_step(adam);
    const sc = await tc.save_weights_and_get_sampling_client();
    const sample = await sc.sample(
      ModelInput.from_ints([5, 6]),
      1,
      new SamplingParams({ max_tokens: 2 }),
    );
    return {
      backend: report.backend,
      reason: report.reason,
      loss: out.loss,
      sampled: sample.sequences[0]!.tokens.length,
    };
  } finally {
    await service.close();
  }
}

/** Whether the page (at load) and a worker may evaluate strings; the page's CSP violations. */
async function evalAllowed() {
  const service = open('rel-faulty', 'cpu', 'rel-eval');
  try {
    await service.backend();
    return { page: evalAtLoad, worker: await hooks().evalAllowed(), violations };
  } finally {
    await service.close();
  }
}

Object.assign(window, {
  workerDeath,
  deviceLost,
  reloadPart1,
  reloadPart2,
  soak,
  trainAndSample,
  evalAllowed,
});
document.body.dataset.ready = 'true';
