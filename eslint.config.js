// Lint: typescript-eslint's recommended rules, plus the import direction shared/DESIGN.md draws:
// app → recipes → client → protocol ← engine → model/lora/losses/optim/sampling/io/storage/runtime.
// src/client and src/protocol never load TF.js; src/protocol holds types only. src/server (Node,
// `loops-web serve`) sits on top: it may use the engine and the client's checks; nothing uses it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const engineSide = [
  'engine',
  'model',
  'lora',
  'losses',
  'optim',
  'sampling',
  'io',
  'storage',
  'runtime',
];
const zone = (target, from, message) => ({
  target: `./src/${target}`,
  from: from.map((f) => `./src/${f}`),
  message,
});

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'dist-lib', 'test-results', 'playwright-report', 'public'] },
  js.configs.recommended,
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: globals.node } },
  // The embedding example's page script runs in a browser.
  { files: ['examples/embed.js'], languageOptions: { globals: globals.browser } },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            zone(
              'client',
              ['app', 'server', ...engineSide],
              'the client talks to the engine only through src/protocol',
            ),
            zone(
              'protocol',
              [
                'app',
                'client',
                'engine',
                'model',
                'lora',
                'losses',
                'optim',
                'sampling',
                'io',
                'storage',
                'server',
              ],
              'src/protocol is types only',
            ),
            ...engineSide.map((dir) =>
              zone(dir, ['app', 'client', 'server'], 'the engine side never imports the page side'),
            ),
            zone('server', ['app'], 'the server does not import the lab'),
            zone('model', ['engine'], 'models do not know the engine'),
            zone('lora', ['engine'], 'adapters do not know the engine'),
            zone('runtime', ['engine', 'model', 'lora'], 'runtime is below the model'),
            zone(
              'recipes',
              ['app', ...engineSide],
              'recipes are flat loops over the public client (src/index), shared by examples/ and the app',
            ),
            zone(
              'errors',
              ['app', 'client', 'protocol', 'server', ...engineSide],
              'errors are a leaf module',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/client/**', 'src/protocol/**', 'src/app/**', 'src/recipes/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@tensorflow/*'],
              message: 'TF.js lives in the engine worker, not on the page side.',
            },
          ],
        },
      ],
    },
  },
  {
    // The custom loss runs the user's TF.js code on the page; it imports TF.js lazily.
    files: ['src/client/custom-loss.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/protocol/**'],
    rules: { '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }] },
  },
);
