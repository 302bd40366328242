/**
 * Builds the shared tokenizer of our pretrained models: loads the corpus (corpus.ts), trains the
 * byte-level BPE on the training split only (bpe-trainer.ts), writes `tokenizer.json` and
 * `tokenizer_config.json` (write-tokenizer.ts) and measures UTF-8 bytes per token on both splits
 * with the shipped loader (`TextTokenizer`, i.e. `@huggingface/tokenizers`). The pretraining script
 * copies the two files into each model folder.
 *
 *   node --import tsx scripts/pretrain/build-tokenizer.ts [--vocab 4096]
 *       [--out public/models/_tokenizer] [--max-length 1024] [--sources moby-dick,sotu]
 *
 * Deterministic: the same corpus and options give byte-identical files (no clock, no randomness).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LoopsError, ValidationError } from '../../src/errors/loops-errors';
import { TextTokenizer } from '../../src/core/tokenizer';
import { trainBpe } from './bpe-trainer';
import { CORPUS_SOURCES, loadCorpus, utf8Bytes } from './corpus';
import type { Corpus, CorpusSource } from './corpus';
import { buildTokenizerFiles, writeTokenizerFiles } from './write-tokenizer';

export const DEFAULT_OUT_DIR = 'public/models/_tokenizer';
export const DEFAULT_VOCAB_SIZE = 4096;

export interface BuildTokenizerOptions {
  readonly vocabSize: number;
  readonly outDir: string;
  /** The texts; default `loadCorpus()` (both sources). */
  readonly corpus?: Corpus;
  readonly modelMaxLength?: number;
}

export interface BuildTokenizerReport {
  readonly vocabSize: number;
  readonly merges: number;
  /** Wall-clock seconds of word counting + merging (not loading or measuring). */
  readonly trainSeconds: number;
  readonly uniqueWords: number;
  readonly lastMergeCount: number;
  readonly trainBytes: number;
  readonly heldoutBytes: number;
  /** UTF-8 bytes per token (no special tokens added) over each split. */
  readonly bytesPerToken: { readonly train: number; readonly heldout: number };
  /** Bytes of each written file. */
  readonly files: Readonly<Record<string, number>>;
}

/** Trains, writes and measures the tokenizer; see the module comment. */
export function buildTokenizer(options: BuildTokenizerOptions): BuildTokenizerReport {
  const corpus = options.corpus ?? loadCorpus();
  const started = performance.now();
  const { model, stats } = trainBpe(corpus.train, { vocabSize: options.vocabSize });
  const trainSeconds = (performance.now() - started) / 1000;
  const files = buildTokenizerFiles(model, { modelMaxLength: options.modelMaxLength });
  const sizes = writeTokenizerFiles(options.outDir, files);
  const tokenizer = TextTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig);
  const train = measure(tokenizer, corpus.train);
  const heldout = measure(tokenizer, corpus.heldout);
  return {
    vocabSize: tokenizer.vocabSize,
    merges: model.merges.length,
    trainSeconds,
    uniqueWords: stats.uniqueWords,
    lastMergeCount: stats.lastMergeCount,
    trainBytes: train.bytes,
    heldoutBytes: heldout.bytes,
    bytesPerToken: { train: train.bytes / train.tokens, heldout: heldout.bytes / heldout.tokens },
    files: sizes,
  };
}

function measure(
  tokenizer: TextTokenizer,
  texts: readonly string[],
): { bytes: number; tokens: number } {
  let bytes = 0;
  let tokens = 0;
  for (const text of texts) {
    bytes += utf8Bytes(text);
    tokens += tokenizer.encode(text, { add_special_tokens: false }).length;
  }
  return { bytes, tokens };
}

function parseCli(argv: readonly string[]): BuildTokenizerOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      vocab: { type: 'string', default: String(DEFAULT_VOCAB_SIZE) },
      out: { type: 'string', default: DEFAULT_OUT_DIR },
      'max-length': { type: 'string', default: '1024' },
      sources: { type: 'string', default: CORPUS_SOURCES.join(',') },
    },
  });
  const integer = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) {
      throw new ValidationError(
        `--${flag} ${text} must be a positive integer, e.g. --${flag} 4096.`,
      );
    }
    return n;
  };
  const sources = values.sources.split(',').map((s) => s.trim()) as CorpusSource[];
  return {
    vocabSize: integer('vocab', values.vocab),
    outDir: values.out,
    modelMaxLength: integer('max-length', values['max-length']),
    corpus: loadCorpus({ sources }),
  };
}

function main(): void {
  let options: BuildTokenizerOptions;
  let report: BuildTokenizerReport;
  try {
    options = parseCli(process.argv.slice(2));
    report = buildTokenizer(options);
  } catch (error) {
    if (!(error instanceof LoopsError)) throw error;
    console.error(`build-tokenizer: ${error.message}`);
    process.exit(1);
  }
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
  const lines = [
    `corpus: train ${report.trainBytes} bytes, held-out ${report.heldoutBytes} bytes`,
    `vocab size: ${report.vocabSize} (${report.merges} merges, ${report.uniqueWords} distinct words, ` +
      `last merge count ${report.lastMergeCount})`,
    `training time: ${report.trainSeconds.toFixed(2)} s`,
    `bytes per token: train ${report.bytesPerToken.train.toFixed(3)}, ` +
      `held-out ${report.bytesPerToken.heldout.toFixed(3)}`,
    ...Object.entries(report.files).map(
      ([name, bytes]) => `wrote ${resolve(options.outDir, name)} (${bytes} bytes, ${kib(bytes)})`,
    ),
  ];
  for (const line of lines) console.log(line);
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(resolve(process.argv[1])).href
) {
  main();
}
