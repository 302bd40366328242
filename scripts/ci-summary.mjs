// Reads the vitest and Playwright JSON reports and prints "N passed, N failed" (the line CI reads),
// after one line per tier saying what its count is made of. Failures that no test carries still
// count, one each, so the last line never reads "0 failed" for a run that failed:
// - a tier whose report is missing did not run (an earlier step of `npm test` failed);
// - a test file that failed outside its tests (an import that throws, a failing beforeAll);
// - `npm test` failing (exit status given as the first argument, as .ci/run does) with every
//   counted test passing: typecheck, lint, format, or an error vitest reports outside any test.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

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
  // A file that failed with no failing test in it (vitest counts it as a failed suite only).
  const broken = vitest.testResults.filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed'),
  );
  for (const file of broken)
    console.log(
      `ci-summary: ${relative('.', file.name)} failed outside its tests: ${file.message}`,
    );
  failed += broken.length;
  if (vitest.numTotalTests === 0) failed += 1;
  console.log(
    `ci-summary: vitest ${vitest.numPassedTests} passed, ${vitest.numFailedTests} failed` +
      (broken.length ? `, ${broken.length} file(s) failed outside their tests` : ''),
  );
} else {
  console.log('ci-summary: vitest did not run (an earlier step failed); counted as 1 failure');
  failed += 1;
}

const pw = read('test-results/playwright.json');
if (pw) {
  const errors = pw.errors?.length ?? 0;
  passed += pw.stats.expected + pw.stats.flaky;
  failed += pw.stats.unexpected + errors;
  skipped += pw.stats.skipped;
  if (pw.stats.expected + pw.stats.unexpected + pw.stats.flaky === 0) failed += 1;
  console.log(
    `ci-summary: Playwright ${pw.stats.expected + pw.stats.flaky} passed` +
      ` (${pw.stats.flaky} flaky), ${pw.stats.unexpected} failed` +
      (errors ? `, ${errors} error(s) outside tests` : ''),
  );
} else {
  console.log('ci-summary: Playwright did not run (an earlier step failed); counted as 1 failure');
  failed += 1;
}

const status = Number(process.argv[2] ?? 0);
if (status !== 0 && failed === 0) {
  console.log(
    `ci-summary: npm test exited with ${status} though every counted test passed ` +
      '(typecheck, lint, format, or an error outside any test: see above); counted as 1 failure',
  );
  failed += 1;
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
