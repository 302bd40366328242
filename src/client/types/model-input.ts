/**
 * `ModelInput` and its chunks, as in Loops/Tinker: a sequence of token chunks (text) or image
 * chunks. Objects are immutable: `append` returns a new input. A plain object of the same shape
 * (for example parsed from Python's JSON) is accepted wherever a `ModelInput` is expected.
 */
import { ValidationError } from '../../errors/loops-errors';
import { describe as show } from '../describe';

export class EncodedTextChunk {
  readonly type = 'encoded_text' as const;
  readonly tokens: readonly number[];

  constructor(fields: { tokens: readonly number[] }) {
    this.tokens = Object.freeze([...fields.tokens]);
  }

  get length(): number {
    return this.tokens.length;
  }

  toJSON() {
    return { type: this.type, tokens: [...this.tokens] };
  }
}

export class ImageChunk {
  readonly type = 'image' as const;
  readonly data: string | Uint8Array;
  readonly format: 'png' | 'jpeg';
  readonly expected_tokens: number | null;

  constructor(fields: {
    data: string | Uint8Array;
    format: 'png' | 'jpeg';
    expected_tokens?: number | null;
  }) {
    this.data = fields.data;
    this.format = fields.format;
    this.expected_tokens = fields.expected_tokens ?? null;
  }

  get length(): number {
    if (this.expected_tokens === null) {
      throw new ValidationError(
        'ImageChunk.length needs expected_tokens; set it when creating the chunk.',
      );
    }
    return this.expected_tokens;
  }

  toJSON() {
    return {
      type: this.type,
      data: this.data,
      format: this.format,
      expected_tokens: this.expected_tokens,
    };
  }
}

export type ModelInputChunk = EncodedTextChunk | ImageChunk;

export class ModelInput {
  readonly chunks: readonly ModelInputChunk[];

  constructor(fields: { chunks: readonly (ModelInputChunk | ChunkLike)[] }) {
    this.chunks = Object.freeze(fields.chunks.map(toChunk));
  }

  static from_ints(tokens: readonly number[]): ModelInput {
    return new ModelInput({ chunks: [new EncodedTextChunk({ tokens })] });
  }

  static empty(): ModelInput {
    return new ModelInput({ chunks: [] });
  }

  /** A `ModelInput` from itself or a plain object of the same shape (e.g. parsed JSON). */
  static from_json(value: ModelInput | { chunks: readonly ChunkLike[] }): ModelInput {
    if (value instanceof ModelInput) return value;
    if (!value || !Array.isArray((value as { chunks?: unknown }).chunks)) {
      throw new ValidationError(
        'model_input must be a ModelInput or { chunks: [...] }; build one with ModelInput.from_ints(tokens).',
      );
    }
    return new ModelInput(value);
  }

  get length(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  to_ints(): number[] {
    const out: number[] = [];
    for (const chunk of this.chunks) {
      if (chunk.type !== 'encoded_text') {
        throw new ValidationError(
          'to_ints() cannot convert an image chunk to token ids; this input holds one.',
        );
      }
      out.push(...chunk.tokens);
    }
    return out;
  }

  append(chunk: ModelInputChunk | ChunkLike): ModelInput {
    return new ModelInput({ chunks: [...this.chunks, toChunk(chunk)] });
  }

  append_int(token: number): ModelInput {
    return this.append(new EncodedTextChunk({ tokens: [token] }));
  }

  toJSON() {
    return { chunks: this.chunks.map((c) => c.toJSON()) };
  }
}

export type ChunkLike =
  | { type: 'encoded_text'; tokens: readonly number[] }
  | {
      type: 'image';
      data: string | Uint8Array;
      format: 'png' | 'jpeg';
      expected_tokens?: number | null;
    };

function toChunk(chunk: ModelInputChunk | ChunkLike): ModelInputChunk {
  if (chunk instanceof EncodedTextChunk || chunk instanceof ImageChunk) return chunk;
  if (chunk?.type === 'encoded_text' && Array.isArray(chunk.tokens))
    return new EncodedTextChunk(chunk);
  if (chunk?.type === 'image') return new ImageChunk(chunk);
  throw new ValidationError(
    `a ModelInput chunk must be { type: 'encoded_text', tokens } or { type: 'image', data, format }; got ${show(chunk)}.`,
  );
}
