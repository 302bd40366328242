/**
 * Decides, token by token, whether one sequence has hit a stop: a token-id stop (the user's ids or
 * the model's EOS), or a stop string appearing in the decoded text of the generated tokens. The
 * decode loop owns one detector per sequence; the tokenizer is injected as `decodeText`.
 *
 * Semantics (shared/LOOPS_API.md, "SampledSequence"; string stops follow vLLM and are not returned):
 * - A token-id stop ends the sequence with that token included. It wins over a stop string the
 *   same token would complete.
 * - The text is decodeText(generated ids), prompt excluded. When it first contains a stop string,
 *   at character j (the earliest start over all stop strings), the sequence keeps the SHORTEST
 *   prefix of its tokens whose text covers text[0, j): no character before the stop is ever lost.
 *   When a stop string starts on a token boundary (the usual case) the kept tokens decode to
 *   exactly text[0, j). When one token carries both the last characters before the stop and the
 *   first characters of the stop (e.g. token "c\n" with stop "\n\n"), that token is kept, so the
 *   kept tokens' text ends with that fragment of the stop string. If the stop starts at j = 0,
 *   no token is kept.
 *
 * Incremental text: decoding all tokens at every step costs O(n²). Instead, as in vLLM's
 * incremental detokenizer, each new token's text is read off a short window of recent tokens:
 *   delta = decode(ids[a, n)).slice(decode(ids[a, b)).length)
 * where [a, b) were the previous window. Decoding with a token of left context keeps
 * tokenizer-specific boundary effects (SentencePiece dropping a leading space, a multi-byte
 * character split across byte tokens) right. While the window's text ends in U+FFFD (an unfinished
 * UTF-8 sequence) nothing is emitted and the window grows until the character completes. This
 * assumes what HF decoders guarantee in practice: decoding more tokens extends the text of fewer.
 * A stop string can only end inside the new delta, so only the last (longest stop − 1) characters
 * before it are searched again.
 */

/** How a sequence ends; null from `push` means it goes on. */
export type StopHit =
  | { readonly kind: 'token' }
  /** `keepTokens`: how many of the generated tokens to return (see the module comment). */
  | { readonly kind: 'string'; readonly keepTokens: number };

export interface StopRules {
  readonly stopTokenIds: readonly number[];
  readonly stopStrings: readonly string[];
}

const REPLACEMENT_CHAR = '\uFFFD';

/** Watches one sequence's generated tokens for its stops. */
export class StopDetector {
  private readonly stopIds: ReadonlySet<number>;
  private readonly stopStrings: readonly string[];
  private readonly longestStop: number;
  private readonly tokens: number[] = [];
  /** textLength[k] = length of the stable text once k tokens have been read. */
  private readonly textLength: number[] = [0];
  private text = '';
  private windowStart = 0;
  private windowEnd = 0;

  constructor(
    rules: StopRules,
    private readonly decodeText: (ids: readonly number[]) => string,
  ) {
    this.stopIds = new Set(rules.stopTokenIds);
    this.stopStrings = rules.stopStrings;
    this.longestStop = Math.max(0, ...rules.stopStrings.map((s) => s.length));
  }

  /** Reads the next generated token; returns the stop it completes, or null. */
  push(token: number): StopHit | null {
    this.tokens.push(token);
    if (this.stopIds.has(token)) return { kind: 'token' };
    if (this.stopStrings.length === 0) return null;
    const before = this.text.length;
    this.readNewText();
    this.textLength.push(this.text.length);
    if (this.text.length === before) return null;
    const j = this.firstStopStart(Math.max(0, before - this.longestStop + 1));
    if (j < 0) return null;
    return { kind: 'string', keepTokens: this.textLength.findIndex((len) => len >= j) };
  }

  private readNewText(): void {
    const n = this.tokens.length;
    const known = this.decodeText(this.tokens.slice(this.windowStart, this.windowEnd));
    const full = this.decodeText(this.tokens.slice(this.windowStart, n));
    if (full.length <= known.length || full.endsWith(REPLACEMENT_CHAR)) return;
    this.text += full.slice(known.length);
    this.windowStart = this.windowEnd;
    this.windowEnd = n;
  }

  /** The earliest start ≥ `from` of any stop string in the text, or -1. */
  private firstStopStart(from: number): number {
    let first = -1;
    for (const s of this.stopStrings) {
      const j = this.text.indexOf(s, from);
      if (j >= 0 && (first < 0 || j < first)) first = j;
    }
    return first;
  }
}
