// Faults survived, in Node: the engine dies with ops pending (the page closes the link, the
// engine's port closes, a real worker thread crashes, exits or is terminated): every pending future
// rejects promptly with a typed error, none hangs, and a new ServiceClient starts and resumes from
// the last save_state bit-identically. IndexedDB fails mid-save (quota, a write that throws): the
// save rejects and the previous checkpoint of that name is intact and loadable. The GPU device is
// lost (a stand-in device, as Node has no WebGPU here; the real one is in Chromium): ops reject
// with DeviceLostError and a new client resumes.
// Chromium: tests/browser/reliability-faults.spec.ts.
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AdamParams,
  LoopsError,
  ModelInput,
  RemoteOpError,
  ServiceClient,
  UnknownCheckpointError,
  comlinkLink,
  registerPlacement,
  type EngineLink,
  type TrainingClient,
} from '../../src/index';
import { watchDeviceLoss } from '../../src/runtime/device-lost';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { BATCHES, makeDatum } from '../helpers/training-data';
import { placed, registerReliabilityPlacements } from './helpers/placements';

const modelsDir = registerReliabilityPlacements();
const adam = new AdamParams({ learning_rate: 5e-3, weight_decay: 0.01, grad_clip_norm: 5 });
const figures: string[] = [];

let thread: Worker | null = null;
let threadLink: EngineLink | null = null;
registerPlacement('rel-thread', () => {
  const worker = new Worker(new URL('./helpers/engine-thread.mjs', import.meta.url), {
    workerData: { modelsDir },
  });
  thread = worker;
  // An uncaught error in the thread arrives here (and would crash the test process if unheard).
  worker.on('error', () => undefined);
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ port: port1 }, [port1 as never]);
  threadLink = comlinkLink(port2 as unknown as Parameters<typeof comlinkLink>[0], () => {
    port2.close();
    void worker.terminate();
  });
  return threadLink;
});

/** −Σ lp²: any custom loss; it makes its op a round trip through the page. */
const squared = (_data: unknown[], lps: unknown[]) => ({
  loss: tf.addN((lps as tf.Tensor[]).map((t) => tf.sum(tf.square(t)))),
  metrics: {},
});

async function train(tc: TrainingClient, steps: number, offset = 0): Promise<void> {
  for (let i = 0; i < steps; i++) {
    void tc.forward_backward(BATCHES[(i + offset) % 4]!);
    await tc.optim_step(adam);
  }
}

async function probe(tc: TrainingClient): Promise<number[]> {
  return (await tc.forward([makeDatum(77)])).loss_fn_outputs[0]!.logprobs.tolist();
}

interface Settled {
  state: 'resolved' | 'rejected' | 'hung';
  ms: number;
  error?: unknown;
}

/** How each future ends, at `performance.now() - t0`; one pending after `limitMs` is hung. */
function settle(futures: PromiseLike<unknown>[], t0: number, limitMs = 5000): Promise<Settled[]> {
  return Promise.all(
    futures.map(
      (f) =>
        new Promise<Settled>((resolve) => {
          const timer = setTimeout(() => resolve({ state: 'hung', ms: limitMs }), limitMs);
          f.then(
            () => (clearTimeout(timer), resolve({ state: 'resolved', ms: performance.now() - t0 })),
            (error: unknown) => (
              clearTimeout(timer),
              resolve({ state: 'rejected', ms: performance.now() - t0, error })
            ),
          );
        }),
    ),
  );
}

/** Checks that every future that did not finish before the fault rejected with a typed error. */
function expectPromptRejections(kind: string, outcomes: Settled[]): void {
  expect(
    outcomes.filter((o) => o.state === 'hung'),
    `${kind}: hung futures`,
  ).toEqual([]);
  const rejected = outcomes.filter((o) => o.state === 'rejected');
  expect(rejected.length, `${kind}: nothing was pending at the fault`).toBeGreaterThan(0);
  for (const o of rejected) {
    expect(o.error).toBeInstanceOf(RemoteOpError);
    expect(o.ms, `${kind}: rejection latency`).toBeLessThan(1000);
  }
  const maxMs = Math.max(...rejected.map((o) => o.ms));
  const causes = [...new Set(rejected.map((o) => (o.error as RemoteOpError).cause_class))];
  figures.push(
    `engine death '${kind}': ${rejected.length} pending futures rejected (${causes.join(', ')}) within ${maxMs.toFixed(1)} ms, ${outcomes.length - rejected.length} had finished, 0 hung`,
  );
}

/** Causes the fault; resolves with when the engine was dead (the thread's exit, if a thread). */
type Fault = () => Promise<number>;
const now = async () => performance.now();
/** When the thread's uncaught error is reported (the moment it died). */
const threadError = () =>
  new Promise<number>((resolve) => thread!.once('error', () => resolve(performance.now())));
const FAULTS: [string, 'rel-channel' | 'rel-thread', Fault][] = [
  ['page closes the link', 'rel-channel', () => (placed.get('rel-channel')!.link.close(), now())],
  [
    "engine's port closes",
    'rel-channel',
    () => (placed.get('rel-channel')!.enginePort!.close(), now()),
  ],
  [
    'thread crashes (uncaught error)',
    'rel-thread',
    async () => {
      const died = threadError();
      await hook('crash');
      return died;
    },
  ],
  ['thread terminated', 'rel-thread', () => (void thread!.terminate(), now())],
];

/** Calls a fault hook of the thread's engine through the client's own link. */
async function hook(name: 'crash' | 'exit'): Promise<void> {
  await (threadLink!.engine as unknown as Record<string, () => Promise<void>>)[name]!();
}

describe('the engine dies with ops pending', () => {
  it.each(FAULTS)('%s', async (kind, placement, fault) => {
    const service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: 'death',
    });
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 3);
    const sc = await tc.save_weights_and_get_sampling_client();
    const futures: PromiseLike<unknown>[] = [];
    for (let i = 0; i < 4; i++) futures.push(tc.forward_backward(BATCHES[i]!), tc.optim_step(adam));
    // Queued training ops can drain without the engine yielding to its event loop, so the
    // thread's crash (a timer there) may land only after them (on a loaded CI machine, after
    // everything). A custom-loss step makes the engine wait for the page's gradients mid-op: the
    // fault lands there at the latest, with that op and the ones behind it pending.
    futures.push(tc.forward_backward_custom(BATCHES[0]!, squared), tc.optim_step(adam));
    futures.push(tc.save_state('never'), sc.sample(ModelInput.from_ints([5, 6, 7]), 2));
    await futures[0];
    const pending = futures.slice(1);
    const dead = fault();
    const outcomes = await settle(pending, 0);
    const t0 = await dead;
    expectPromptRejections(
      kind,
      outcomes.map((o) => ({ ...o, ms: Math.max(0, o.ms - t0) })),
    );
    // Later calls fail at once too, and closing the dead client neither throws nor hangs.
    const [later] = await settle([tc.forward([makeDatum(1)])], performance.now());
    expect(later!.state).toBe('rejected');
    expect(later!.error).toBeInstanceOf(LoopsError);
    const [closed] = await settle([service.close()], performance.now());
    expect(closed!.state).toBe('resolved');
    // A new client starts and trains.
    const fresh = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: 'death',
    });
    const next = await fresh.create_lora_training_client(FIXTURE_MODEL, 4, 3);
    expect(Number.isFinite((await next.forward_backward(BATCHES[0]!)).loss)).toBe(true);
    await fresh.close();
  });

  it('a new client resumes from the last save_state bit-identically', async () => {
    const service = new ServiceClient({
      engine: 'rel-channel',
      backend: 'cpu',
      storage_namespace: 'resume',
    });
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 21);
    await train(tc, 3);
    const { path } = await tc.save_state('mid');
    const inFlight = [0, 1, 2].flatMap((i) => [
      tc.forward_backward(BATCHES[(i + 3) % 4]!),
      tc.optim_step(adam),
    ]);
    placed.get('rel-channel')!.enginePort!.close(); // dies mid-training
    const outcomes = await settle(inFlight, performance.now());
    expect(outcomes.every((o) => o.state === 'rejected')).toBe(true);
    await service.close();

    const fresh = new ServiceClient({
      engine: 'rel-channel',
      backend: 'cpu',
      storage_namespace: 'resume',
    });
    const resumed = await fresh.create_training_client_from_state_with_optimizer(path);
    expect(resumed.policy_version).toBe(3);
    await train(resumed, 3, 3);
    const straight = await fresh.create_lora_training_client(FIXTURE_MODEL, 4, 21);
    await train(straight, 6);
    expect(await probe(resumed)).toEqual(await probe(straight));
    figures.push(
      'resume after engine death: 6 steps (3 saved + 3 after resume) bit-identical to 6 uninterrupted',
    );
    await fresh.close();
  });
});

type Put = (this: IDBObjectStore, value: unknown, key?: IDBValidKey) => IDBRequest;

/** Makes the next checkpoint save fail: `quota` aborts its transaction as a full disk does. */
function failNextSave(how: 'quota' | 'throws'): () => void {
  const proto = (globalThis as unknown as { IDBObjectStore: { prototype: { put: Put } } })
    .IDBObjectStore.prototype;
  const original = proto.put;
  proto.put = function (value, key) {
    if (typeof key !== 'string' || !key.startsWith('files:'))
      return original.call(this, value, key);
    proto.put = original;
    if (how === 'throws') throw new DOMException('the value could not be cloned', 'DataCloneError');
    const request = original.call(this, value, key);
    (this.transaction as unknown as { _abort(name: string): void })._abort('QuotaExceededError');
    return request;
  };
  return () => (proto.put = original);
}

describe('IndexedDB fails mid-save', () => {
  it.each(['quota', 'throws'] as const)(
    '%s: the save rejects, the previous checkpoint is intact',
    async (how) => {
      const ns = `idb-${how}`;
      const service = new ServiceClient({
        engine: 'rel-channel',
        backend: 'cpu',
        storage_namespace: ns,
      });
      const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 5);
      await train(tc, 1);
      const { path } = await tc.save_state('ckpt');
      const saved = (await tc.list_checkpoints()).find((c) => c.path === path)!;
      const atSave = await probe(tc);
      await train(tc, 1, 1);
      const restore = failNextSave(how);
      const error = await tc.save_state('ckpt').then(
        () => null,
        (e: unknown) => e,
      );
      restore();
      expect(error).toBeInstanceOf(RemoteOpError);
      const cause = (error as RemoteOpError).cause_class;
      expect(cause).toBe(how === 'quota' ? 'QuotaExceededError' : 'StorageError');
      expect((error as Error).message).toMatch(
        /previous checkpoint of this name, if any, is unchanged/,
      );
      // A new name that fails is absent, not half-written.
      const restore2 = failNextSave(how);
      await expect(tc.save_state('fresh-name')).rejects.toBeInstanceOf(RemoteOpError);
      restore2();
      await expect(
        service.create_training_client_from_state(path.replace('/ckpt', '/fresh-name')),
      ).rejects.toBeInstanceOf(UnknownCheckpointError);
      // The old checkpoint: same metadata, and it loads to the state it was saved in.
      expect((await tc.list_checkpoints()).find((c) => c.path === path)).toEqual(saved);
      const resumed = await service.create_training_client_from_state_with_optimizer(path);
      expect(resumed.policy_version).toBe(1);
      expect(await probe(resumed)).toEqual(atSave);
      // The run itself is fine: the next save succeeds.
      expect((await tc.save_state('ckpt')).path).toBe(path);
      figures.push(
        `IndexedDB ${how}: save rejected with ${cause}; previous checkpoint intact (step 1, same id) and loads bit-identically`,
      );
      await service.close();
    },
  );
});

describe('the GPU device is lost (stand-in device in Node)', () => {
  it('pending ops reject with DeviceLostError; a new client resumes from save_state', async () => {
    const service = new ServiceClient({
      engine: 'rel-in-process',
      backend: 'cpu',
      storage_namespace: 'device',
    });
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 7);
    let lose: (info: { reason: string; message: string }) => void = () => undefined;
    watchDeviceLoss({ lost: new Promise((r) => (lose = r)) } as unknown as GPUDevice);
    await train(tc, 2);
    const { path } = await tc.save_state('before-loss');
    const before = await probe(tc);
    const pending = [tc.forward_backward(BATCHES[2]!), tc.optim_step(adam), tc.save_state('after')];
    const t0 = performance.now();
    lose({ reason: 'unknown', message: 'simulated driver reset' });
    const outcomes = await settle(pending, t0);
    expect(outcomes.map((o) => o.state)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const o of outcomes)
      expect((o.error as RemoteOpError).cause_class).toBe('DeviceLostError');
    expect((outcomes[0]!.error as Error).message).toMatch(
      /GPU device was lost \(unknown: simulated driver reset\)/,
    );
    await expect(service.create_lora_training_client(FIXTURE_MODEL, 4)).rejects.toMatchObject({
      cause_class: 'DeviceLostError',
    });
    await service.close();
    // A new engine gets a new device (in a browser: a new worker); the save has everything.
    watchDeviceLoss({ lost: new Promise(() => undefined) } as unknown as GPUDevice);
    const fresh = new ServiceClient({
      engine: 'rel-in-process',
      backend: 'cpu',
      storage_namespace: 'device',
    });
    const resumed = await fresh.create_training_client_from_state_with_optimizer(path);
    expect(resumed.policy_version).toBe(2);
    expect(await probe(resumed)).toEqual(before);
    const maxMs = Math.max(...outcomes.map((o) => o.ms));
    figures.push(
      `device lost: 3 pending ops rejected with DeviceLostError within ${maxMs.toFixed(1)} ms; resumed at step 2, probe bit-identical`,
    );
    await fresh.close();
  });
});

afterAll(() => {
  console.log(`[reliability] faults survived: ${figures.length}`);
  for (const f of figures) console.log(`[reliability]   ${f}`);
});
