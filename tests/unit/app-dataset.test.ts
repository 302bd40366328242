// The lab's data path: JSONL/plain text → examples (bad lines reported by number) → tokens with
// supervised flags, on the project's own BPE tokenizer (public/models/_tokenizer), whose chat
// template is ChatML: "<|im_start|>{role}\n{content}<|im_end|>\n" per message.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/index';
import { parseDataset, promptOf } from '../../src/app/dataset-parse';
import {
  chatPromptTokens,
  exampleToSequence,
  hasChatTemplate,
  sequenceStats,
} from '../../src/app/dataset-tokens';

const DIR = join(import.meta.dirname, '../../public/models/_tokenizer');
const json = JSON.parse(readFileSync(join(DIR, 'tokenizer.json'), 'utf8'));
const config = JSON.parse(readFileSync(join(DIR, 'tokenizer_config.json'), 'utf8'));
const tok = Tokenizer.fromJson(json, config);
const { chat_template: _drop, ...configWithoutTemplate } = config;
const plainTok = Tokenizer.fromJson(json, configWithoutTemplate);

const chatLine = JSON.stringify({
  messages: [
    { role: 'user', content: 'What is chapter 70 of Moby-Dick called?' },
    { role: 'assistant', content: 'Chapter 70 is titled: The Sphynx.' },
  ],
});

describe('parseDataset', () => {
  it('reads the three shapes and reports each bad line by number', () => {
    const text = [
      chatLine, // 1
      '{"prompt": "Call me", "completion": " Ishmael."}', // 2
      '', // 3: blank, ignored
      'It was the best of times.', // 4: plain text
      '{"prompt": "no completion"}', // 5: bad
      '{not json', // 6: bad
      '{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "?"}]}', // 7: bad
      '{"text": "A text object."}', // 8
      '{"foo": 1}', // 9: bad
    ].join('\n');
    const parsed = parseDataset(text);
    expect(parsed.examples.map((e) => e.kind)).toEqual(['chat', 'completion', 'text', 'text']);
    expect(parsed.lines).toEqual([1, 2, 4, 8]);
    expect(parsed.issues.map((i) => i.line)).toEqual([5, 6, 7, 9]);
    expect(parsed.issues[0]?.message).toMatch(/no "completion"/);
    expect(parsed.issues[1]?.message).toMatch(/not valid JSON/);
    expect(parsed.issues[2]?.message).toMatch(/last message must be the assistant/);
    expect(parsed.format).toBe('mixed');
  });

  it('names the format of a uniform set, and handles CRLF and an empty text', () => {
    expect(parseDataset(`${chatLine}\r\n${chatLine}\r\n`).format).toBe('chat');
    expect(parseDataset('\n  \n').format).toBe('empty');
    const chat = parseDataset(chatLine).examples[0]!;
    expect(promptOf(chat)).toBe('What is chapter 70 of Moby-Dick called?');
  });

  it('reads the shipped demo set without a single bad line', () => {
    const text = readFileSync(
      join(import.meta.dirname, '../../public/datasets/whaling-chat.train.jsonl'),
      'utf8',
    );
    const parsed = parseDataset(text);
    // public/datasets/README.md: 472 training lines, all chat.
    expect(parsed.examples).toHaveLength(472);
    expect(parsed.issues).toEqual([]);
    expect(parsed.format).toBe('chat');
  });
});

describe('exampleToSequence', () => {
  it('masks the chat prompt and supervises the reply through <|im_end|>', () => {
    const example = parseDataset(chatLine).examples[0]!;
    const seq = exampleToSequence(tok, example, 256);
    const supervised = seq.tokens.filter((_, i) => seq.supervised[i]);
    const prompt = seq.tokens.filter((_, i) => !seq.supervised[i]);
    // Template: prompt = "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n".
    expect(tok.decode(prompt)).toBe(
      '<|im_start|>user\nWhat is chapter 70 of Moby-Dick called?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok.decode(supervised)).toBe('Chapter 70 is titled: The Sphynx.<|im_end|>');
    // Supervised tokens are one block at the end.
    const first = seq.supervised.indexOf(true);
    expect(seq.supervised.slice(first).every(Boolean)).toBe(true);
    expect(seq.truncated).toBe(false);
  });

  it('supervises completion + EOS, and every text token after the first', () => {
    const [completion, text] = parseDataset(
      '{"prompt": "Call me", "completion": " Ishmael."}\nSome years ago.',
    ).examples;
    const c = exampleToSequence(tok, completion!, 64);
    expect(tok.decode(c.tokens.filter((_, i) => c.supervised[i]))).toBe(' Ishmael.<|endoftext|>');
    expect(tok.decode(c.tokens.filter((_, i) => !c.supervised[i]))).toBe('Call me');
    const t = exampleToSequence(tok, text!, 64);
    expect(t.supervised[0]).toBe(false);
    expect(t.supervised.slice(1).every(Boolean)).toBe(true);
    expect(tok.decode(t.tokens)).toBe('Some years ago.<|endoftext|>');
  });

  it('cuts to maxLength + 1 tokens and says so', () => {
    const example = parseDataset(chatLine).examples[0]!;
    const full = exampleToSequence(tok, example, 1000);
    const cut = exampleToSequence(tok, example, 8);
    expect(cut.tokens).toEqual(full.tokens.slice(0, 9));
    expect(cut.truncated).toBe(true);
    expect(sequenceStats([full, cut]).truncated).toBe(1);
    expect(sequenceStats([full]).supervised).toBe(full.supervised.filter(Boolean).length);
  });

  it('falls back to "User:/Assistant:" text without a chat template', () => {
    expect(hasChatTemplate(tok)).toBe(true);
    expect(hasChatTemplate(plainTok)).toBe(false);
    const example = parseDataset(chatLine).examples[0]!;
    const seq = exampleToSequence(plainTok, example, 256);
    expect(plainTok.decode(seq.tokens.filter((_, i) => !seq.supervised[i]))).toBe(
      'User: What is chapter 70 of Moby-Dick called?\nAssistant:',
    );
    expect(plainTok.decode(seq.tokens.filter((_, i) => seq.supervised[i]))).toBe(
      ' Chapter 70 is titled: The Sphynx.<|endoftext|>',
    );
    expect(plainTok.decode(chatPromptTokens(plainTok, 'Hi?'))).toBe('User: Hi?\nAssistant:');
    expect(tok.decode(chatPromptTokens(tok, 'Hi?'))).toBe(
      '<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n',
    );
  });
});
