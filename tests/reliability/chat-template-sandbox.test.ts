// Nothing from a file is executed: a chat template from a model's tokenizer_config.json runs in
// @huggingface/jinja's interpreter, which reaches only the values the render context hands it.
// Templates that try to reach constructors (Function via ''.constructor.constructor, Python-style
// SSTI through __globals__ / __subclasses__, prototype pollution) must fail with a typed error or
// render harmless text, and must leave no trace: no global set, Object.prototype and
// Function.prototype unchanged. The first goes through the public path (a model folder whose
// tokenizer_config.json carries it); the rest through the same parser with the same files.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopsError, ServiceClient, Tokenizer, type SamplingClient } from '../../src/index';
import { FIXTURE_CONFIG, writeFixtureModelTo } from '../helpers/fixture-model-dir';
import { registerReliabilityPlacements } from './helpers/placements';

const ESCAPES = [
  "{{ ''.constructor.constructor('globalThis.pwned = 1')() }}",
  "{{ messages.constructor.constructor('globalThis.pwned = 1')() }}",
  "{{ messages['constructor']['constructor']('globalThis.pwned = 1')() }}",
  "{{ messages[0].content.constructor.constructor('globalThis.pwned = 1')() }}",
  "{{ range.constructor('globalThis.pwned = 1')() }}",
  "{{ raise_exception.constructor('globalThis.pwned = 1')() }}",
  "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
  "{{ self.__init__.__globals__.__builtins__.__import__('os').system('id') }}",
  "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
  "{{ messages|attr('constructor') }}",
  '{% set ns = namespace(a=1) %}{% set ns.__proto__ = 7 %}{{ ns.a }}',
  '{{ messages.__proto__.polluted }}{{ (1).constructor }}{{ messages.toString() }}',
  "{{ bos_token.constructor.prototype.constructor('globalThis.pwned = 1')() }}",
  "{% macro m() %}{{ caller }}{% endmacro %}{{ m.constructor('globalThis.pwned = 1')() }}",
];

const MODEL = 'hostile-template';
const messages = [{ role: 'user', content: 'hi' }];
const outcomes: string[] = [];

function snapshot(): string {
  return JSON.stringify([
    Object.getOwnPropertyNames(Object.prototype).sort(),
    Object.getOwnPropertyNames(Function.prototype).sort(),
    Object.getOwnPropertyNames(Array.prototype).sort(),
    Object.keys(globalThis).sort(),
  ]);
}

/** Renders `run`; the outcome must be a typed error or text, with no side effect. */
function expectHarmless(template: string, run: () => unknown): void {
  const before = snapshot();
  let outcome: string;
  try {
    outcome = `rendered ${JSON.stringify(run())}`;
  } catch (error) {
    expect(error, template).toBeInstanceOf(LoopsError);
    outcome = `${(error as LoopsError).error_class}`;
  }
  expect((globalThis as { pwned?: unknown }).pwned, template).toBeUndefined();
  expect(({} as { polluted?: unknown }).polluted, template).toBeUndefined();
  expect(snapshot(), template).toBe(before);
  outcomes.push(`${template.slice(0, 60)} → ${outcome.slice(0, 60)}`);
}

describe('chat templates from files run sandboxed', () => {
  let service: ServiceClient;
  let sc: SamplingClient;

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'loops-template-'));
    const dir = join(root, MODEL);
    writeFixtureModelTo(dir);
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as object;
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ ...config, chat_template: ESCAPES[0] }),
    );
    const max = FIXTURE_CONFIG.max_position_embeddings;
    writeFileSync(
      join(root, 'models.json'),
      JSON.stringify({ models: [{ name: MODEL, max_context_length: max }] }),
    );
    registerReliabilityPlacements(root);
    service = new ServiceClient({
      engine: 'rel-channel',
      backend: 'cpu',
      storage_namespace: 'tpl',
    });
    sc = await service.create_sampling_client(MODEL);
  });
  afterAll(() => service.close());

  it('through a model folder: get_tokenizer().apply_chat_template', async () => {
    const tok = await sc.get_tokenizer();
    expectHarmless(ESCAPES[0]!, () => tok.apply_chat_template(messages));
  });

  it.each(ESCAPES.slice(1))('%s', (template) => {
    const files = sc.info.tokenizer;
    const config = { ...(files.tokenizerConfig as object), chat_template: template };
    expectHarmless(template, () =>
      Tokenizer.fromJson(files.tokenizerJson, config).apply_chat_template(messages, {
        add_generation_prompt: true,
      }),
    );
  });
});

afterAll(() => {
  console.log(`[reliability] chat-template escapes: ${outcomes.length} tried, 0 executed`);
  for (const o of outcomes) console.log(`[reliability]   ${o}`);
});
