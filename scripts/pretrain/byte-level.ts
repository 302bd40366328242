/**
 * The byte-level alphabet and pre-tokenizer of GPT-2, as Hugging Face's `ByteLevel` pre-tokenizer
 * applies them, so that the BPE trainer (bpe-trainer.ts) sees text cut exactly as the shipped
 * tokenizer.json will cut it at encode time.
 *
 * - Pre-tokenization: the GPT-2 split regex (Radford et al. 2019, `encoder.py` in openai/gpt-2),
 *   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`: contractions,
 *   letters, digits and other symbols each with at most one leading space, and whitespace runs
 *   (all but the last space of a run, when a word follows).
 * - Byte alphabet: every UTF-8 byte becomes one printable character. The 188 bytes that are
 *   printable in Latin-1 (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves; the other 68 bytes, in
 *   increasing order, become U+0100, U+0101, … (so a space, byte 0x20, is `Ġ` = U+0120).
 * Encoding and decoding for the models is `@huggingface/tokenizers`' job (src/io/tokenizer.ts).
 */

/** GPT-2's split regex, with the `u` flag for `\p{…}` and `g` to iterate. */
export const GPT2_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** `BYTE_TO_CHAR[b]`: the one-character string that stands for byte `b` (0..255). */
export const BYTE_TO_CHAR: readonly string[] = buildByteTable();

function buildByteTable(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCharCode(printable(b) ? b : next++);
  }
  return table;
}

/** The pre-tokens (words) of `text`, in order; their concatenation is `text`. */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT) ?? [];
}

const utf8 = new TextEncoder();

/** The UTF-8 bytes of `word`, each as its byte-level character: `" the"` → `"Ġthe"`. */
export function toByteLevel(word: string): string {
  let out = '';
  for (const b of utf8.encode(word)) out += BYTE_TO_CHAR[b];
  return out;
}
