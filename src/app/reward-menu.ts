/**
 * Rewards without code: a menu of terms a student composes, each scored in [0, 1] on the decoded
 * completion (special tokens removed) and weighted; the reward is r = Σ_i w_i · s_i.
 *   contains    1 when the word appears, in any case ("whale" counts in "Whales" and "whaleboat")
 *   regex       1 when the pattern matches somewhere (JavaScript syntax, case-insensitive)
 *   length      1 when the number of words (runs of non-space) is within [min, max]
 *   ends        1 when the trimmed text's last character is one of the marks (default ".")
 *   no-repeat   the share of distinct word pairs among all adjacent pairs (lower-cased): 1 for text
 *               that never repeats a pair, towards 0 for "the whale the whale the whale…"; 1 below
 *               two words
 * The default menu, ½·contains "whale" + ½·ends ".", is the reward of examples/lib/reward.ts, so
 * the lab's default RL run is the example's. Building a menu checks it (a bad pattern, an empty
 * word, a negative range) and throws an Error that names the term and the fix.
 */

export type RewardTerm =
  | { readonly kind: 'contains'; readonly word: string; readonly weight: number }
  | { readonly kind: 'regex'; readonly pattern: string; readonly weight: number }
  | { readonly kind: 'length'; readonly min: number; readonly max: number; readonly weight: number }
  | { readonly kind: 'ends'; readonly marks: string; readonly weight: number }
  | { readonly kind: 'no-repeat'; readonly weight: number };

export type TermKind = RewardTerm['kind'];

export const TERM_LABELS: Readonly<Record<TermKind, string>> = Object.freeze({
  contains: 'contains the word',
  regex: 'matches the regular expression',
  length: 'length in words within',
  ends: 'ends with one of',
  'no-repeat': 'does not repeat itself',
});

export const DEFAULT_MENU: readonly RewardTerm[] = Object.freeze([
  { kind: 'contains', word: 'whale', weight: 0.5 },
  { kind: 'ends', marks: '.', weight: 0.5 },
]);

/** A term with the defaults of its kind (for "Add a term"). */
export function newTerm(kind: TermKind): RewardTerm {
  switch (kind) {
    case 'contains':
      return { kind, word: 'whale', weight: 1 };
    case 'regex':
      return { kind, pattern: '\\bsea\\b', weight: 1 };
    case 'length':
      return { kind, min: 4, max: 12, weight: 1 };
    case 'ends':
      return { kind, marks: '.', weight: 1 };
    case 'no-repeat':
      return { kind, weight: 1 };
  }
}

function words(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

/** Distinct adjacent word pairs over all adjacent pairs (1 below two words). */
export function distinctPairShare(text: string): number {
  const w = words(text.toLowerCase());
  if (w.length < 2) return 1;
  const pairs = w.slice(1).map((word, i) => `${w[i]} ${word}`);
  return new Set(pairs).size / pairs.length;
}

/** The scorer of one term, in [0, 1]; throws when the term itself is unusable. */
function scorer(term: RewardTerm, index: number): (text: string) => number {
  const where = `Reward term ${index + 1} (${TERM_LABELS[term.kind]})`;
  switch (term.kind) {
    case 'contains': {
      const word = term.word.trim().toLowerCase();
      if (!word) throw new Error(`${where}: write the word to look for.`);
      return (text) => Number(text.toLowerCase().includes(word));
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(term.pattern, 'i');
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}; fix the pattern.`, {
          cause: error,
        });
      }
      return (text) => Number(re.test(text));
    }
    case 'length': {
      const { min, max } = term;
      if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= min))
        throw new Error(
          `${where}: the range must be whole numbers 0 ≤ min ≤ max, got ${min}–${max}.`,
        );
      return (text) => {
        const n = words(text).length;
        return Number(n >= min && n <= max);
      };
    }
    case 'ends': {
      const marks = [...term.marks.replace(/\s/g, '')];
      if (marks.length === 0) throw new Error(`${where}: give at least one mark, such as ".".`);
      return (text) => {
        const last = [...text.trim()].pop();
        return Number(last !== undefined && marks.includes(last));
      };
    }
    case 'no-repeat':
      return distinctPairShare;
  }
}

/** The menu's reward of a completion, r = Σ w_i · s_i; throws (naming the term) when unusable. */
export function menuReward(terms: readonly RewardTerm[]): (completion: string) => number {
  if (terms.length === 0) throw new Error('The reward menu is empty; add at least one term.');
  const parts = terms.map((term, i) => {
    if (!Number.isFinite(term.weight))
      throw new Error(`Reward term ${i + 1}: the weight must be a number, got ${term.weight}.`);
    return { weight: term.weight, score: scorer(term, i) };
  });
  return (completion) => parts.reduce((r, p) => r + p.weight * p.score(completion), 0);
}

/** "½ × contains “whale” + ½ × ends with “.”", for tables and the saved run. */
export function describeMenu(terms: readonly RewardTerm[]): string {
  return terms
    .map((t) => {
      const detail =
        t.kind === 'contains'
          ? ` “${t.word}”`
          : t.kind === 'regex'
            ? ` /${t.pattern}/i`
            : t.kind === 'length'
              ? ` ${t.min}–${t.max}`
              : t.kind === 'ends'
                ? ` “${t.marks}”`
                : '';
      return `${t.weight} × ${TERM_LABELS[t.kind]}${detail}`;
    })
    .join(' + ');
}
