// health() answers whether the trainer can run ops: it raises once the engine cannot (Loops:
// "health() raises when trainer unhealthy"), here a lost GPU device (a stand-in device, as Node
// has no WebGPU; the real loss is tested in Chromium). A link's engine proxy is not a thenable,
// so `await link.engine` gives the proxy back instead of hanging.
//
// The stand-in device lives in this process, so over test-remote the service must too: this file
// serves the fixture models with `startServer` (the routes `loops-web serve` runs) and the remote
// placement talks to it over HTTP; the lost device is then its engine's, reported by its healthz.
import { expose } from 'comlink';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  RemoteOpError,
  ServiceClient,
  comlinkLink,
  inProcessLink,
  registerPlacement,
  remoteLink,
} from '../../src/index';
import { createNodeEngine } from '../../src/engine/node-engine';
import { watchDeviceLoss } from '../../src/runtime/device-lost';
import { startServer, type RunningServer } from '../../src/server/serve';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { PLACEMENTS, registerTestPlacements, type TestPlacement } from '../helpers/placements';

const modelsDir = registerTestPlacements();
const REMOTE_HERE = 'test-remote-in-this-process';
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ port: 0, backend: 'cpu', modelsDir, log: () => undefined });
  registerPlacement(REMOTE_HERE, ({ hub_url }) => remoteLink({ base_url: server.url, hub_url }));
});
afterAll(() => server.close());

const engineOf = (placement: TestPlacement) =>
  placement === 'test-remote' ? REMOTE_HERE : placement;

/** A stand-in GPU device whose loss the test triggers. */
function standInDevice(): (message: string) => void {
  let lose: (info: { reason: string; message: string }) => void = () => undefined;
  watchDeviceLoss({ lost: new Promise((r) => (lose = r)) } as unknown as GPUDevice);
  return (message) => lose({ reason: 'unknown', message });
}

afterEach(() => {
  // A fresh, healthy stand-in device for whatever runs next in this process.
  watchDeviceLoss({ lost: new Promise(() => undefined) } as unknown as GPUDevice);
});

describe.each(PLACEMENTS)('health over %s', (placement) => {
  it('is ok while the engine runs, and raises DeviceLostError once the device is lost', async () => {
    const service = new ServiceClient({
      engine: engineOf(placement),
      backend: 'cpu',
      storage_namespace: `health-${placement}`,
    });
    const tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 1);
    const lose = standInDevice();
    expect(await tc.health()).toEqual({ ok: true, policy_version: 0 });
    lose('simulated driver reset');
    await new Promise((r) => setTimeout(r, 0)); // the loss is reported in a microtask
    const error = await tc.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteOpError);
    expect(error).toMatchObject({ cause_class: 'DeviceLostError' });
    expect((error as Error).message).toMatch(
      /GPU device was lost \(unknown: simulated driver reset\)/,
    );
    if (placement === 'test-remote')
      expect((error as Error).message).toMatch(/^the service at http:.* Restart the service/);
    await service.close();
  });
});

describe('await link.engine', () => {
  it('gives the engine back over a channel and in-process, never hangs', async () => {
    const { port1, port2 } = new MessageChannel();
    const engine = createNodeEngine({ modelsDir });
    expose(engine, port1 as unknown as Parameters<typeof expose>[1]);
    const channel = comlinkLink(port2 as unknown as Parameters<typeof comlinkLink>[0], () => {
      port1.close();
      port2.close();
    });
    expect(await channel.engine).toBe(channel.engine);
    expect(await channel.engine.backendReport()).toBeNull(); // the proxy still calls methods
    channel.close();
    const local = inProcessLink(engine);
    expect(await local.engine).toBe(engine);
  }, 15_000); // a hang fails here instead of after the default minute
});
