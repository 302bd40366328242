/**
 * Writes the demo datasets into public/datasets/ (or the folder given with --out):
 *   node --import tsx scripts/datasets/build.ts [--out <dir>]
 * What each file holds is in the README it writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDatasets } from './datasets';

const outFlag = process.argv.indexOf('--out');
const outDir =
  outFlag >= 0 && process.argv[outFlag + 1]
    ? (process.argv[outFlag + 1] as string)
    : fileURLToPath(new URL('../../public/datasets/', import.meta.url));

mkdirSync(outDir, { recursive: true });
for (const [name, text] of buildDatasets()) {
  writeFileSync(join(outDir, name), text);
  console.log(`${join(outDir, name)}: ${text.split('\n').length - 1} lines`);
}
