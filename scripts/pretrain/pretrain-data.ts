/**
 * The token data of a pretraining run: the corpus (corpus.ts) encoded with the shipped tokenizer
 * (public/models/_tokenizer, through `TextTokenizer`, i.e. the same code the engine uses), cut
 * into seeded training windows (token-windows.ts) and a held-out stream for evaluation; plus the
 * UTF-8 byte length of every token id, to turn nats per token into bits per byte.
 *
 * Bytes of a token: the byte-level BPE spells each byte as one character of its alphabet, so a
 * token's bytes are the characters of its vocabulary string; special tokens (`<|endoftext|>`, …)
 * stand for no text and count 0 bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextTokenizer } from '../../src/core/tokenizer';
import { loadCorpus, type Corpus } from './corpus';
import { TokenWindows, tokenStream } from './token-windows';

export const ENDOFTEXT_ID = 0;

export interface PretrainData {
  readonly tokenizer: TextTokenizer;
  readonly train: TokenWindows;
  /** `<|endoftext|>` d₀ `<|endoftext|>` d₁ … over the held-out documents. */
  readonly heldoutStream: Int32Array;
  /** UTF-8 bytes of the held-out documents (the bits-per-byte denominator). */
  readonly heldoutBytes: number;
  /** UTF-8 bytes each token id stands for. */
  readonly tokenBytes: Uint8Array;
  readonly corpus: Corpus;
}

/** Loads the tokenizer files of `dir` (tokenizer.json, tokenizer_config.json). */
export function loadTokenizer(dir: string): TextTokenizer {
  const read = (file: string): unknown => JSON.parse(readFileSync(join(dir, file), 'utf8'));
  return TextTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'));
}

/** Byte length of every token id (see the module comment). */
export function tokenByteLengths(tokenizer: TextTokenizer): Uint8Array {
  const out = new Uint8Array(tokenizer.vocabSize);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const token = tokenizer.idToToken(id) ?? '';
    out[id] = tokenizer.specialTokenIds.has(id) ? 0 : [...token].length;
  }
  return out;
}

export function encodeDocuments(tokenizer: TextTokenizer, texts: readonly string[]): number[][] {
  return texts.map((t) => tokenizer.encode(t, { add_special_tokens: false }));
}

/** Encodes the corpus and builds the windows of a run with context `seqLen` and `seed`. */
export function loadPretrainData(tokenizerDir: string, seqLen: number, seed: number): PretrainData {
  const corpus = loadCorpus();
  const tokenizer = loadTokenizer(tokenizerDir);
  const train = new TokenWindows(
    tokenStream(encodeDocuments(tokenizer, corpus.train), ENDOFTEXT_ID),
    seqLen,
    seed,
  );
  const heldoutStream = tokenStream(encodeDocuments(tokenizer, corpus.heldout), ENDOFTEXT_ID);
  return {
    tokenizer,
    train,
    heldoutStream,
    heldoutBytes: corpus.stats.heldout.bytes,
    tokenBytes: tokenByteLengths(tokenizer),
    corpus,
  };
}

/**
 * `count` windows of `seqLen` spread evenly over `stream` (window i starts at ⌊i·N/count⌋·seqLen,
 * N whole windows), as flat inputs/targets [count·seqLen], and the bytes their targets stand for.
 */
export function evenlySpacedWindows(
  stream: Int32Array,
  seqLen: number,
  count: number,
  tokenBytes: Uint8Array,
): { inputs: Int32Array; targets: Int32Array; bytes: number; count: number } {
  const windows = new TokenWindows(stream, seqLen, 0);
  const n = Math.min(count, windows.count);
  const picked = Array.from({ length: n }, (_, i) => Math.floor((i * windows.count) / n));
  const { inputs, targets } = windows.gather(picked);
  let bytes = 0;
  for (const t of targets) bytes += tokenBytes[t] ?? 0;
  return { inputs, targets, bytes, count: n };
}
