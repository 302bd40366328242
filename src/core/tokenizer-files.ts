/**
 * The structure of `tokenizer.json` and `tokenizer_config.json` as tokenizer.ts reads them: checks
 * that turn a malformed file into an `InvalidFileError` naming the field (before
 * `@huggingface/tokenizers` sees it), the special tokens a config names, and whether the
 * post-processor already adds BOS / EOS.
 */
import { InvalidFileError } from '../errors/loops-errors';

const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'];
const PIPELINE_KEYS = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/** Checks the structure the library relies on and fills the keys it requires but files may omit. */
export function checkTokenizerJson(raw: unknown): Record<string, unknown> {
  if (!isRecord(raw)) {
    throw new InvalidFileError(
      `tokenizer.json must be a JSON object, got ${describe(raw)}; is this the right file?`,
    );
  }
  const model = raw['model'];
  if (!isRecord(model)) {
    throw new InvalidFileError(
      `tokenizer.json has no "model" object (got ${describe(model)}); ` +
        'a tokenizer.json saved by Hugging Face tokenizers always has one.',
    );
  }
  checkModel(model);
  const addedTokens = raw['added_tokens'] ?? [];
  if (!Array.isArray(addedTokens)) {
    throw new InvalidFileError(
      `tokenizer.json: added_tokens must be an array, got ${describe(addedTokens)}.`,
    );
  }
  addedTokens.forEach((t: unknown, i) => {
    if (!isRecord(t) || !isTokenId(t['id']) || typeof t['content'] !== 'string') {
      throw new InvalidFileError(
        `tokenizer.json: added_tokens[${i}] must be {id: integer >= 0, content: string}, ` +
          `got ${JSON.stringify(t)}.`,
      );
    }
  });
  const filled: Record<string, unknown> = { ...raw, added_tokens: addedTokens };
  for (const key of PIPELINE_KEYS) {
    const part = raw[key] ?? null;
    if (part !== null && !isRecord(part)) {
      throw new InvalidFileError(
        `tokenizer.json: ${key} must be an object or null, got ${describe(part)}.`,
      );
    }
    filled[key] = part;
  }
  return filled;
}

function checkModel(model: Record<string, unknown>): void {
  const type = model['type'];
  if (type !== undefined && !MODEL_TYPES.includes(type as string)) {
    throw new InvalidFileError(
      `tokenizer.json: model.type ${JSON.stringify(type)} is not supported; ` +
        `this loader reads ${MODEL_TYPES.join(', ')} models.`,
    );
  }
  const vocab = model['vocab'];
  if (type === 'Unigram' || (type === undefined && Array.isArray(vocab))) {
    const ok =
      Array.isArray(vocab) && vocab.every((e) => Array.isArray(e) && typeof e[0] === 'string');
    if (!ok) {
      throw new InvalidFileError(
        'tokenizer.json: a Unigram model.vocab must be [token, score] pairs.',
      );
    }
    return;
  }
  if (!isRecord(vocab) || !Object.values(vocab).every(isTokenId)) {
    throw new InvalidFileError(
      `tokenizer.json: model.vocab must map tokens to ids (integers >= 0), got ${describe(vocab)}.`,
    );
  }
  if (type === 'BPE' && !Array.isArray(model['merges'])) {
    throw new InvalidFileError(
      `tokenizer.json: a BPE model needs a merges array, got ${describe(model['merges'])}.`,
    );
  }
}

export function checkTokenizerConfig(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) {
    throw new InvalidFileError(
      `tokenizer_config.json must be a JSON object, got ${describe(raw)}; is this the right file?`,
    );
  }
  return raw;
}

/** A config's special token: a string, or an AddedToken object `{content, …}` in older files. */
export function tokenText(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value['content'] === 'string') return value['content'];
  throw new InvalidFileError(
    `tokenizer_config.json: ${key} must be a string or {content: string}, got ${describe(value)}.`,
  );
}

export function additionalTokens(config: Readonly<Record<string, unknown>>): string[] {
  const raw = config['additional_special_tokens'];
  if (!Array.isArray(raw)) return [];
  return raw.map((t: unknown) => tokenText(t, 'additional_special_tokens')).filter(isString);
}

/**
 * Whether the post-processor puts a special token first / last in a single sequence: a
 * `TemplateProcessing` whose `single` template starts / ends with a `SpecialToken`, possibly inside
 * a `Sequence` of processors (Llama 3). Then the config's add_bos/eos flags are already honoured.
 */
export function postProcessorAdds(processor: unknown, where: 'first' | 'last'): boolean {
  if (!isRecord(processor)) return false;
  if (processor['type'] === 'Sequence' && Array.isArray(processor['processors'])) {
    return processor['processors'].some((p: unknown) => postProcessorAdds(p, where));
  }
  const single = processor['single'];
  if (processor['type'] !== 'TemplateProcessing' || !Array.isArray(single)) return false;
  const item: unknown = where === 'first' ? single[0] : single[single.length - 1];
  return isRecord(item) && 'SpecialToken' in item;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTokenId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
