/**
 * `TextTokenizer`: a Hugging Face `tokenizer.json` + `tokenizer_config.json`, held in memory, with
 * the Python-named methods Loops scripts call (`encode`, `decode`, `apply_chat_template`).
 *
 * The tokenization itself is `@huggingface/tokenizers` (BPE, WordPiece, Unigram models with their
 * normalizers, pre-tokenizers, post-processors and decoders). This module adds what that library
 * leaves out:
 * - it checks the files' structure first (tokenizer-files.ts), so a malformed file is an
 *   `InvalidFileError` naming the field, never a `TypeError` from inside the library;
 * - it resolves the special tokens the config names (`bos_token`, `eos_token`, `pad_token`, …);
 * - it honours `add_bos_token` / `add_eos_token` in the config when the post-processor does not
 *   already add those tokens (as Python's `LlamaTokenizerFast` rebuilds its post-processor);
 * - it renders chat templates (chat-template.ts) with the special tokens in the context.
 * Reading the files from a shipped folder, the hub or the user is model-source.ts's job.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidFileError, ValidationError } from '../errors/loops-errors';
import { ChatTemplate, checkMessages, pickChatTemplate } from './chat-template';
import type { ChatMessage } from './chat-template';
import {
  additionalTokens,
  checkTokenizerConfig,
  checkTokenizerJson,
  postProcessorAdds,
  tokenText,
} from './tokenizer-files';

export type { ChatMessage } from './chat-template';

export interface EncodeOptions {
  /** Add what the post-processor / config add (BOS, EOS); Python's default, true. */
  readonly add_special_tokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (`<|im_end|>`, `<|endoftext|>`, …) from the text; default false. */
  readonly skip_special_tokens?: boolean;
}

/**
 * `apply_chat_template` options. Any other key is handed to the template as a variable, as
 * Python's `**kwargs` are (for example `enable_thinking: false` for Qwen3).
 */
export interface ChatTemplateOptions {
  /** End with the assistant's turn header, so the model writes the reply; default false. */
  readonly add_generation_prompt?: boolean;
  /** Return token ids instead of text; default false. */
  readonly tokenize?: boolean;
  readonly [variable: string]: unknown;
}

export interface TokenizerLoadOptions {
  /** A chat template to use instead of the config's (for example a repo's `chat_template.jinja`). */
  readonly chatTemplate?: string;
}

/** Config keys whose value is a special token; they are also what chat templates may read. */
const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

export class TextTokenizer {
  /** Number of token ids, added tokens included (Python's `len(tokenizer)`): the largest id + 1. */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Ids of every special token: added tokens marked special plus those the config names. */
  readonly specialTokenIds: ReadonlySet<number>;

  private chatTemplate: ChatTemplate | undefined;

  private constructor(
    private readonly inner: Tokenizer,
    private readonly config: Readonly<Record<string, unknown>>,
    /** Special-token strings by config key, for chat templates. */
    private readonly specialTokens: Readonly<Record<string, string>>,
    /** BOS / EOS that `encode` adds itself because the config asks and the post-processor does not. */
    private readonly extra: { readonly bos: boolean; readonly eos: boolean },
    private readonly chatTemplateSource: string | undefined,
  ) {
    let maxId = -1;
    for (const id of inner.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosTokenId = this.idOf(specialTokens['bos_token']);
    this.eosTokenId = this.idOf(specialTokens['eos_token']);
    this.padTokenId = this.idOf(specialTokens['pad_token']);
    const ids = new Set<number>();
    for (const [id, token] of inner.get_added_tokens_decoder()) if (token.special) ids.add(id);
    for (const text of [...Object.values(specialTokens), ...additionalTokens(config)]) {
      const id = this.idOf(text);
      if (id !== null) ids.add(id);
    }
    this.specialTokenIds = ids;
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` and `tokenizer_config.json` (the config may be
   * `undefined` or `null` when a repo has none). Throws `InvalidFileError` naming what is wrong.
   */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig: unknown,
    options: TokenizerLoadOptions = {},
  ): TextTokenizer {
    const json = checkTokenizerJson(tokenizerJson);
    const config = checkTokenizerConfig(tokenizerConfig);
    let inner: Tokenizer;
    try {
      inner = new Tokenizer(json, config);
    } catch (error) {
      throw new InvalidFileError(
        `tokenizer.json could not be loaded: ${messageOf(error)}. ` +
          'Check that it is a tokenizer.json saved by Hugging Face tokenizers.',
      );
    }
    const specialTokens: Record<string, string> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const text = tokenText(config[key], key);
      if (text === undefined) continue;
      const mustExist = key === 'bos_token' || key === 'eos_token' || key === 'pad_token';
      if (mustExist && inner.token_to_id(text) === undefined) {
        throw new InvalidFileError(
          `tokenizer_config.json: ${key} "${text}" is not a token of tokenizer.json; ` +
            'the two files must come from the same model.',
        );
      }
      specialTokens[key] = text;
    }
    const extra = {
      bos: config['add_bos_token'] === true && !postProcessorAdds(json['post_processor'], 'first'),
      eos: config['add_eos_token'] === true && !postProcessorAdds(json['post_processor'], 'last'),
    };
    const template = options.chatTemplate ?? pickChatTemplate(config['chat_template']);
    return new TextTokenizer(inner, config, specialTokens, extra, template);
  }

  /** Token ids of `text`, with BOS / EOS only where the post-processor or config adds them. */
  encode(text: string, { add_special_tokens = true }: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new ValidationError(`encode: text must be a string, got ${typeof text}.`);
    }
    const ids = this.inner.encode(text, { add_special_tokens }).ids;
    if (!add_special_tokens) return ids;
    if (this.extra.bos && this.bosTokenId !== null) ids.unshift(this.bosTokenId);
    if (this.extra.eos && this.eosTokenId !== null) ids.push(this.eosTokenId);
    return ids;
  }

  /**
   * Text of `ids`. Spaces are kept exactly as the tokens spell them (no
   * `clean_up_tokenization_spaces` unless the config turns it on), so decode(encode(s)) === s.
   */
  decode(ids: readonly number[], { skip_special_tokens = false }: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) {
      throw new ValidationError(`decode: ids must be an array of token ids, got ${typeof ids}.`);
    }
    ids.forEach((id: unknown, i) => {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= this.vocabSize) {
        throw new ValidationError(
          `decode: ids[${i}] = ${String(id)} is not a token id; ids run from 0 to ${this.vocabSize - 1}.`,
        );
      }
    });
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], {
      skip_special_tokens,
      clean_up_tokenization_spaces: this.config['clean_up_tokenization_spaces'] === true,
    });
  }

  /**
   * Renders `messages` with the model's chat template (`tokenizer_config.json` `chat_template`),
   * passing the special tokens (`bos_token`, `eos_token`, …) and every option as variables.
   * With `tokenize: true` the text is encoded without adding special tokens (the template has them).
   */
  apply_chat_template(
    messages: readonly ChatMessage[],
    options: ChatTemplateOptions & { readonly tokenize: true },
  ): number[];
  apply_chat_template(
    messages: readonly ChatMessage[],
    options?: ChatTemplateOptions & { readonly tokenize?: false },
  ): string;
  apply_chat_template(
    messages: readonly ChatMessage[],
    options?: ChatTemplateOptions,
  ): string | number[];
  apply_chat_template(
    messages: readonly ChatMessage[],
    options: ChatTemplateOptions = {},
  ): string | number[] {
    checkMessages(messages);
    const { tokenize = false, add_generation_prompt = false, ...variables } = options;
    const text = this.template().render(messages, {
      ...this.specialTokens,
      additional_special_tokens: additionalTokens(this.config),
      ...variables,
      add_generation_prompt,
    });
    return tokenize ? this.encode(text, { add_special_tokens: false }) : text;
  }

  /** The id of `token` (a vocabulary entry or added token), or `undefined`. */
  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  /** The vocabulary entry of `id`, or `undefined`. */
  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  private template(): ChatTemplate {
    if (this.chatTemplate) return this.chatTemplate;
    if (this.chatTemplateSource === undefined) {
      throw new ValidationError(
        'apply_chat_template: this tokenizer has no chat template (tokenizer_config.json has no ' +
          'chat_template). Use an instruct/chat model, pass one with ' +
          'TextTokenizer.fromJson(json, config, { chatTemplate }), or format the prompt yourself.',
      );
    }
    this.chatTemplate = new ChatTemplate(this.chatTemplateSource);
    return this.chatTemplate;
  }

  private idOf(text: string | undefined): number | null {
    return text === undefined ? null : (this.inner.token_to_id(text) ?? null);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
