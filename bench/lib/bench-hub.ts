/**
 * A Hugging Face hub of random-weight models for the browser benchmarks, served by their Vite
 * server on the page's own origin (no CORS, no CSP change): `writeRandomRepo` writes
 * `<root>/<repo>/resolve/main/{config.json, model.safetensors, tokenizer files}` the way the hub
 * lays out a repo, and `hubPlugin` serves `<root>` under a path, so `ServiceClient({ hub_url })`
 * loads the model by its repo id through the engine's real download path.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import os from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import type { FloatDtype } from '../../src/io/dtype';
import { writeSafetensors } from '../../src/io/safetensors-writer';
import { parseModelConfig } from '../../src/model/config';
import type { HfConfigJson } from '../../src/model/known-configs';
import { generateRandomWeights } from '../../src/model/random-weights';

/**
 * The shipped tokenizer. Benchmarks feed token ids, never text, so a model whose vocabulary is
 * larger than this tokenizer's still trains and samples on ids.
 */
const TOKENIZER_DIR = fileURLToPath(new URL('../../public/models/_tokenizer', import.meta.url));

/** A temp folder to hold repos; `removeHub` deletes it. */
export function createHubFolder(): string {
  return mkdtempSync(join(os.tmpdir(), 'loops-bench-hub-'));
}

export function removeHub(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** Writes `repo` (e.g. "bench/smollm2-135m") with seeded random weights stored as `dtype` (F32). */
export function writeRandomRepo(
  root: string,
  repo: string,
  config: HfConfigJson,
  options: { readonly seed?: number; readonly dtype?: FloatDtype } = {},
): void {
  const dir = join(root, repo, 'resolve', 'main');
  mkdirSync(dir, { recursive: true });
  const dtype = options.dtype ?? 'F32';
  const tensors = [...generateRandomWeights(parseModelConfig(config), options.seed ?? 42)];
  writeFileSync(
    join(dir, 'model.safetensors'),
    writeSafetensors(tensors.map((t) => ({ ...t, dtype }))),
  );
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    writeFileSync(join(dir, name), readFileSync(join(TOKENIZER_DIR, name)));
  }
}

/** Serves the files under `root` at `path` on the Vite server (404 outside it or for folders). */
export function hubPlugin(root: string, path: string): Plugin {
  const base = resolve(root);
  const send = (res: ServerResponse, status: number, body?: Buffer, type?: string) => {
    res.statusCode = status;
    res.setHeader('content-length', body?.byteLength ?? 0);
    if (type) res.setHeader('content-type', type);
    res.end(body);
  };
  return {
    name: 'bench-hub',
    configureServer(server) {
      server.middlewares.use(path, (req, res) => {
        const wanted = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
        const file = resolve(base, `.${wanted}`);
        if (!file.startsWith(base + sep)) return send(res, 404);
        try {
          if (!statSync(file).isFile()) return send(res, 404);
        } catch {
          return send(res, 404);
        }
        const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
        send(res, 200, readFileSync(file), type);
      });
    },
  };
}
