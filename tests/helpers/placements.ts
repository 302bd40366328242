// Test placements of the engine: in-process, over comlink on a Node MessageChannel (the browser
// Worker's wiring without a browser), and remote: the Tinker REST protocol over real HTTP to the
// `loops-web serve` process that tests/helpers/remote-global-setup.ts starts. All serve the fixture
// model folder (written with the same seed, so the same weights).
import 'fake-indexeddb/auto';
import { expose } from 'comlink';
import { inject } from 'vitest';
import { comlinkLink, inProcessLink, registerPlacement, remoteLink } from '../../src/index';
import { createNodeEngine } from '../../src/engine/node-engine';
import { installErrorTransfer } from '../../src/errors/comlink-errors';
import { writeFixtureModels } from './fixture-model-dir';

export const PLACEMENTS = ['test-in-process', 'test-channel', 'test-remote'] as const;
export type TestPlacement = (typeof PLACEMENTS)[number];

let modelsDir: string | null = null;

/** The `loops-web serve` of this test run: its URL and API key. */
export function testServe(): { url: string; apiKey: string } {
  const serve = inject('loopsServe');
  if (!serve)
    throw new Error(
      'no loops-web serve for test-remote: the global setup skips it when the run names no contract test file.',
    );
  return serve;
}

/** Registers the placements once per test file; returns the fixture models folder. */
export function registerTestPlacements(): string {
  if (modelsDir) return modelsDir;
  const dir = writeFixtureModels();
  modelsDir = dir;
  installErrorTransfer();
  registerPlacement('test-in-process', () => inProcessLink(createNodeEngine({ modelsDir: dir })));
  registerPlacement('test-channel', () => {
    const { port1, port2 } = new MessageChannel();
    expose(createNodeEngine({ modelsDir: dir }), port1 as unknown as Parameters<typeof expose>[1]);
    return comlinkLink(port2 as unknown as Parameters<typeof comlinkLink>[0], () => {
      port1.close();
      port2.close();
    });
  });
  registerPlacement('test-remote', ({ hub_url }) => {
    const { url, apiKey } = testServe();
    return remoteLink({ base_url: url, api_key: apiKey, hub_url });
  });
  return dir;
}

/** Where a checkpoint `name` of `runId` lives on `placement`: IndexedDB in the page, tinker:// remotely. */
export function checkpointPathOn(
  placement: string,
  runId: string,
  kind: 'weights' | 'sampler_weights',
  name: string,
): string {
  return placement === 'test-remote'
    ? `tinker://${runId}/${kind}/${name}`
    : `idb://loops:${runId}/${kind}/${name}`;
}
