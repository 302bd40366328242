// Test placements of the engine: in-process, and over comlink on a Node MessageChannel (the
// browser Worker's wiring without a browser). Both serve the fixture model folder.
import 'fake-indexeddb/auto';
import { expose } from 'comlink';
import { comlinkLink, inProcessLink, registerPlacement } from '../../src/index';
import { createNodeEngine } from '../../src/engine/node-engine';
import { installErrorTransfer } from '../../src/errors/comlink-errors';
import { writeFixtureModels } from './fixture-model-dir';

export const PLACEMENTS = ['test-in-process', 'test-channel'] as const;
export type TestPlacement = (typeof PLACEMENTS)[number];

let modelsDir: string | null = null;

/** Registers both placements once per test file; returns the fixture models folder. */
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
  return dir;
}
