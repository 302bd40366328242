// Faults on the remote placement. Against a scripted Tinker service (tests/helpers/fake-tinker.ts):
// the retrieve_future rules of the Python SDK (tinker 0.24.1 lib/api_future_impl.py: try_again and
// 408/5xx are asked again, 429 waits, a bare 400 is asked again 3 times, other 4xx fail), failed
// ops arriving typed, malformed answers, a service that stops answering. Against a real
// `loops-web serve` process killed mid-op: every pending future settles with a typed error.
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RemoteOpError,
  RemoteServiceError,
  ServiceClient,
  TimeoutError,
  UnknownCheckpointError,
  registerPlacement,
  remoteLink,
  type RemoteTuning,
  type TrainingClient,
} from '../../src/index';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { fbResult, ok, startFakeTinker, type FakeTinker } from '../helpers/fake-tinker';
import { registerTestPlacements, testServe } from '../helpers/placements';
import { spawnFixtureServe } from '../helpers/serve-process';
import { makeDatum } from '../helpers/training-data';

registerTestPlacements();
const KEY = 'tml-fault-test-key';
let placements = 0;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn().catch(() => undefined);
});

function serviceOn(url: string, tuning: Partial<RemoteTuning> = {}): ServiceClient {
  const name = `fault-remote-${placements++}`;
  registerPlacement(name, (o) => remoteLink({ ...o, base_url: url, api_key: KEY }, tuning));
  const service = new ServiceClient({ engine: name });
  cleanup.push(() => service.close());
  return service;
}

async function fake(): Promise<FakeTinker> {
  const f = await startFakeTinker();
  cleanup.push(() => f.close());
  return f;
}

async function trainOn(f: FakeTinker, tuning: Partial<RemoteTuning> = {}): Promise<TrainingClient> {
  return serviceOn(f.url, tuning).create_lora_training_client(FIXTURE_MODEL, 4, 1);
}

const datum = makeDatum(1);

describe('remote placement: retrieve_future rules', () => {
  it('a slow service (try_again) is polled until it answers; result(timeout) bounds the wait', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    const fb = tc.forward_backward([datum]);
    await expect(fb.result(0.3)).rejects.toBeInstanceOf(TimeoutError);
    const asked = f.asks('op-1');
    expect(asked).toBeGreaterThan(0);
    await vi.waitFor(() => expect(f.asks('op-1')).toBeGreaterThan(asked), { timeout: 10_000 });
    f.script('op-1', [fbResult(12, 7.5)]);
    expect((await fb).loss).toBe(7.5);
  });

  it('408 and 5xx are asked again; the result then arrives', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    f.script('op-1', [
      { status: 408, body: { detail: 'Timeout waiting for result' } },
      { status: 503, body: { detail: 'busy' } },
      fbResult(12, 3),
    ]);
    expect((await tc.forward_backward([datum])).loss).toBe(3);
    expect(f.asks('op-1')).toBe(3);
  });

  it('429 waits (Retry-After), then asks again', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    f.script('op-1', [{ status: 429, headers: { 'Retry-After': '0.2' } }, fbResult(12, 2)]);
    expect((await tc.forward_backward([datum])).loss).toBe(2);
    expect(f.asks('op-1')).toBe(2);
  });

  it('a bare 400 is asked again 3 times, then the op fails with the service’s words', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    f.script('op-1', [{ status: 400, body: { detail: 'the datum is wrong' } }]);
    const error = await tc
      .forward_backward([datum])
      .result()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteServiceError);
    expect(error).toMatchObject({ status: 400, category: 'user', cause_class: 'BadRequestError' });
    expect((error as Error).message).toMatch(/the datum is wrong/);
    expect(f.asks('op-1')).toBe(4);
  });

  it('a failed op arrives typed: its category, or the engine class loops-web names', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    f.script('op-1', [ok({ error: 'out of memory', category: 'server' })]);
    f.script('op-2', [
      ok({ error: 'no checkpoint x', category: 'user', error_class: 'UnknownCheckpointError' }),
    ]);
    const first = await tc
      .forward_backward([datum])
      .result()
      .catch((e: unknown) => e);
    expect(first).toBeInstanceOf(RemoteServiceError);
    expect(first).toMatchObject({ category: 'server', cause_class: 'RequestFailedError' });
    await expect(tc.load_state('tinker://r/weights/x')).rejects.toBeInstanceOf(
      UnknownCheckpointError,
    );
    const lost = { error: 'the GPU device was lost', category: 'server' };
    f.script('op-3', [
      ok({ ...lost, error_class: 'RemoteOpError', cause_class: 'DeviceLostError' }),
    ]);
    const third = await tc
      .forward_backward([datum])
      .result()
      .catch((e: unknown) => e);
    expect(third).toBeInstanceOf(RemoteOpError);
    expect(third).toMatchObject({ cause_class: 'DeviceLostError' });
  });

  it('a 5xx answer naming the engine’s error is final (not retried), with its cause', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    const detail = 'the GPU device was lost (unknown: reset)';
    f.scriptRoute('GET healthz', [
      {
        status: 503,
        body: { detail, error_class: 'RemoteOpError', cause_class: 'DeviceLostError' },
      },
    ]);
    const error = await tc.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteOpError);
    expect(error).toMatchObject({ cause_class: 'DeviceLostError' });
    expect((error as Error).message).toContain(detail);
    expect(f.log.filter((l) => l.route === 'GET healthz')).toHaveLength(1);
  });

  it('malformed answers fail the op (APIResponseValidationError) instead of hanging', async () => {
    const f = await fake();
    const tc = await trainOn(f);
    f.script('op-1', [{ status: 200, body: '<html>proxy error</html>' }]);
    f.script('op-2', [ok({ metrics: {} })]);
    for (const future of [tc.forward_backward([datum]), tc.forward_backward([datum])]) {
      const error = await future.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteServiceError);
      expect(error).toMatchObject({ cause_class: 'APIResponseValidationError' });
    }
    f.scriptRoute('POST forward_backward', [ok({ queued: true })]);
    await expect(tc.forward_backward([datum])).rejects.toThrow(/without a request_id/);
  });

  it('a service that stops answering fails pending ops with APIConnectionError', async () => {
    const f = await fake();
    const tc = await trainOn(f, { retrySeconds: 1 });
    const pending = tc.forward_backward([datum]);
    await vi.waitFor(() => expect(f.asks('op-1')).toBeGreaterThan(0));
    await f.close();
    const error = await pending.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteServiceError);
    expect(error).toMatchObject({ cause_class: 'APIConnectionError', status: null });
    await expect(tc.optim_step({})).rejects.toMatchObject({ cause_class: 'APIConnectionError' });
  });

  it('a 401 is an AuthenticationError whose message holds no key', async () => {
    const f = await fake();
    f.scriptRoute('GET get_server_capabilities', [
      { status: 401, body: { detail: 'missing or wrong X-API-Key header' } },
    ]);
    const error = await serviceOn(f.url)
      .backend()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ cause_class: 'AuthenticationError', status: 401 });
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain(KEY);
    expect(f.log[0]?.headers['x-api-key']).toBe(KEY);
  });

  it('closing the client ends polls at once: pending ops reject with EngineClosedError', async () => {
    const f = await fake();
    const service = serviceOn(f.url);
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 1);
    const pending = tc.forward_backward([datum]);
    await vi.waitFor(() => expect(f.asks('op-1')).toBeGreaterThan(0));
    await service.close();
    await expect(pending).rejects.toMatchObject({ cause_class: 'EngineClosedError' });
  });
});

describe('remote placement: a real loops-web serve killed mid-op', () => {
  it('every pending future settles with APIConnectionError; nothing hangs', async () => {
    const serve = await spawnFixtureServe();
    cleanup.push(() => serve.kill());
    const name = `fault-remote-${placements++}`;
    registerPlacement(name, (o) =>
      remoteLink({ ...o, base_url: serve.url, api_key: serve.apiKey }, { retrySeconds: 2 }),
    );
    const service = new ServiceClient({ engine: name });
    cleanup.push(() => service.close());
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 1);
    expect((await tc.forward_backward([datum])).loss).toBeGreaterThan(0);
    const futures = Array.from({ length: 6 }, () => [
      tc.forward_backward([datum]),
      tc.optim_step({ learning_rate: 1e-3 }),
    ]).flat();
    await serve.kill();
    const outcomes = await Promise.allSettled(futures.map((fut) => fut.result()));
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const o of failed) {
      expect(o.reason).toBeInstanceOf(RemoteServiceError);
      expect(o.reason).toMatchObject({ cause_class: 'APIConnectionError' });
    }
    await expect(tc.forward([datum])).rejects.toMatchObject({
      cause_class: 'APIConnectionError',
    });
    // The server printed its address, never its key.
    expect(serve.output()).not.toContain(serve.apiKey);
  });
});

describe('remote placement: the API key', () => {
  it('is sent, and never logged, kept in reach on the client objects, or put in an error', async () => {
    const { url, apiKey } = testServe();
    const logged: string[] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged.push(args.map((a) => inspect(a)).join(' '));
      }),
    );
    const service = new ServiceClient({ engine: 'remote', base_url: url, api_key: apiKey });
    const wrongKey = new ServiceClient({ engine: 'remote', base_url: url, api_key: 'tml-wrong' });
    cleanup.push(
      () => service.close(),
      () => wrongKey.close(),
    );
    try {
      const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 1);
      expect((await tc.forward_backward([datum])).loss).toBeGreaterThan(0);
      const failed = (await tc
        .load_state('tinker://nosuchrun/weights/x')
        .result()
        .catch((e: unknown) => e)) as Error;
      expect(failed).toBeInstanceOf(UnknownCheckpointError);
      const refused = (await wrongKey.backend().catch((e: unknown) => e)) as Error;
      expect(refused).toMatchObject({ cause_class: 'AuthenticationError' });
      const seen = [
        inspect(service, { depth: 8, showHidden: true }),
        inspect(tc, { depth: 8, showHidden: true }),
        `${failed.message} ${failed.stack}`,
        `${refused.message} ${refused.stack}`,
        ...logged,
      ].join('\n');
      expect(seen).not.toContain(apiKey);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
