// After `tsc -p tsconfig.lib.json`: the declarations keep the sources' extensionless relative
// imports ('./client/service-client'), which TypeScript resolves under "moduleResolution": "bundler"
// but not under "node16"/"nodenext" (what Node projects use), where an ES module's relative
// imports need their file: every exported type would be missing there. This rewrites each relative
// specifier in dist-lib/types/**/*.d.ts to the file it means ('./x.js' for x.d.ts, './x/index.js'
// for a folder), which every resolution mode accepts.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = process.argv[2] ?? 'dist-lib/types';
const SPECIFIER = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\2/g;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.d.ts') ? [path] : [];
  });
}

function resolved(fromFile, specifier) {
  if (/\.(js|mjs|cjs|json)$/.test(specifier)) return specifier;
  const base = join(dirname(fromFile), specifier);
  if (existsSync(`${base}.d.ts`)) return `${specifier}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${specifier.replace(/\/$/, '')}/index.js`;
  throw new Error(`${fromFile}: cannot resolve ${specifier}`);
}

let changed = 0;
for (const file of files(root)) {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(
    SPECIFIER,
    (_, lead, quote, spec) => `${lead}${quote}${resolved(file, spec)}${quote}`,
  );
  if (next !== text) {
    writeFileSync(file, next);
    changed++;
  }
}
console.log(`dts-extensions: rewrote relative imports in ${changed} declaration files`);
