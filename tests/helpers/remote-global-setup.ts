// Vitest global setup: one `loops-web serve` process (the real command, cpu backend, the fixture
// models, checkpoints in memory, an API key) for the `test-remote` placement of the contract
// tests. It is skipped when the run names only test files that cannot use it, so a targeted
// `npx vitest run tests/unit/foo.test.ts` does not pay for its start.
import type { TestProject } from 'vitest/node';
import { spawnFixtureServe } from './serve-process';

declare module 'vitest' {
  export interface ProvidedContext {
    loopsServe: { url: string; apiKey: string } | null;
  }
}

function wanted(argv: readonly string[]): boolean {
  const filters = argv.slice(2).filter((a) => !a.startsWith('-') && a !== 'run' && a !== 'watch');
  // Values of options (`--reporter x`) also land here; they only make the check start the server.
  return filters.length === 0 || filters.some((f) => /contract|remote|tests\/?$/.test(f));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!wanted(process.argv)) {
    project.provide('loopsServe', null);
    return async () => undefined;
  }
  const serve = await spawnFixtureServe();
  project.provide('loopsServe', { url: serve.url, apiKey: serve.apiKey });
  return () => serve.stop();
}
