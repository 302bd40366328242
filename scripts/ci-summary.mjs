// Reads the vitest and Playwright JSON reports and prints "N passed, N failed" (the line CI reads).
// A runner whose report is missing did not run (an earlier step failed): it counts as one failure.
import { existsSync, readFileSync } from 'node:fs';

function read(path) {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

let passed = 0;
let failed = 0;
let skipped = 0;

const vitest = read('test-results/vitest.json');
if (vitest) {
  passed += vitest.numPassedTests;
  failed += vitest.numFailedTests;
  skipped += vitest.numPendingTests + (vitest.numTodoTests ?? 0);
  if (vitest.numTotalTests === 0) failed += 1;
} else {
  console.log('ci-summary: no vitest report (the unit tier did not run)');
  failed += 1;
}

const pw = read('test-results/playwright.json');
if (pw) {
  passed += pw.stats.expected + pw.stats.flaky;
  failed += pw.stats.unexpected + (pw.errors?.length ?? 0);
  skipped += pw.stats.skipped;
  if (pw.stats.expected + pw.stats.unexpected + pw.stats.flaky === 0) failed += 1;
} else {
  console.log('ci-summary: no Playwright report (the browser tier did not run)');
  failed += 1;
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
