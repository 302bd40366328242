/**
 * A plain byte-level BPE encoder, the reference that `TextTokenizer` (which runs
 * `@huggingface/tokenizers`) is checked against for the tokenizer our pretraining script trains.
 * It reads only the `tokenizer.json` object and shares no code with scripts/pretrain or the
 * library: the slow, textbook algorithm (Sennrich et al. 2016, as in GPT-2's `encoder.py`):
 * 1. split the text on the added tokens, which encode to their own ids;
 * 2. cut the rest into words with the GPT-2 regex;
 * 3. spell each word as UTF-8 bytes in GPT-2's byte alphabet (printable Latin-1 bytes stand for
 *    themselves, the 68 others become U+0100 + k in byte order);
 * 4. repeatedly merge the adjacent pair with the lowest merge rank (its leftmost occurrence) until
 *    no adjacent pair has a rank; map the pieces through the vocabulary.
 */

const WORD = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

interface BpeJson {
  readonly added_tokens: readonly { readonly id: number; readonly content: string }[];
  readonly model: {
    readonly vocab: Readonly<Record<string, number>>;
    readonly merges: readonly string[];
  };
}

function byteAlphabet(): string[] {
  const kept = new Set<number>();
  for (const [lo, hi] of [
    [33, 126],
    [161, 172],
    [174, 255],
  ] as const) {
    for (let b = lo; b <= hi; b++) kept.add(b);
  }
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(kept.has(b) ? b : 256 + extra++));
  return chars;
}

/** Token ids of `text` under the byte-level BPE in `tokenizerJson` (no BOS/EOS added). */
export function referenceBpeEncode(text: string, tokenizerJson: unknown): number[] {
  const json = tokenizerJson as BpeJson;
  const alphabet = byteAlphabet();
  const ranks = new Map(json.model.merges.map((m, rank) => [m, rank]));
  const ids: number[] = [];
  const lookup = (token: string): number => {
    const id = json.model.vocab[token];
    if (id === undefined) throw new Error(`reference BPE: ${token} is not in the vocabulary`);
    return id;
  };
  for (const piece of splitOnAdded(text, json.added_tokens)) {
    if (typeof piece === 'number') {
      ids.push(piece);
      continue;
    }
    for (const word of piece.match(WORD) ?? []) {
      const symbols = Array.from(new TextEncoder().encode(word), (b) => alphabet[b] as string);
      mergeByRank(symbols, ranks);
      for (const s of symbols) ids.push(lookup(s));
    }
  }
  return ids;
}

function mergeByRank(symbols: string[], ranks: ReadonlyMap<string, number>): void {
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const rank = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) return;
    symbols.splice(best, 2, `${symbols[best]}${symbols[best + 1]}`);
  }
}

/** Text pieces and added-token ids, in order (the earliest, then longest, added token wins). */
function splitOnAdded(text: string, added: BpeJson['added_tokens']): (string | number)[] {
  const out: (string | number)[] = [];
  let rest = text;
  for (;;) {
    let at = -1;
    let hit: { id: number; content: string } | undefined;
    for (const token of added) {
      const i = rest.indexOf(token.content);
      const longer = hit !== undefined && token.content.length > hit.content.length;
      const better = i >= 0 && (at < 0 || i < at || (i === at && longer));
      if (better) {
        at = i;
        hit = token;
      }
    }
    if (hit === undefined) break;
    if (at > 0) out.push(rest.slice(0, at));
    out.push(hit.id);
    rest = rest.slice(at + hit.content.length);
  }
  if (rest.length > 0) out.push(rest);
  return out;
}
