/**
 * The lab's data for one model: a source's examples parsed, tokenized and cut to the max length,
 * turned into training and held-out `Datum`s (a separate held-out file, or every tenth example).
 */
import type { Datum, Tokenizer } from '../index';
import { heldoutSplit, sequenceToDatum } from './batching';
import { parseDataset, type ParsedDataset } from './dataset-parse';
import { exampleToSequence, type TokenSequence } from './dataset-tokens';
import type { DatasetRef } from './last-run';

export interface DataSource {
  readonly ref: DatasetRef;
  readonly label: string;
  readonly trainText: string;
  /** A separate held-out file; without one, every tenth example is held out. */
  readonly heldoutText: string | null;
}

export interface PreparedData {
  readonly source: DataSource;
  readonly parsed: ParsedDataset;
  readonly train: readonly Datum[];
  readonly heldout: readonly Datum[];
  /** Token sequences of the training examples (for the preview). */
  readonly sequences: readonly TokenSequence[];
  /** Held-out examples available; `heldout` keeps the first MAX_HELDOUT of them. */
  readonly heldoutTotal: number;
  /** Examples with nothing to train after cutting to the max length. */
  readonly empty: number;
}

/** Held-out examples measured at each evaluation (enough for a smooth curve, quick to run). */
const MAX_HELDOUT = 24;

/** Tokenizes `source` with `tokenizer`, each example cut to `maxLength` tokens. */
export function prepareData(
  source: DataSource,
  tokenizer: Tokenizer,
  maxLength: number,
): PreparedData {
  const parsed = parseDataset(source.trainText);
  const sequences = parsed.examples.map((e) => exampleToSequence(tokenizer, e, maxLength));
  const datums = sequences.map(sequenceToDatum);
  const usable = datums.filter((d): d is Datum => d !== null);
  let train = usable;
  let heldout: Datum[];
  if (source.heldoutText !== null) {
    heldout = parseDataset(source.heldoutText)
      .examples.map((e) => sequenceToDatum(exampleToSequence(tokenizer, e, maxLength)))
      .filter((d): d is Datum => d !== null);
  } else {
    const split = heldoutSplit(usable.length);
    train = split.train.map((i) => usable[i] as Datum);
    heldout = split.heldout.map((i) => usable[i] as Datum);
  }
  return {
    source,
    parsed,
    train,
    heldout: heldout.slice(0, MAX_HELDOUT),
    heldoutTotal: heldout.length,
    sequences,
    empty: datums.length - usable.length,
  };
}
