// Hostile model and adapter files for the reliability tests: malformed safetensors (bytes built by
// hand, so the header can lie), absurd config.json values, broken tokenizer.json, and model folders
// in the shipped layout (a models folder with models.json) holding one hostile file each.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURE_CONFIG,
  FIXTURE_MODEL,
  writeFixtureModelTo,
} from '../../helpers/fixture-model-dir';

/** A safetensors file: an 8-byte length (or `claimedLength`), the header, `dataBytes` zeros. */
export function safetensorsBytes(
  header: Record<string, unknown>,
  dataBytes: number,
  claimedLength?: bigint,
): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

const A = 'base_model.model.model.layers.0.self_attn.q_proj';

/** One hostile model folder: which file is replaced, with what, and the error class expected. */
export interface HostileModel {
  readonly name: string;
  readonly file: string;
  readonly bytes: Uint8Array;
  /** Bytes the file's header or config claims (to compare with what was allocated). */
  readonly claims: number;
  readonly errorClass: string;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const GIB = 2 ** 30;

export const HOSTILE_MODELS: readonly HostileModel[] = [
  {
    name: 'st-header-past-end',
    file: 'model.safetensors',
    bytes: safetensorsBytes({}, 0, 1_000_000n),
    claims: 1_000_000,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-header-over-cap',
    file: 'model.safetensors',
    bytes: safetensorsBytes({}, 0, 2n ** 62n),
    claims: 2 ** 62,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-offsets-out-of-range',
    file: 'model.safetensors',
    bytes: safetensorsBytes({ w: { dtype: 'F32', shape: [4, 4], data_offsets: [0, 64] } }, 16),
    claims: 64,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-offsets-overlap',
    file: 'model.safetensors',
    bytes: safetensorsBytes(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      12,
    ),
    claims: 16,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-unknown-dtype',
    file: 'model.safetensors',
    bytes: safetensorsBytes({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, 16),
    claims: 16,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-giant-shape',
    file: 'model.safetensors',
    bytes: safetensorsBytes(
      { w: { dtype: 'F32', shape: [65_536, 65_536], data_offsets: [0, 16] } },
      16,
    ),
    claims: 16 * GIB,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-giant-shape-overflow',
    file: 'model.safetensors',
    bytes: safetensorsBytes(
      { w: { dtype: 'F32', shape: [2 ** 31, 2 ** 31, 2 ** 31], data_offsets: [0, 16] } },
      16,
    ),
    claims: 2 ** 95,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'st-not-json',
    file: 'model.safetensors',
    bytes: (() => {
      const b = safetensorsBytes({ w: 1 }, 0);
      b.fill(0xff, 8);
      return b;
    })(),
    claims: 0,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'config-vocab-1e12',
    file: 'config.json',
    bytes: json({ ...FIXTURE_CONFIG, vocab_size: 1e12 }),
    claims: 1e12 * 32 * 4,
    errorClass: 'UnsupportedModelError',
  },
  {
    name: 'config-absurd-within-limits',
    file: 'config.json',
    bytes: json({
      ...FIXTURE_CONFIG,
      vocab_size: 2 ** 20,
      hidden_size: 2 ** 16,
      intermediate_size: 2 ** 18,
      num_attention_heads: 512,
      num_key_value_heads: 512,
      num_hidden_layers: 1024,
    }),
    claims: 2 ** 20 * 2 ** 16 * 4,
    errorClass: 'UnsupportedModelError',
  },
  {
    name: 'config-bad-types',
    file: 'config.json',
    bytes: json({ ...FIXTURE_CONFIG, hidden_size: '32', num_attention_heads: 0 }),
    claims: 0,
    errorClass: 'UnsupportedModelError',
  },
  {
    name: 'config-not-json',
    file: 'config.json',
    bytes: new TextEncoder().encode('{"architectures": ["LlamaForCausalLM"'),
    claims: 0,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'tokenizer-not-json',
    file: 'tokenizer.json',
    bytes: new TextEncoder().encode('{"model": {"type": "BPE", '),
    claims: 0,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'tokenizer-wrong-structure',
    file: 'tokenizer.json',
    bytes: json({ version: '1.0', model: { type: 'BPE', vocab: [1, 2, 3], merges: 7 } }),
    claims: 0,
    errorClass: 'InvalidFileError',
  },
  {
    name: 'tokenizer-unknown-model',
    file: 'tokenizer.json',
    bytes: json({ version: '1.0', model: { type: 'Eval', code: 'globalThis.pwned = 1' } }),
    claims: 0,
    errorClass: 'InvalidFileError',
  },
];

/** Writes the fixture plus every hostile model as shipped models; returns the models folder. */
export function writeHostileModels(): string {
  const root = mkdtempSync(join(tmpdir(), 'loops-hostile-'));
  writeFixtureModelTo(join(root, FIXTURE_MODEL));
  for (const m of HOSTILE_MODELS) {
    const dir = join(root, m.name);
    writeFixtureModelTo(dir);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, m.file), m.bytes);
  }
  const names = [FIXTURE_MODEL, ...HOSTILE_MODELS.map((m) => m.name)];
  const manifest = { models: names.map((name) => ({ name, max_context_length: 128 })) };
  writeFileSync(join(root, 'models.json'), JSON.stringify(manifest));
  return root;
}

/** PEFT adapters for the fixture model that must be refused, with the expected error class. */
export function hostileAdapters(good: { weights: Uint8Array; config: Record<string, unknown> }) {
  const r = good.config.r as number;
  const wrongRank = safetensorsBytes(
    {
      [`${A}.lora_A.weight`]: {
        dtype: 'F32',
        shape: [r + 1, 32],
        data_offsets: [0, (r + 1) * 128],
      },
      [`${A}.lora_B.weight`]: {
        dtype: 'F32',
        shape: [32, r + 1],
        data_offsets: [(r + 1) * 128, (r + 1) * 256],
      },
    },
    (r + 1) * 256,
  );
  const wrongName = safetensorsBytes(
    {
      [`${A.replace('q_proj', 'qq_proj')}.lora_A.weight`]: {
        dtype: 'F32',
        shape: [r, 32],
        data_offsets: [0, r * 128],
      },
    },
    r * 128,
  );
  const onlyA = safetensorsBytes(
    { [`${A}.lora_A.weight`]: { dtype: 'F32', shape: [r, 32], data_offsets: [0, r * 128] } },
    r * 128,
  );
  const giant = safetensorsBytes(
    { [`${A}.lora_A.weight`]: { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 8] } },
    8,
  );
  const cfg = good.config;
  return [
    { name: 'peft-wrong-rank', weights: wrongRank, config: cfg, errorClass: 'InvalidFileError' },
    { name: 'peft-wrong-name', weights: wrongName, config: cfg, errorClass: 'InvalidFileError' },
    { name: 'peft-a-without-b', weights: onlyA, config: cfg, errorClass: 'InvalidFileError' },
    { name: 'peft-giant-shape', weights: giant, config: cfg, errorClass: 'InvalidFileError' },
    {
      name: 'peft-rank-1e9',
      weights: good.weights,
      config: { ...cfg, r: 1e9 },
      errorClass: 'InvalidFileError',
    },
    {
      name: 'peft-not-lora',
      weights: good.weights,
      config: { ...cfg, peft_type: 'IA3' },
      errorClass: 'InvalidFileError',
    },
    {
      name: 'peft-dora',
      weights: good.weights,
      config: { ...cfg, use_dora: true },
      errorClass: 'InvalidFileError',
    },
    {
      name: 'peft-config-array',
      weights: good.weights,
      config: [1, 2],
      errorClass: 'InvalidFileError',
    },
    {
      name: 'peft-config-not-json',
      weights: good.weights,
      config: '{"r": 4',
      errorClass: 'ValidationError',
    },
  ];
}
