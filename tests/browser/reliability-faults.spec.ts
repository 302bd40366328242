// Faults survived in Chromium, with the engine in a real Worker
// (harness: tests/browser/pages/reliability.ts):
// the worker dies with ops pending (the link terminates it, an uncaught error, the worker closing
// itself): every pending future rejects with a typed error, none hangs, a new ServiceClient trains.
// The GPU device is destroyed mid-training (webgpu): ops reject with DeviceLostError and a new
// client resumes from the last save_state with nothing lost. The page reloads mid-training (wasm,
// for CI time; the webgpu reload is in facade.spec.ts): training resumed from the last save is
// bit-identical to training that never stopped.
import { expect, test, type Page } from '@playwright/test';

interface Outcome {
  state: 'resolved' | 'rejected' | 'hung';
  ms: number;
  typed?: boolean;
  errorClass?: string;
  causeClass?: string;
  message?: string;
}

async function open(page: Page): Promise<void> {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  await page.goto('/tests/browser/pages/reliability.html');
  await page.waitForSelector('body[data-ready="true"]');
}

function call<T>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([n, a]) => (window as unknown as Record<string, (...x: unknown[]) => Promise<T>>)[n]!(...a),
    [name, args] as const,
  ) as Promise<T>;
}

/** No future hung; all that had not finished rejected, typed, at (about) the same moment. */
function expectTypedRejections(kind: string, outcomes: Outcome[], cause: string): string {
  expect(
    outcomes.filter((o) => o.state === 'hung'),
    `${kind}: hung`,
  ).toEqual([]);
  const rejected = outcomes.filter((o) => o.state === 'rejected');
  expect(rejected.length, `${kind}: nothing was pending`).toBeGreaterThan(0);
  for (const o of rejected) {
    expect(o.typed, o.message).toBe(true);
    expect(o.errorClass).toBe('RemoteOpError');
    expect(o.causeClass).toBe(cause);
  }
  const ms = rejected.map((o) => o.ms);
  // Once the death is known, every pending future rejects in the same task.
  expect(Math.max(...ms) - Math.min(...ms), `${kind}: rejection spread`).toBeLessThan(50);
  return `${rejected.length} rejected (${cause}) ${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)} ms after the fault was triggered, ${outcomes.length - rejected.length} had finished, 0 hung`;
}

test('the worker dies with ops pending: typed rejections, none hangs, a new client trains', async ({
  page,
}) => {
  await open(page);
  const kinds = [
    ['close', 'EngineClosedError'],
    ['crash', 'WorkerError'],
    ['exit', 'WorkerError'],
  ] as const;
  for (const [kind, cause] of kinds) {
    const r = await call<{ outcomes: Outcome[]; later: Outcome; freshLoss: number }>(
      page,
      'workerDeath',
      kind,
      'wasm',
    );
    const figure = expectTypedRejections(kind, r.outcomes, cause);
    expect(r.later.state).toBe('rejected');
    expect(r.later.ms).toBeLessThan(50);
    expect(Number.isFinite(r.freshLoss)).toBe(true);
    console.log(
      `[reliability] worker death '${kind}' (wasm): ${figure}; a new client trained (loss ${r.freshLoss.toFixed(3)})`,
    );
  }
});

test('the GPU device is lost: DeviceLostError, and a new client resumes from save_state', async ({
  page,
}) => {
  await open(page);
  const r = await call<{
    destroyed: boolean;
    outcomes: Outcome[];
    later: Outcome;
    backend: string;
    before: number[];
    after: number[];
    version: number;
    resumedVersion: number;
  }>(page, 'deviceLost');
  expect(r.destroyed).toBe(true);
  const figure = expectTypedRejections('device lost', r.outcomes, 'DeviceLostError');
  expect(r.outcomes[0]!.message).toMatch(/GPU device was lost \(destroyed/);
  expect(r.later.causeClass).toBe('DeviceLostError');
  expect(r.backend).toBe('webgpu');
  expect(r.resumedVersion).toBe(r.version);
  // The saved adapter and Adam state are float32 bytes; the same kernels on a new device give
  // the same log-probs.
  expect(r.after).toEqual(r.before);
  console.log(
    `[reliability] device lost (webgpu): ${figure}; resumed on a new device at step ${r.resumedVersion}, probe bit-identical`,
  );
});

test('a page reload mid-training resumes from the last save bit-identically (wasm)', async ({
  page,
}) => {
  await open(page);
  const ns = `rel-reload-${Date.now()}`;
  const first = await call<{ path: string; runId: string }>(page, 'reloadPart1', 'wasm', ns);
  await page.reload(); // while three steps and a save are in flight
  await page.waitForSelector('body[data-ready="true"]');
  const r = await call<{
    listed: string[];
    resumedVersion: number;
    resumed: number[];
    straight: number[];
  }>(page, 'reloadPart2', 'wasm', ns, first.path, first.runId);
  expect(r.listed).toContain('mid@3');
  // A save cut off by the reload is absent or whole (step 6), never partial.
  expect(r.listed.filter((c) => c.startsWith('late@')).every((c) => c === 'late@6')).toBe(true);
  expect(r.resumedVersion).toBe(3);
  expect(r.resumed).toEqual(r.straight);
  console.log(
    `[reliability] reload mid-training (wasm): checkpoints after reload ${r.listed.join(', ')}; resumed at step 3 + 3 steps = 6 uninterrupted steps, bit-identical`,
  );
});
