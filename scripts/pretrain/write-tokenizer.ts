/**
 * Writes a trained byte-level BPE (bpe-trainer.ts) as the two Hugging Face files a model folder
 * carries, `tokenizer.json` and `tokenizer_config.json`, in the structure of GPT-2's and SmolLM2's
 * files so that `@huggingface/tokenizers` (src/io/tokenizer.ts) and Python `tokenizers` /
 * `transformers` (`GPT2TokenizerFast`) load them unchanged.
 *
 * Choices:
 * - `model.merges` are `"left right"` strings: the form every `tokenizers` version reads (the
 *   `[left, right]` form needs Python tokenizers >= 0.20). Byte-level tokens never hold a space
 *   (a space is `Ġ`), so splitting on the one space is unambiguous.
 * - The special tokens sit in `model.vocab` and in `added_tokens` (special, not normalized), as in
 *   SmolLM2, so ids are contiguous and `len(tokenizer)` equals the vocabulary size.
 * - Base-model conventions: bos = eos = pad = unk = `<|endoftext|>`, no BOS added by `encode`
 *   (`add_bos_token` false); documents are joined with `<|endoftext|>` by the pretraining script.
 * - `chat_template` is ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), as in SmolLM2-Instruct
 *   and Qwen, for the fine-tuning demos.
 * Output is `JSON.stringify(…, null, 2)` plus a newline, keys in a fixed order: same model ⇒
 * byte-identical files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../src/errors/loops-errors';
import type { BpeModel } from './bpe-trainer';

export const CHATML_TEMPLATE =
  "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}" +
  '<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';

export const END_OF_TEXT = '<|endoftext|>';

export interface TokenizerFileOptions {
  /** `tokenizer_config.json` `model_max_length`: the models' context length; default 1024. */
  readonly modelMaxLength?: number;
}

export interface TokenizerFiles {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
}

/** The two files' contents as objects (ready for `TextTokenizer.fromJson` or for writing). */
export function buildTokenizerFiles(
  model: BpeModel,
  options: TokenizerFileOptions = {},
): TokenizerFiles {
  checkModel(model);
  const vocab: Record<string, number> = {};
  model.vocab.forEach((token, id) => (vocab[token] = id));
  const addedTokens = model.specialTokens.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: model.merges.map(([left, right]) => `${left} ${right}`),
    },
  };
  return { tokenizerJson, tokenizerConfig: buildConfig(model, options) };
}

function buildConfig(model: BpeModel, options: TokenizerFileOptions): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  model.specialTokens.forEach((content, id) => {
    decoder[String(id)] = {
      content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    };
  });
  return {
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: model.specialTokens.filter((t) => t !== END_OF_TEXT),
    bos_token: END_OF_TEXT,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: END_OF_TEXT,
    model_max_length: options.modelMaxLength ?? 1024,
    pad_token: END_OF_TEXT,
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: END_OF_TEXT,
  };
}

function checkModel(model: BpeModel): void {
  if (!model.specialTokens.includes(END_OF_TEXT)) {
    throw new ValidationError(
      `buildTokenizerFiles: the special tokens ${JSON.stringify(model.specialTokens)} must include ` +
        `${END_OF_TEXT} (the base models' bos/eos/pad token); train with the default specials.`,
    );
  }
  model.specialTokens.forEach((token, id) => {
    if (model.vocab[id] !== token) {
      throw new ValidationError(
        `buildTokenizerFiles: special token ${token} must have id ${id}, but vocab[${id}] is ` +
          `${JSON.stringify(model.vocab[id])}; the specials come first (bpe-trainer.ts).`,
      );
    }
  });
  if (new Set(model.vocab).size !== model.vocab.length) {
    throw new ValidationError(
      'buildTokenizerFiles: the vocabulary spells some token twice; a BPE vocab maps each string to one id.',
    );
  }
}

/** The exact bytes of each file (a fixed key order and indentation, ending in a newline). */
export function serializeTokenizerFiles(files: TokenizerFiles): Record<string, string> {
  return {
    'tokenizer.json': `${stringifyTokenizerJson(files.tokenizerJson)}\n`,
    'tokenizer_config.json': `${JSON.stringify(files.tokenizerConfig, null, 2)}\n`,
  };
}

/** Stands in for model.vocab while the rest is stringified; no token holds U+0000. */
const VOCAB_SLOT = '\u0000vocab\u0000';

/**
 * `JSON.stringify(json, null, 2)`, but with `model.vocab` listed in id order, as Python writes it:
 * JS objects list integer-like keys ("0", "10", …) first whatever their insertion order.
 */
function stringifyTokenizerJson(json: Record<string, unknown>): string {
  const model = json['model'] as Record<string, unknown>;
  const vocab = model['vocab'] as Record<string, number>;
  const text = JSON.stringify({ ...json, model: { ...model, vocab: VOCAB_SLOT } }, null, 2);
  const entries = Object.entries(vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([token, id]) => `      ${JSON.stringify(token)}: ${id}`);
  // A function, so that "$&" or "$'" in a token is not read as a replacement pattern.
  return text.replace(JSON.stringify(VOCAB_SLOT), () => `{\n${entries.join(',\n')}\n    }`);
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing). */
export function writeTokenizerFiles(dir: string, files: TokenizerFiles): Record<string, number> {
  mkdirSync(dir, { recursive: true });
  const sizes: Record<string, number> = {};
  for (const [name, text] of Object.entries(serializeTokenizerFiles(files))) {
    writeFileSync(join(dir, name), text);
    sizes[name] = Buffer.byteLength(text);
  }
  return sizes;
}
