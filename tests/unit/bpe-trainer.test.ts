// The byte-level BPE trainer and the Hugging Face files it writes (scripts/pretrain): merges derived
// by hand, the incremental trainer against a from-scratch recount, and the written tokenizer loaded
// by TextTokenizer (@huggingface/tokenizers) against an independent reference encoder.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import { TextTokenizer } from '../../src/core/tokenizer';
import { preTokenize, toByteLevel } from '../../scripts/pretrain/byte-level';
import { countWords, trainBpe } from '../../scripts/pretrain/bpe-trainer';
import type { BpeModel } from '../../scripts/pretrain/bpe-trainer';
import { buildTokenizer } from '../../scripts/pretrain/build-tokenizer';
import { loadSource } from '../../scripts/pretrain/corpus';
import type { Corpus } from '../../scripts/pretrain/corpus';
import { CHATML_TEMPLATE, buildTokenizerFiles } from '../../scripts/pretrain/write-tokenizer';
import { referenceBpeEncode } from '../reference/bpe-encode';

const mergesOf = (model: BpeModel): string[] => model.merges.map(([a, b]) => `${a} ${b}`);

describe('trainBpe on hand-made text', () => {
  it('learns the merges derived by hand, ties broken by token strings', () => {
    // Words: "low", "Ġlower", "Ġlowest", "Ġlow" (Ġ = space), once each. Pair counts:
    // l·o 4, o·w 4, Ġ·l 3, w·e 2, e·r 1, e·s 1, s·t 1. l·o and o·w tie at 4; "l" < "o" → l·o.
    // Then lo·w 4 → "low"; Ġ·low 3 → "Ġlow"; Ġlow·e 2 → "Ġlowe". Left: Ġlowe·r, Ġlowe·s, s·t, all 1;
    // "s" (U+0073) sorts before "Ġ" (U+0120) → s·t; then Ġlowe·r before Ġlowe·st ("r" < "st").
    const { model } = trainBpe(['low lower lowest low'], { vocabSize: 300, minPairCount: 1 });
    expect(mergesOf(model)).toEqual([
      'l o',
      'lo w',
      'Ġ low',
      'Ġlow e',
      's t',
      'Ġlowe r',
      'Ġlowe st',
    ]);
    // Ids: 3 specials, 256 bytes (id 3 + byte; space 0x20 → 35 spelled Ġ), then merges from 259.
    expect(model.vocab.slice(0, 3)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
    expect(model.vocab[3 + 0x20]).toBe('Ġ');
    expect(model.vocab[3 + 0x6c]).toBe('l');
    expect(model.vocab.slice(259)).toEqual([
      'lo',
      'low',
      'Ġlow',
      'Ġlowe',
      'st',
      'Ġlower',
      'Ġlowest',
    ]);
  });

  it('stops at pairs seen fewer than minPairCount times, and at vocabSize', () => {
    // With the default minPairCount 2 the count-1 merges above are not learned.
    const twice = trainBpe(['low lower lowest low'], { vocabSize: 300 });
    expect(mergesOf(twice.model)).toEqual(['l o', 'lo w', 'Ġ low', 'Ġlow e']);
    expect(twice.stats.lastMergeCount).toBe(2);
    const capped = trainBpe(['low lower lowest low'], { vocabSize: 261, minPairCount: 1 });
    expect(capped.model.vocab.length).toBe(261);
    expect(mergesOf(capped.model)).toEqual(['l o', 'lo w']);
  });

  it('merges non-overlapping pairs left to right', () => {
    // "aaaaa": a·a occurs 4 times (overlapping) → "aa aa a"; then aa·aa 1 and aa·a 1 tie, and
    // "a" < "aa" picks aa·a → "aa aaa"; last aa·aaa.
    const { model } = trainBpe(['aaaaa'], { vocabSize: 300, minPairCount: 1 });
    expect(mergesOf(model)).toEqual(['a a', 'aa a', 'aa aaa']);
  });

  it('rejects a vocabulary too small for the specials and bytes', () => {
    expect(() => trainBpe(['x'], { vocabSize: 100 })).toThrow(ValidationError);
    expect(() => trainBpe(['x'], { vocabSize: 100 })).toThrow(/vocabSize 100.*from 259/);
  });
});

describe('trainBpe on a slice of Moby-Dick', () => {
  let texts: string[];
  let model: BpeModel;
  beforeAll(() => {
    // Chapters 1-5 (documents 2-6 of the source, none held out): about 60 KB.
    texts = loadSource('moby-dick')
      .slice(2, 7)
      .map((d) => d.text);
    model = trainBpe(texts, { vocabSize: 800 }).model;
  });

  it('learns the same merges as a from-scratch recount after every merge', () => {
    const expected = bruteForceMerges(countWords(texts.slice(0, 2)), 150);
    const { model: small } = trainBpe(texts.slice(0, 2), { vocabSize: 259 + 150 });
    expect(mergesOf(small)).toEqual(expected);
  });

  it('spells every token once and builds each merge from tokens in the vocabulary', () => {
    expect(model.vocab.length).toBe(800);
    expect(new Set(model.vocab).size).toBe(800);
    const known = new Set(model.vocab);
    for (const [a, b] of model.merges) {
      expect(known.has(a) && known.has(b) && known.has(a + b), `${a} ${b}`).toBe(true);
    }
  });

  describe('written as tokenizer.json + tokenizer_config.json and loaded by TextTokenizer', () => {
    let files: ReturnType<typeof buildTokenizerFiles>;
    let tokenizer: TextTokenizer;
    beforeAll(() => {
      files = buildTokenizerFiles(model, { modelMaxLength: 256 });
      tokenizer = TextTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig);
    });

    const samples = [
      'Call me Ishmael. Some years ago—never mind how long precisely.',
      "It's 1851: don't panic! 3.14159 * 12345 whales'll sound",
      '  leading spaces,\ttabs and\nnew lines\n\n\nend  ',
      'naïve café — Ŝpëcîål çhåråctërs, 東京, Ελληνικά',
      'emoji 🤗🐋 and a family 👨‍👩‍👧 ok',
    ];

    it('has the Hugging Face structure: string merges, specials 0-2, ByteLevel pipeline', () => {
      const json = files.tokenizerJson as { model: Record<string, unknown>; added_tokens: unknown };
      expect(json.model['type']).toBe('BPE');
      expect(json.model['merges']).toEqual(mergesOf(model));
      expect(Object.keys(json.model['vocab'] as object).length).toBe(800);
      expect(json.added_tokens).toEqual(
        ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((content, id) =>
          expect.objectContaining({ id, content, special: true, normalized: false }),
        ),
      );
      expect(files.tokenizerJson['pre_tokenizer']).toEqual({
        type: 'ByteLevel',
        add_prefix_space: false,
        trim_offsets: true,
        use_regex: true,
      });
      expect(tokenizer.vocabSize).toBe(800);
      expect(files.tokenizerConfig['model_max_length']).toBe(256);
    });

    it('encodes to the same ids as the reference encoder', () => {
      const heldout = loadSource('moby-dick')[9]?.text.slice(0, 4000) ?? ''; // chapter 8, unseen
      for (const text of [heldout, ...samples]) {
        expect(tokenizer.encode(text), text.slice(0, 40)).toEqual(
          referenceBpeEncode(text, files.tokenizerJson),
        );
      }
      // Learned merges are used: the held-out chapter takes fewer tokens than bytes.
      expect(tokenizer.encode(heldout).length).toBeLessThan(Buffer.byteLength(heldout) / 2);
    });

    it('round-trips ASCII, punctuation, newlines, unicode and emoji exactly', () => {
      for (const text of samples) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    });

    it('encodes each special token as one id, with no BOS or EOS added', () => {
      const text = '<|im_start|>user\nhi<|im_end|><|endoftext|>';
      const ids = tokenizer.encode(text);
      expect(ids[0]).toBe(1);
      expect(ids.slice(-2)).toEqual([2, 0]);
      expect(ids).toEqual(referenceBpeEncode(text, files.tokenizerJson));
      expect(tokenizer.decode(ids)).toBe(text);
      expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe('user\nhi');
      expect([tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId]).toEqual([0, 0, 0]);
      expect(tokenizer.encode('hi')).toEqual(referenceBpeEncode('hi', files.tokenizerJson));
    });

    it('renders the ChatML chat template', () => {
      const messages = [
        { role: 'system', content: 'You answer about whales.' },
        { role: 'user', content: 'What is a sperm whale?' },
      ];
      expect(files.tokenizerConfig['chat_template']).toBe(CHATML_TEMPLATE);
      expect(tokenizer.apply_chat_template(messages, { add_generation_prompt: true })).toBe(
        '<|im_start|>system\nYou answer about whales.<|im_end|>\n' +
          '<|im_start|>user\nWhat is a sperm whale?<|im_end|>\n<|im_start|>assistant\n',
      );
      const ids = tokenizer.apply_chat_template(messages, { tokenize: true });
      expect(ids.filter((id) => id === 1).length).toBe(2);
      expect(ids.filter((id) => id === 2).length).toBe(2);
    });
  });
});

describe('buildTokenizer', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('writes byte-identical files on two runs over the same text', () => {
    const docs = loadSource('moby-dick').map((d) => d.text);
    const corpus: Corpus = {
      train: docs.slice(2, 5),
      heldout: [docs[9] ?? ''],
      stats: {} as Corpus['stats'],
    };
    const hashes = [0, 1].map(() => {
      const outDir = mkdtempSync(join(tmpdir(), 'bpe-'));
      dirs.push(outDir);
      const report = buildTokenizer({ vocabSize: 600, outDir, corpus });
      expect(report.vocabSize).toBe(600);
      expect(report.bytesPerToken.heldout).toBeGreaterThan(2);
      const hash = createHash('sha256');
      for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
        hash.update(readFileSync(join(outDir, name)));
      }
      return hash.digest('hex');
    });
    expect(hashes[1]).toBe(hashes[0]);
  });

  it('writes a tokenizer.json that loads back, with the vocab listed in id order', () => {
    const outDir = mkdtempSync(join(tmpdir(), 'bpe-'));
    dirs.push(outDir);
    // "$'" and "$&" would be replacement patterns in String.replace: they must survive as tokens.
    const text = "Pay $'5 and $& or $$ now. ".repeat(30) + loadSource('moby-dick')[2]?.text;
    const corpus: Corpus = { train: [text], heldout: [], stats: {} as Corpus['stats'] };
    buildTokenizer({ vocabSize: 400, outDir, corpus });
    const written = readFileSync(join(outDir, 'tokenizer.json'), 'utf8');
    const json = JSON.parse(written) as { model: { vocab: Record<string, number> } };
    const config: unknown = JSON.parse(readFileSync(join(outDir, 'tokenizer_config.json'), 'utf8'));
    const { model: trained } = trainBpe([text], { vocabSize: 400 });
    expect(json).toEqual(buildTokenizerFiles(trained).tokenizerJson);
    expect([json.model.vocab["Ġ$'"], json.model.vocab['Ġ$&']]).toEqual([
      expect.any(Number),
      expect.any(Number),
    ]);
    // The vocab lines ("token": id at six spaces) appear in the file as ids 0, 1, 2, …, 399.
    const vocabText = written.slice(written.indexOf('"vocab": {'), written.indexOf('"merges": ['));
    const ids = [...vocabText.matchAll(/^ {6}"(?:[^"\\]|\\.)*": (\d+),?$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(ids).toEqual(Array.from({ length: 400 }, (_, i) => i));
    const tokenizer = TextTokenizer.fromJson(json, config);
    expect(tokenizer.encode(text)).toEqual(referenceBpeEncode(text, json));
  });
});

/**
 * Independent, slow trainer: recounts every pair of every word after each merge, and merges a
 * word by scanning it; the same tie rule (count, then left string, then right string).
 */
function bruteForceMerges(wordCounts: Map<string, number>, steps: number): string[] {
  const words = [...wordCounts].map(([w, n]) => ({ symbols: [...toByteLevel(w)], n }));
  const merges: string[] = [];
  for (let step = 0; step < steps; step++) {
    const counts = new Map<string, { a: string; b: string; n: number }>();
    for (const { symbols, n } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const [a, b] = [symbols[i] as string, symbols[i + 1] as string];
        const entry = counts.get(`${a} ${b}`) ?? { a, b, n: 0 };
        entry.n += n;
        counts.set(`${a} ${b}`, entry);
      }
    }
    let best: { a: string; b: string; n: number } | undefined;
    for (const c of counts.values()) {
      const wins =
        best === undefined ||
        c.n > best.n ||
        (c.n === best.n && (c.a < best.a || (c.a === best.a && c.b < best.b)));
      if (wins) best = c;
    }
    if (best === undefined || best.n < 2) break;
    merges.push(`${best.a} ${best.b}`);
    for (const word of words) {
      const out: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === best.a && word.symbols[i + 1] === best.b) {
          out.push(best.a + best.b);
          i++;
        } else out.push(word.symbols[i] as string);
      }
      word.symbols = out;
    }
  }
  return merges;
}

// The trainer's word cut is the regex the shipped pre-tokenizer applies.
it('pre-tokenizes like GPT-2: contractions, spaced words, digits, whitespace runs', () => {
  expect(preTokenize("He's  got 42 whales!\n\nOK")).toEqual([
    'He',
    "'s",
    ' ',
    ' got',
    ' 42',
    ' whales',
    '!',
    '\n', // a whitespace run before a word leaves its last character to stand alone
    '\n',
    'OK',
  ]);
});
