/**
 * A byte-level BPE trainer (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
 * Subword Units", §3.1; byte-level variant of Radford et al. 2019, GPT-2 §2.2).
 *
 * Algorithm: cut the text into words with the GPT-2 regex (byte-level.ts) and count each distinct
 * word; spell every word as its UTF-8 bytes; then repeatedly take the adjacent pair (x, y) with the
 * largest count n(x, y) = Σ_words freq(word) · #occurrences of x y in the word, add the token xy,
 * and rewrite every word containing x y, left to right and non-overlapping. Ties in n are broken by
 * the pair's token strings in code-unit order (left token first, then right), so the result is a
 * pure function of the word counts. Pair counts are updated incrementally: a merge touches only the
 * words that contain the pair (an index from pair to words), subtracts those words' old pairs and
 * adds their new ones; a lazy max-heap (pair-queue.ts) yields the next pair.
 *
 * Vocabulary layout (ids are stable): the special tokens first (by default `<|endoftext|>` = 0,
 * `<|im_start|>` = 1, `<|im_end|>` = 2, as in SmolLM2), then the 256 bytes in byte order (id 3 + b,
 * spelled with GPT-2's byte characters), then one token per merge in merge order. Two merges can
 * spell the same string (ab·c and a·bc); the second reuses the first one's id, as Hugging Face's
 * trainer does, so the merge list can be longer than the number of merged tokens. Training stops
 * when the vocabulary reaches `vocabSize` or the best pair occurs fewer than `minPairCount` times.
 * Writing the Hugging Face files is write-tokenizer.ts's job.
 */
import { ValidationError } from '../../src/errors/loops-errors';
import { BYTE_TO_CHAR, preTokenize } from './byte-level';
import { PairQueue } from './pair-queue';

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** Pair keys are left · KEY_BASE + right, small integers for fast Map keys; ids stay below it. */
const KEY_BASE = 1 << 15;

export interface BpeTrainerOptions {
  /** Total vocabulary size: special tokens + 256 bytes + merged tokens (the models use 4096). */
  readonly vocabSize: number;
  /** Added tokens, given the first ids in this order; default SPECIAL_TOKENS. */
  readonly specialTokens?: readonly string[];
  /** Stop once the most frequent pair occurs fewer times than this; default 2. */
  readonly minPairCount?: number;
}

export interface BpeModel {
  /** The token of each id (the index): specials, then bytes by value, then merged tokens. */
  readonly vocab: readonly string[];
  /** Merges in rank order: [left, right] byte-level tokens; left + right is in `vocab`. */
  readonly merges: readonly (readonly [string, string])[];
  readonly specialTokens: readonly string[];
}

export interface BpeTrainingStats {
  /** Words (pre-tokens) in the training text, and distinct ones. */
  readonly words: number;
  readonly uniqueWords: number;
  /** Count of the last pair merged (how frequent the rarest learned token's pair was). */
  readonly lastMergeCount: number;
}

/** Word → number of occurrences over all `texts`, words cut by the GPT-2 regex. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const word of preTokenize(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/** Learns a byte-level BPE from `texts` (see the module comment for the algorithm and layout). */
export function trainBpe(
  texts: Iterable<string>,
  options: BpeTrainerOptions,
): { model: BpeModel; stats: BpeTrainingStats } {
  return trainBpeFromCounts(countWords(texts), options);
}

/** `trainBpe` on a word-count table (for callers that count words themselves). */
export function trainBpeFromCounts(
  wordCounts: ReadonlyMap<string, number>,
  options: BpeTrainerOptions,
): { model: BpeModel; stats: BpeTrainingStats } {
  const specialTokens = [...(options.specialTokens ?? SPECIAL_TOKENS)];
  const minPairCount = options.minPairCount ?? 2;
  checkOptions(options.vocabSize, specialTokens, minPairCount);
  const vocab = [...specialTokens, ...BYTE_TO_CHAR];
  const ids = new Map(vocab.map((token, id) => [token, id]));
  const state = new MergeState(wordCounts, specialTokens.length, vocab);
  const merges: [string, string][] = [];
  let lastMergeCount = 0;
  while (vocab.length < options.vocabSize) {
    const best = state.nextPair();
    if (best === undefined || best.count < minPairCount) break;
    const left = vocab[Math.floor(best.key / KEY_BASE)] as string;
    const right = vocab[best.key % KEY_BASE] as string;
    let merged = ids.get(left + right);
    if (merged === undefined) {
      merged = vocab.length;
      vocab.push(left + right);
      ids.set(left + right, merged);
    }
    merges.push([left, right]);
    state.merge(best.key, merged);
    lastMergeCount = best.count;
  }
  let words = 0;
  for (const n of wordCounts.values()) words += n;
  return {
    model: { vocab, merges, specialTokens },
    stats: { words, uniqueWords: wordCounts.size, lastMergeCount },
  };
}

function checkOptions(vocabSize: number, specials: readonly string[], minPairCount: number): void {
  const base = specials.length + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize > KEY_BASE) {
    throw new ValidationError(
      `trainBpe: vocabSize ${vocabSize} must be an integer from ${base} (specials + 256 bytes) ` +
        `to ${KEY_BASE}.`,
    );
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
    throw new ValidationError(
      `trainBpe: specialTokens ${JSON.stringify(specials)} must be distinct, non-empty strings.`,
    );
  }
  if (!Number.isInteger(minPairCount) || minPairCount < 1) {
    throw new ValidationError(`trainBpe: minPairCount ${minPairCount} must be an integer >= 1.`);
  }
}

/** The words as token-id sequences, the live pair counts, the pair → words index and the heap. */
class MergeState {
  private readonly words: number[][] = [];
  private readonly freqs: number[] = [];
  private readonly pairCounts = new Map<number, number>();
  private readonly where = new Map<number, number[]>();
  private readonly queue: PairQueue;

  constructor(wordCounts: ReadonlyMap<string, number>, byteOffset: number, vocab: string[]) {
    // Ties: the pair whose left token, then right token, sorts first by code units.
    this.queue = new PairQueue((a, b) => {
      const la = vocab[Math.floor(a / KEY_BASE)] as string;
      const lb = vocab[Math.floor(b / KEY_BASE)] as string;
      if (la !== lb) return la < lb;
      return (vocab[a % KEY_BASE] as string) < (vocab[b % KEY_BASE] as string);
    });
    const utf8 = new TextEncoder();
    for (const [word, freq] of wordCounts) {
      const symbols = Array.from(utf8.encode(word), (b) => byteOffset + b);
      if (symbols.length < 2) continue;
      const w = this.words.length;
      this.words.push(symbols);
      this.freqs.push(freq);
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = (symbols[i] as number) * KEY_BASE + (symbols[i + 1] as number);
        this.pairCounts.set(key, (this.pairCounts.get(key) ?? 0) + freq);
        this.index(key, w);
      }
    }
    for (const [key, count] of this.pairCounts) this.queue.push(key, count);
  }

  /** The most frequent live pair, or `undefined` when no word has two symbols left. */
  nextPair(): { key: number; count: number } | undefined {
    for (;;) {
      const entry = this.queue.pop();
      if (entry === undefined) return undefined;
      if (this.pairCounts.get(entry.key) === entry.count) return entry;
    }
  }

  /** Rewrites every word holding pair `key` with token `merged`, updating counts and index. */
  merge(key: number, merged: number): void {
    const left = Math.floor(key / KEY_BASE);
    const right = key % KEY_BASE;
    const delta = new Map<number, number>();
    for (const w of this.where.get(key) ?? []) {
      const old = this.words[w] as number[];
      const next = mergeWord(old, left, right, merged);
      if (next === old) continue; // index entry gone stale: an earlier merge took the pair
      const freq = this.freqs[w] as number;
      addPairs(old, -freq, delta);
      addPairs(next, freq, delta);
      this.words[w] = next;
      for (let i = 0; i + 1 < next.length; i++) {
        const a = next[i] as number;
        const b = next[i + 1] as number;
        if (a === merged || b === merged) this.index(a * KEY_BASE + b, w);
      }
    }
    this.where.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const count = (this.pairCounts.get(k) ?? 0) + d;
      if (count > 0) {
        this.pairCounts.set(k, count);
        this.queue.push(k, count);
      } else {
        this.pairCounts.delete(k);
      }
    }
  }

  private index(key: number, w: number): void {
    const list = this.where.get(key);
    if (list === undefined) this.where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w); // a word's pairs are indexed together
  }
}

/** `symbols` with each non-overlapping left·right (left to right) replaced; the same array if none. */
function mergeWord(symbols: number[], left: number, right: number, merged: number): number[] {
  let out: number[] | undefined;
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i] as number;
    if (s === left && symbols[i + 1] === right) {
      out ??= symbols.slice(0, i);
      out.push(merged);
      i++;
    } else if (out !== undefined) {
      out.push(s);
    }
  }
  return out ?? symbols;
}

function addPairs(symbols: readonly number[], freq: number, delta: Map<number, number>): void {
  for (let i = 0; i + 1 < symbols.length; i++) {
    const key = (symbols[i] as number) * KEY_BASE + (symbols[i + 1] as number);
    delta.set(key, (delta.get(key) ?? 0) + freq);
  }
}
