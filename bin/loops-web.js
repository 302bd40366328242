#!/usr/bin/env node
// The `loops-web` command (`npx loops-web serve --port 8000`). In a checkout of the repository it
// runs the TypeScript sources through tsx; from the npm package (no sources) it runs the build,
// dist-lib/server/cli.js (`npm run build:lib`).
import { existsSync } from 'node:fs';

const sources = new URL('../src/server/cli.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(sources.href);
} else {
  cli = await import(new URL('../dist-lib/server/cli.js', import.meta.url).href);
}
try {
  process.exitCode = await cli.main(process.argv.slice(2));
} catch (error) {
  console.error(`loops-web: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
