import { describe, expect, it } from 'vitest';
import { StopDetector } from '../../src/sampling/stop';
import type { StopHit } from '../../src/sampling/stop';

/** A tokenizer whose ids index a table of strings and whose decode is concatenation. */
function tableDecoder(table: readonly string[]) {
  return (ids: readonly number[]) => ids.map((id) => table[id] ?? '').join('');
}

/** Pushes ids in order; returns every answer. */
function feed(detector: StopDetector, ids: readonly number[]): (StopHit | null)[] {
  return ids.map((id) => detector.push(id));
}

describe('StopDetector', () => {
  it('stops on a token id, whatever the text', () => {
    const d = new StopDetector(
      { stopTokenIds: [3], stopStrings: ['zz'] },
      tableDecoder(['a', 'b', 'c', 'zz']),
    );
    expect(feed(d, [0, 1, 3])).toEqual([null, null, { kind: 'token' }]);
  });

  it('finds a stop string split over several tokens and keeps the tokens before it', () => {
    const table = ['Hel', 'lo', '\n', 'x'];
    const d = new StopDetector({ stopTokenIds: [], stopStrings: ['\n\n'] }, tableDecoder(table));
    // Text "Hello\n\n": the stop starts at j = 5; "Hel" + "lo" covers text[0, 5) → keep 2.
    expect(feed(d, [0, 1, 2, 2])).toEqual([null, null, null, { kind: 'string', keepTokens: 2 }]);
  });

  it('keeps a token that carries text before the stop as well as part of it', () => {
    const table = ['ab', 'c\n', '\nzz'];
    const d = new StopDetector({ stopTokenIds: [], stopStrings: ['\n\n'] }, tableDecoder(table));
    // Text "abc\n\nzz": j = 3; "ab" covers 2 characters, "ab" + "c\n" covers 4 ≥ 3 → keep 2.
    expect(feed(d, [0, 1, 2])).toEqual([null, null, { kind: 'string', keepTokens: 2 }]);
  });

  it('keeps nothing when the text starts with the stop', () => {
    const d = new StopDetector(
      { stopTokenIds: [], stopStrings: ['\n\n'] },
      tableDecoder(['\n', 'a']),
    );
    expect(feed(d, [0, 0])).toEqual([null, { kind: 'string', keepTokens: 0 }]);
  });

  it('takes the earliest of several stop strings', () => {
    const table = ['abc', '\nzz'];
    const d = new StopDetector(
      { stopTokenIds: [], stopStrings: ['zz', '\n'] },
      tableDecoder(table),
    );
    // Text "abc\nzz": "\n" at 3, "zz" at 4 → j = 3; "abc" covers it → keep 1.
    expect(feed(d, [0, 1])).toEqual([null, { kind: 'string', keepTokens: 1 }]);
  });

  it('waits for a UTF-8 character split over byte tokens', () => {
    // Byte-level vocabulary: id = byte; "é" is C3 A9, so "hié!" is 68 69 C3 A9 21.
    const utf8 = new TextDecoder();
    const bytes = (ids: readonly number[]) => utf8.decode(Uint8Array.from(ids));
    const d = new StopDetector({ stopTokenIds: [], stopStrings: ['é!'] }, bytes);
    // The stop starts at j = 2 ("hi"), which the first two byte tokens cover → keep 2.
    expect(feed(d, [0x68, 0x69, 0xc3, 0xa9, 0x21])).toEqual([
      null,
      null,
      null,
      null,
      { kind: 'string', keepTokens: 2 },
    ]);
  });

  it('keeps SentencePiece word boundaries that a token-by-token decode would lose', () => {
    // SentencePiece style: "▁" is a space, and the decoded text drops the leading one. Decoding
    // each token alone would give "Hello" "wor" "ld" "STOP" and never contain " STOP".
    const table = ['▁Hello', '▁wor', 'ld', '▁STOP'];
    const sentencePiece = (ids: readonly number[]) =>
      ids
        .map((id) => table[id] ?? '')
        .join('')
        .replaceAll('▁', ' ')
        .replace(/^ /, '');
    const d = new StopDetector({ stopTokenIds: [], stopStrings: [' STOP'] }, sentencePiece);
    // Text "Hello world STOP": j = 11 = "Hello world".length, covered by 3 tokens.
    expect(feed(d, [0, 1, 2, 3])).toEqual([null, null, null, { kind: 'string', keepTokens: 3 }]);
  });

  it('decodes short windows, not the whole text, at each token', () => {
    const table = ['a', 'b'];
    let decodedTokens = 0;
    const counting = (ids: readonly number[]) => {
      decodedTokens += ids.length;
      return tableDecoder(table)(ids);
    };
    const d = new StopDetector({ stopTokenIds: [], stopStrings: ['zz'] }, counting);
    const n = 200;
    for (let i = 0; i < n; i++) expect(d.push(i % 2)).toBeNull();
    // Each push decodes the previous window (≤ 1 token here) and it plus the new one (≤ 2),
    // so ≤ 3 tokens per push; a full decode per push would cost n(n+1)/2 = 20 100.
    expect(decodedTokens).toBeLessThanOrEqual(3 * n);
  });
});
