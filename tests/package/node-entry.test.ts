// The package as a Node user meets it: `npm pack` (after `npm run build:lib`, its `prepack`), the
// tarball unpacked into a fresh project's node_modules/loops-web as npm installs it, and a script
// there that imports 'loops-web/node' and trains two steps on the shipped model. Nothing is
// downloaded: the package's dependencies are links to this repository's node_modules (what
// `npm install` would put there from the registry). The project's TypeScript sees the types of
// 'loops-web/node' under both "bundler" and "nodenext" module resolution.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'loops-web-pack-'));
const project = join(work, 'project');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TRAIN = `
import { AdamParams, Datum, ModelInput, ServiceClient } from 'loops-web/node';
const service = new ServiceClient();
const tc = await service.create_lora_training_client('loops-tiny-llama', 4, 1);
const tok = await tc.get_tokenizer();
const ids = tok.encode('Call me Ishmael. Some years ago, never mind how long precisely', {
  add_special_tokens: false,
});
const datum = new Datum({
  model_input: ModelInput.from_ints(ids.slice(0, -1)),
  loss_fn_inputs: { target_tokens: ids.slice(1) },
});
const steps = [];
for (let i = 0; i < 2; i++) {
  const fb = tc.forward_backward([datum], 'cross_entropy');
  const opt = tc.optim_step(new AdamParams({ learning_rate: 1e-2 }));
  steps.push({ loss: (await fb).loss, step: (await opt).metrics.step });
}
console.log('RESULT ' + JSON.stringify({ backend: (await service.backend()).backend, steps }));
await service.close();
`;

const TYPED = `
import { AdamParams, Datum, ModelInput, ServiceClient, type TrainingClient } from 'loops-web/node';
const service: ServiceClient = new ServiceClient({ backend: 'cpu' });
const tc: TrainingClient = await service.create_lora_training_client('loops-tiny-llama', 4);
const datum = new Datum({
  model_input: ModelInput.from_ints([1, 2]),
  loss_fn_inputs: { target_tokens: [2, 3] },
});
const loss: number = (await tc.forward_backward([datum])).loss;
const step: number | undefined = (await tc.optim_step(new AdamParams())).metrics.step;
console.log(loss, step);
`;

/** Unpacks the tarball as npm would and links its dependencies to this repository's copies. */
function install(tarball: string): void {
  const target = join(project, 'node_modules', 'loops-web');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = join(project, 'node_modules', dep);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', dep), link, 'dir');
  }
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'uses-loops-web', private: true, type: 'module' }),
  );
}

function typecheck(resolution: 'bundler' | 'nodenext'): void {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: resolution === 'bundler' ? 'ESNext' : 'NodeNext',
      moduleResolution: resolution,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    },
    files: ['typed.ts'],
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(config));
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', project], {
    encoding: 'utf8',
  });
}

describe('the npm package in a fresh project', () => {
  it('packs, installs, trains two steps in Node through loops-web/node, and types check', () => {
    // `npm pack` runs `prepack` (npm run build:lib) first; run it apart so its output does not
    // mix with the JSON that pack prints.
    execFileSync('npm', ['run', 'build:lib'], { cwd: REPO, stdio: 'ignore' });
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: REPO,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    for (const needed of [
      'dist-lib/index.js',
      'dist-lib/node.js',
      'dist-lib/types/node.d.ts',
      'public/models/models.json',
      'public/models/loops-tiny-llama/model.safetensors',
    ])
      expect(files, needed).toContain(needed);

    install(join(work, packed[0]!.filename));
    writeFileSync(join(project, 'train.mjs'), TRAIN);
    const out = execFileSync(process.execPath, ['train.mjs'], { cwd: project, encoding: 'utf8' });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    const result = JSON.parse(line!.slice('RESULT '.length)) as {
      backend: string;
      steps: { loss: number; step: number }[];
    };
    expect(result.steps.map((s) => s.step)).toEqual([1, 2]);
    // Step 2's forward sees step 1's update of the same datum: the loss falls.
    expect(result.steps[0]!.loss).toBeGreaterThan(0);
    expect(result.steps[1]!.loss).toBeLessThan(result.steps[0]!.loss);

    writeFileSync(join(project, 'typed.ts'), TYPED);
    typecheck('bundler');
    typecheck('nodenext');
  }, 600_000);
});
