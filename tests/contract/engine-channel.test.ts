// The engine behind comlink over a Node MessageChannel: the same wiring as the browser Worker,
// without a browser. Typed errors must arrive as their own classes.
import { expose, wrap, releaseProxy } from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeEngine } from '../../src/engine/node-engine';
import { installErrorTransfer } from '../../src/errors/comlink-errors';
import { ValidationError, LoopsError } from '../../src/errors/loops-errors';
import type { EngineApi } from '../../src/protocol/engine-api';
import { maxRelError, referenceSelfCheck } from '../reference/self-check';
import { seededArray } from '../helpers/seeded';

installErrorTransfer();
const { port1, port2 } = new MessageChannel();
expose(createNodeEngine(), port1 as unknown as Parameters<typeof expose>[1]);
const remote = wrap<EngineApi>(port2 as unknown as Parameters<typeof wrap>[0]);

afterAll(() => {
  remote[releaseProxy]();
  port1.close();
  port2.close();
});

describe('engine over a MessageChannel', () => {
  it('reports no backend before init, then the one chosen', async () => {
    expect(await remote.backendReport()).toBeNull();
    const report = await remote.init('cpu');
    expect(report.backend).toBe('cpu');
    expect(await remote.backendReport()).toEqual(report);
  });

  it('runs the self-check across the channel and agrees with the reference', async () => {
    const [m, k, n] = [4, 6, 5];
    const x = seededArray(m * k, 3);
    const w = seededArray(k * n, 4);
    const got = await remote.selfCheck({ m, k, n, x, w });
    const ref = referenceSelfCheck(m, k, n, x, w);
    expect(got.product).toBeInstanceOf(Float32Array);
    expect(maxRelError(got.gradX, ref.gradX)).toBeLessThan(1e-4);
  });

  it('delivers a ValidationError as a ValidationError', async () => {
    const error = await remote.init('tpu' as 'cpu').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toBeInstanceOf(LoopsError);
  });
});
