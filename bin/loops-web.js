#!/usr/bin/env node
// The `loops-web` command (`npx loops-web serve --port 8000`). From a built package it runs
// dist-lib/server/cli.js; in a checkout of the repository it runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist-lib/server/cli.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/server/cli.ts');
}
try {
  process.exitCode = await cli.main(process.argv.slice(2));
} catch (error) {
  console.error(`loops-web: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
