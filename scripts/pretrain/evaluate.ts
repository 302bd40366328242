/**
 * Quality figures of a shipped model, measured through the SAME loader as any Hugging Face model
 * (`loadModelFiles(shippedModelFiles(name, { folder: nodeFolder('public/models') }))`), on wasm:
 *
 * 1. Held-out bits per byte: the held-out documents (corpus.ts) as one stream
 *    `<|endoftext|>` d₀ `<|endoftext|>` d₁ … `<|endoftext|>`, cut into consecutive windows of the
 *    model's context (the last one shorter); every token but the first is predicted once, from the
 *    tokens before it in its window. bpb = Σ −log₂ p(token) / (UTF-8 bytes of the documents). The
 *    separators are predicted too and count in the sum (they stand for 0 bytes), so the figure is
 *    slightly pessimistic. `--max-windows` limits the work (the JSON says how many bytes were used).
 * 2. Samples at temperature 0.8 (top-k/top-p off), `--samples-per-prompt` seeded samples of
 *    `--max-tokens` tokens after each prompt of `PROMPTS` (each prompt follows `<|endoftext|>`, as
 *    a document start does in training): the share of generated words of 3+ letters that are
 *    English words (english-words.ts). The same share over the held-out text is printed as a
 *    ceiling (names and archaic words are not all in the list).
 *
 *   node --import tsx scripts/pretrain/evaluate.ts --model loops-tiny-llama [--seed 1]
 *
 * Writes public/models/<name>/eval.json and prints a few samples.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LoopsError, ValidationError } from '../../src/errors/loops-errors';
import { TextTokenizer } from '../../src/core/tokenizer';
import { normaliseSamplingParams } from '../../src/core/sampling-params';
import { loadModelFiles } from '../../src/engine/model-registry';
import { shippedModelFiles } from '../../src/io/model-source';
import { nodeFolder } from '../../src/io/node-files';
import { CausalLM } from '../../src/model/causal-lm';
import { LmDecoder } from '../../src/model/lm-decoder';
import { selectBackend } from '../../src/runtime/backend';
import { decode } from '../../src/sampling/decode-loop';
import { loadCorpus } from './corpus';
import { englishShare, loadEnglishWords } from './english-words';
import { presetByName } from './model-presets';
import { ENDOFTEXT_ID, encodeDocuments, tokenByteLengths } from './pretrain-data';
import { tokenStream } from './token-windows';
import * as tf from '@tensorflow/tfjs';

/** Short prompts in the voice of each source. */
export const PROMPTS = [
  'The whale',
  'Call me',
  'The sea',
  'Captain Ahab',
  'The ship',
  'It was',
  'The President',
  'Congress',
  'Our country',
  'In the year',
] as const;

export interface EvalOptions {
  readonly name: string;
  readonly root: string;
  readonly seed: number;
  readonly samplesPerPrompt: number;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly maxWindows: number | null;
  readonly batch: number;
}

/** Σ −log₂ p over the held-out stream (see the module comment). */
async function heldoutBits(
  model: CausalLM,
  stream: Int32Array,
  o: EvalOptions,
  tokenBytes: Uint8Array,
) {
  const T = model.config.maxPositions;
  const all: { start: number; len: number }[] = [];
  for (let s = 0; s + 1 < stream.length; s += T)
    all.push({ start: s, len: Math.min(T, stream.length - 1 - s) });
  const used = o.maxWindows === null ? all : all.slice(0, o.maxWindows);
  // Batches of equal-length windows: the full ones in groups of o.batch, the short last one alone.
  const batches: { start: number; len: number }[][] = [];
  for (const w of used) {
    const last = batches[batches.length - 1];
    if (last && last.length < o.batch && last[0]?.len === w.len) last.push(w);
    else batches.push([w]);
  }
  let bits = 0;
  let bytes = 0;
  let tokens = 0;
  for (const batch of batches) {
    const len = batch[0]?.len ?? 0;
    const inputs = new Int32Array(batch.length * len);
    const targets = new Int32Array(batch.length * len);
    batch.forEach(({ start }, b) => {
      inputs.set(stream.subarray(start, start + len), b * len);
      targets.set(stream.subarray(start + 1, start + 1 + len), b * len);
    });
    const lp = tf.tidy(() =>
      model.targetLogprobs(
        tf.tensor2d(inputs, [batch.length, len], 'int32'), // [B, T]
        tf.tensor2d(targets, [batch.length, len], 'int32'), // [B, T]
      ),
    ); // [B, T]
    const values = await lp.data();
    lp.dispose();
    for (const x of values) bits -= x / Math.LN2;
    for (const t of targets) bytes += tokenBytes[t] ?? 0;
    tokens += targets.length;
  }
  return { bits, bytes, tokens, windows: used.length, totalWindows: all.length };
}

async function samples(model: CausalLM, tokenizer: TextTokenizer, o: EvalOptions) {
  const decoder = new LmDecoder(model);
  const params = normaliseSamplingParams(
    { max_tokens: o.maxTokens, temperature: o.temperature, seed: o.seed },
    { vocabSize: model.config.vocabSize, eosTokenIds: model.config.eosTokenIds },
  );
  const out: { prompt: string; completion: string }[] = [];
  for (const prompt of PROMPTS) {
    const ids = [ENDOFTEXT_ID, ...tokenizer.encode(prompt, { add_special_tokens: false })];
    const seqs = await decode(decoder, ids, o.samplesPerPrompt, params, (t) =>
      tokenizer.decode(t, { skip_special_tokens: true }),
    );
    for (const s of seqs) {
      out.push({ prompt, completion: tokenizer.decode(s.tokens, { skip_special_tokens: true }) });
    }
  }
  return out;
}

export async function evaluate(o: EvalOptions): Promise<Record<string, unknown>> {
  const started = performance.now();
  const loaded = await loadModelFiles(shippedModelFiles(o.name, { folder: nodeFolder(o.root) }));
  try {
    const model = new CausalLM(loaded.config, loaded.weights);
    const tokenizer = TextTokenizer.fromJson(
      loaded.tokenizer.tokenizerJson,
      loaded.tokenizer.tokenizerConfig,
    );
    const corpus = loadCorpus();
    const stream = tokenStream(encodeDocuments(tokenizer, corpus.heldout), ENDOFTEXT_ID);
    const held = await heldoutBits(model, stream, o, tokenByteLengths(tokenizer));
    if (o.maxWindows === null && held.bytes !== corpus.stats.heldout.bytes) {
      throw new LoopsError(
        `held-out targets cover ${held.bytes} bytes but the documents have ` +
          `${corpus.stats.heldout.bytes}; the tokenizer does not round-trip the text.`,
      );
    }
    const heldSeconds = (performance.now() - started) / 1000;
    const texts = await samples(model, tokenizer, o);
    const dictionary = loadEnglishWords();
    const share = englishShare(
      texts.map((t) => t.completion),
      dictionary,
    );
    const ceiling = englishShare(corpus.heldout, dictionary);
    return {
      model: o.name,
      backend: tf.getBackend(),
      heldout: {
        bitsPerByte: held.bits / held.bytes,
        natsPerToken: (held.bits * Math.LN2) / held.tokens,
        tokens: held.tokens,
        bytes: held.bytes,
        windows: held.windows,
        totalWindows: held.totalWindows,
        fullSplit: held.windows === held.totalWindows,
        seconds: Math.round(heldSeconds),
      },
      samples: {
        temperature: o.temperature,
        maxTokens: o.maxTokens,
        seed: o.seed,
        count: texts.length,
        words: share.words,
        englishWords: share.english,
        englishWordShare: share.share,
        heldoutTextEnglishWordShare: ceiling.share,
        texts,
      },
      seconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    for (const t of loaded.weights.values()) t.dispose();
  }
}

function parseCli(argv: readonly string[]): EvalOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      model: { type: 'string', default: 'loops-tiny-llama' },
      root: { type: 'string', default: 'public/models' },
      seed: { type: 'string', default: '1' },
      'samples-per-prompt': { type: 'string', default: '2' },
      'max-tokens': { type: 'string', default: '60' },
      temperature: { type: 'string', default: '0.8' },
      'max-windows': { type: 'string' },
      batch: { type: 'string', default: '8' },
    },
  });
  const int = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new ValidationError(`--${flag} ${text} must be an integer ≥ 1.`);
    return n;
  };
  const temperature = Number(values.temperature);
  if (!(temperature >= 0))
    throw new ValidationError(`--temperature ${values.temperature} must be ≥ 0.`);
  return {
    name: presetByName(values.model).name,
    root: values.root,
    seed: Number(values.seed),
    samplesPerPrompt: int('samples-per-prompt', values['samples-per-prompt']),
    maxTokens: int('max-tokens', values['max-tokens']),
    temperature,
    maxWindows:
      values['max-windows'] === undefined ? null : int('max-windows', values['max-windows']),
    batch: int('batch', values.batch),
  };
}

async function main(): Promise<void> {
  try {
    const o = parseCli(process.argv.slice(2));
    await selectBackend('wasm');
    const result = await evaluate(o);
    writeFileSync(join(o.root, o.name, 'eval.json'), `${JSON.stringify(result, null, 2)}\n`);
    const h = result.heldout as { bitsPerByte: number; bytes: number; fullSplit: boolean };
    const s = result.samples as {
      englishWordShare: number;
      words: number;
      heldoutTextEnglishWordShare: number;
      texts: { prompt: string; completion: string }[];
    };
    console.log(
      `${o.name}: held-out ${h.bitsPerByte.toFixed(4)} bits/byte over ${h.bytes} bytes${h.fullSplit ? ' (all)' : ''}`,
    );
    console.log(
      `English words: ${(100 * s.englishWordShare).toFixed(1)}% of ${s.words} generated words of 3+ letters ` +
        `(held-out text itself: ${(100 * s.heldoutTextEnglishWordShare).toFixed(1)}%)`,
    );
    for (const t of s.texts.filter((_, i) => i % 4 === 0))
      console.log(`--- ${t.prompt}|${t.completion}`);
  } catch (error) {
    if (!(error instanceof LoopsError)) throw error;
    console.error(`evaluate: ${error.message}`);
    process.exit(1);
  }
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(resolve(process.argv[1])).href
) {
  await main();
}
