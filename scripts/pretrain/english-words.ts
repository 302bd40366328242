/**
 * The "are these English words" measure of issue 4: the share of words of 3+ letters in a text that
 * appear in `an-array-of-english-words` (~275,000 lowercase words, MIT; a devDependency).
 *
 * Words: the text is lowercased; every run of letters a–z (with inner apostrophes) is a candidate;
 * a possessive "'s" and other apostrophes are dropped ("whale's" → "whale"; "don't" → "dont",
 * which the list does not hold, so contractions count against us, a conservative choice); only
 * candidates of 3+ letters count. Digits and other scripts split words and are never words.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidFileError } from '../../src/errors/loops-errors';

const WORD_LIST = fileURLToPath(
  new URL('../../node_modules/an-array-of-english-words/index.json', import.meta.url),
);

/** The word list as a set (lowercase). */
export function loadEnglishWords(path = WORD_LIST): Set<string> {
  try {
    const list: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!Array.isArray(list)) throw new Error('not a JSON array');
    return new Set(list.filter((w): w is string => typeof w === 'string'));
  } catch (error) {
    throw new InvalidFileError(
      `${path} could not be read as a word list (${(error as Error).message}); install the ` +
        'an-array-of-english-words devDependency (npm ci).',
    );
  }
}

/** The counted words of `text` (see the module comment). */
export function wordsOf(text: string): string[] {
  const candidates = text.toLowerCase().match(/[a-z]+(?:'[a-z]+)*/g) ?? [];
  return candidates.map((w) => w.replace(/'s$/, '').replace(/'/g, '')).filter((w) => w.length >= 3);
}

export interface WordShare {
  readonly words: number;
  readonly english: number;
  /** english / words (0 when there are no words). */
  readonly share: number;
}

export function englishShare(texts: readonly string[], dictionary: ReadonlySet<string>): WordShare {
  let words = 0;
  let english = 0;
  for (const text of texts) {
    for (const w of wordsOf(text)) {
      words += 1;
      if (dictionary.has(w)) english += 1;
    }
  }
  return { words, english, share: words === 0 ? 0 : english / words };
}
