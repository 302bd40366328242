// Placements for the reliability tests, like tests/helpers/placements.ts but instrumented: each
// counts what the page sends to the engine (method calls in-process, messages over the channel),
// so a test can prove that a rejected call sent nothing. The engine is the Node engine over a
// models folder (the fixture by default), with checkpoints in fake-indexeddb.
import 'fake-indexeddb/auto';
import { expose } from 'comlink';
import { comlinkLink, inProcessLink, registerPlacement, type EngineLink } from '../../../src/index';
import { createNodeEngine } from '../../../src/engine/node-engine';
import { installErrorTransfer } from '../../../src/errors/comlink-errors';
import type { EngineApi } from '../../../src/protocol/engine-api';
import { writeFixtureModels } from '../../helpers/fixture-model-dir';

export const REL_PLACEMENTS = ['rel-in-process', 'rel-channel'] as const;
export type RelPlacement = (typeof REL_PLACEMENTS)[number];

export interface PlacedEngine {
  /** Calls (in-process) or messages (channel) sent from the page side so far. */
  sent: number;
  readonly link: EngineLink;
  /** The engine's end of the channel (channel placement only), to simulate the engine's death. */
  readonly enginePort: MessagePort | null;
}

/** The most recent engine each placement started. */
export const placed = new Map<RelPlacement, PlacedEngine>();

let registered: string | null = null;

/** Registers both placements over `modelsDir` (once per test file); returns the folder. */
export function registerReliabilityPlacements(modelsDir?: string): string {
  if (registered) return registered;
  const dir = modelsDir ?? writeFixtureModels();
  registered = dir;
  installErrorTransfer();
  registerPlacement('rel-in-process', () => {
    const engine = createNodeEngine({ modelsDir: dir });
    const entry = { sent: 0, enginePort: null } as {
      sent: number;
      enginePort: null;
      link: EngineLink;
    };
    const counted = new Proxy(engine, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          entry.sent++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as EngineApi;
    entry.link = inProcessLink(counted);
    placed.set('rel-in-process', entry);
    return entry.link;
  });
  registerPlacement('rel-channel', () => {
    const { port1, port2 } = new MessageChannel();
    expose(createNodeEngine({ modelsDir: dir }), port1 as unknown as Parameters<typeof expose>[1]);
    const entry = { sent: 0, enginePort: port1 } as {
      sent: number;
      enginePort: MessagePort;
      link: EngineLink;
    };
    const post = port2.postMessage.bind(port2) as (message: unknown, transfer?: unknown) => void;
    (port2 as { postMessage: (message: unknown, transfer?: unknown) => void }).postMessage = (
      message,
      transfer,
    ) => {
      entry.sent++;
      post(message, transfer);
    };
    entry.link = comlinkLink(port2 as unknown as Parameters<typeof comlinkLink>[0], () => {
      port1.close();
      port2.close();
    });
    placed.set('rel-channel', entry);
    return entry.link;
  });
  return dir;
}
