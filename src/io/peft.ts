/**
 * Hugging Face PEFT LoRA adapter files: `adapter_model.safetensors` with keys
 * `base_model.model.<module path>.lora_{A,B}.weight` (A [r, in], B [out, r]) and
 * `adapter_config.json` (shared/reference/models-and-formats.md §4). Writing is a renaming-free
 * dump of the adapter; reading checks every key, shape and the config before anything is built.
 *
 * `rank_pattern` / `alpha_pattern` give some modules their own r_m and alpha_m (PEFT's
 * `get_pattern_key`: the first key k, in order, such that the module name matches `(.*\.)?(k)$`).
 * The engine runs one rank and one scale per adapter, so such an adapter is read into an equal one:
 * rank R = max r_m, A_m padded with zero rows and B_m with zero columns to R (B·A unchanged), and
 * B_m scaled by (alpha_m / r_m) / (lora_alpha / r), the adapter's scale being lora_alpha / r. The
 * outputs are exactly PEFT's; the padded components have zero gradient and stay zero in training.
 *
 * The optimiser step an adapter was saved at travels in the safetensors header's `__metadata__`
 * (`"loops_web.step": "6"`), not in adapter_config.json: PEFT before 0.14 refuses a config with a
 * key it does not know ("unexpected keyword argument"), while every safetensors reader ignores
 * metadata it does not know. Adapters from elsewhere have no step; `step` is then null.
 */
import { InvalidFileError } from '../errors/loops-errors';
import type { ModelConfig } from '../model/config';
import {
  ATTENTION_PROJECTIONS,
  MLP_PROJECTIONS,
  canonicalTensorName,
  layerProjections,
  peftModulePath,
  unembedProjection,
  type ProjectionName,
  type ProjectionSpec,
} from '../model/weight-names';
import { parseSafetensorsHeader, readTensorAsFloat32 } from './safetensors';
import { writeSafetensors } from './safetensors-writer';

export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';
/** The `__metadata__` key of adapter_model.safetensors holding the step it was saved at. */
export const STEP_METADATA_KEY = 'loops_web.step';

export interface PeftAdapterData {
  readonly rank: number;
  readonly alpha: number;
  readonly targets: readonly ProjectionName[];
  /** Factors by module path in the checkpoint's naming (as the model's weights are keyed). */
  readonly factors: ReadonlyMap<string, { readonly a: Float32Array; readonly b: Float32Array }>;
  /** Optimiser steps the adapter was trained for, when its file says (ours do); else null. */
  readonly step?: number | null;
}

export function writePeftAdapter(
  model: ModelConfig,
  baseModel: string,
  data: PeftAdapterData,
): { weights: Uint8Array; config: Record<string, unknown> } {
  const specs = specsByPath(model);
  const tensors = [...data.factors].flatMap(([path, f]) => {
    const spec = specs.get(path);
    if (!spec)
      throw new InvalidFileError(`adapter module ${path} is not a projection of this model.`);
    const key = `base_model.model.${peftModulePath(model, path)}`;
    return [
      { name: `${key}.lora_A.weight`, shape: [data.rank, spec.inFeatures], data: f.a },
      { name: `${key}.lora_B.weight`, shape: [spec.outFeatures, data.rank], data: f.b },
    ];
  });
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: data.rank,
    lora_alpha: data.alpha,
    lora_dropout: 0,
    bias: 'none',
    fan_in_fan_out: model.family === 'gpt2',
    target_modules: [...data.targets],
    use_rslora: false,
    inference_mode: true,
  };
  const metadata: Record<string, string> = { format: 'pt' };
  if (data.step !== undefined && data.step !== null)
    metadata[STEP_METADATA_KEY] = String(data.step);
  return { weights: writeSafetensors(tensors, metadata), config };
}

const KEY = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

/** One module's halves as read, with its own rank and alpha. */
interface ModuleFactors {
  a?: Float32Array;
  b?: Float32Array;
  readonly spec: ProjectionSpec;
  readonly rank: number;
  readonly alpha: number;
}

/** Parses and checks a PEFT adapter for `model`; throws `InvalidFileError` naming the problem. */
export function readPeftAdapter(
  model: ModelConfig,
  weightsBytes: Uint8Array,
  configJson: unknown,
): PeftAdapterData {
  const { rank, alpha, rankOf, alphaOf } = readConfig(configJson);
  const header = parseSafetensorsHeader(weightsBytes, ADAPTER_WEIGHTS);
  const specs = specsByPath(model);
  const modules = new Map<string, ModuleFactors>();
  for (const entry of header.tensors) {
    const match = KEY.exec(entry.name);
    const path = match ? canonicalTensorName(model, match[1] as string) : null;
    const spec = path ? specs.get(path) : undefined;
    if (!match || !path || !spec) {
      throw new InvalidFileError(
        `${ADAPTER_WEIGHTS}: tensor ${entry.name} is not a LoRA factor of a projection of this ${model.family} model.`,
      );
    }
    const slot = modules.get(path) ?? {
      spec,
      rank: rankOf(match[1] as string),
      alpha: alphaOf(match[1] as string),
    };
    const isA = match[2] === 'A';
    const want = isA ? [slot.rank, spec.inFeatures] : [spec.outFeatures, slot.rank];
    if (entry.shape.length !== 2 || entry.shape[0] !== want[0] || entry.shape[1] !== want[1]) {
      throw new InvalidFileError(
        `${ADAPTER_WEIGHTS}: ${entry.name} has shape [${entry.shape.join(', ')}], expected [${want.join(', ')}] for rank ${slot.rank}.`,
      );
    }
    slot[isA ? 'a' : 'b'] = readTensorAsFloat32(weightsBytes, entry, ADAPTER_WEIGHTS);
    modules.set(path, slot);
  }
  if (modules.size === 0) throw new InvalidFileError(`${ADAPTER_WEIGHTS} holds no LoRA factors.`);
  const targets = [...new Set([...modules.values()].map((m) => m.spec.projection))];
  const complete = new Set(targets);
  for (const spec of specs.values()) {
    if (complete.has(spec.projection) && !modules.has(spec.path)) {
      throw new InvalidFileError(
        `${ADAPTER_WEIGHTS}: ${spec.path} has no factors though other ${spec.projection} modules do; partial adapters are not supported.`,
      );
    }
  }
  return { ...uniform(modules, rank, alpha, targets), step: stepOf(header.metadata) };
}

/** The step in the metadata, when it is a whole number ≥ 0; anything else is ignored (null). */
function stepOf(metadata: Readonly<Record<string, string>>): number | null {
  const text = metadata[STEP_METADATA_KEY];
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : null;
}

/**
 * One rank and scale for every module (see the module comment): R = max r_m, the scale
 * lora_alpha / r, each module padded to R and its B scaled by its own scale over that one.
 */
function uniform(
  modules: ReadonlyMap<string, ModuleFactors>,
  rank: number,
  alpha: number,
  targets: ProjectionName[],
): PeftAdapterData {
  const scale = alpha / rank;
  const R = Math.max(...[...modules.values()].map((m) => m.rank));
  const factors = new Map<string, { a: Float32Array; b: Float32Array }>();
  for (const [path, m] of modules) {
    const { a, b } = m;
    if (!a || !b)
      throw new InvalidFileError(
        `${ADAPTER_WEIGHTS}: ${path} has lora_${a ? 'A' : 'B'} but not lora_${a ? 'B' : 'A'}.`,
      );
    const ratio = m.alpha / m.rank / scale;
    if (m.rank === R && ratio === 1) {
      factors.set(path, { a, b });
      continue;
    }
    const { inFeatures: I, outFeatures: O } = m.spec;
    const paddedA = new Float32Array(R * I); // [R, I]: rows past r_m stay 0
    paddedA.set(a);
    const paddedB = new Float32Array(O * R); // [O, R]: columns past r_m stay 0
    for (let o = 0; o < O; o++)
      for (let j = 0; j < m.rank; j++) paddedB[o * R + j] = (b[o * m.rank + j] as number) * ratio;
    factors.set(path, { a: paddedA, b: paddedB });
  }
  return { rank: R, alpha: scale * R, targets, factors };
}

/** The config's global r and lora_alpha, and each module's own from the patterns. */
function readConfig(configJson: unknown): {
  rank: number;
  alpha: number;
  rankOf: (module: string) => number;
  alphaOf: (module: string) => number;
} {
  const cfg = configJson as Record<string, unknown> | null;
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg))
    throw new InvalidFileError(`${ADAPTER_CONFIG} is not a JSON object.`);
  if (cfg.peft_type !== undefined && cfg.peft_type !== 'LORA') {
    throw new InvalidFileError(
      `${ADAPTER_CONFIG}: peft_type ${JSON.stringify(cfg.peft_type)} is not LORA; only LoRA adapters load.`,
    );
  }
  if (cfg.use_rslora === true || cfg.use_dora === true) {
    throw new InvalidFileError(
      `${ADAPTER_CONFIG}: rsLoRA/DoRA adapters are not supported; train a plain LoRA adapter.`,
    );
  }
  const rank = checkRank(cfg.r, 'r');
  const alpha = checkAlpha(cfg.lora_alpha ?? 8, 'lora_alpha');
  return {
    rank,
    alpha,
    rankOf: patternLookup(cfg.rank_pattern, 'rank_pattern', rank, checkRank),
    alphaOf: patternLookup(cfg.alpha_pattern, 'alpha_pattern', alpha, checkAlpha),
  };
}

function checkRank(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 4096) {
    throw new InvalidFileError(
      `${ADAPTER_CONFIG}: ${field} must be an integer in [1, 4096], got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function checkAlpha(value: unknown, field: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidFileError(
      `${ADAPTER_CONFIG}: ${field} must be a positive number, got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/** PEFT's `get_pattern_key` over a `{ pattern: value }` object; `fallback` where none matches. */
function patternLookup(
  raw: unknown,
  field: string,
  fallback: number,
  check: (value: unknown, field: string) => number,
): (module: string) => number {
  if (raw === undefined || raw === null) return () => fallback;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidFileError(`${ADAPTER_CONFIG}: ${field} must be an object of module patterns.`);
  const rules = Object.entries(raw as Record<string, unknown>).map(([key, value]) => {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:.*\\.)?(?:${key})$`);
    } catch {
      throw new InvalidFileError(
        `${ADAPTER_CONFIG}: ${field} key ${JSON.stringify(key)} is not a regular expression this engine can read.`,
      );
    }
    return { regex, value: check(value, `${field}[${JSON.stringify(key)}]`) };
  });
  return (module) => rules.find((r) => r.regex.test(module))?.value ?? fallback;
}

function specsByPath(model: ModelConfig): Map<string, ProjectionSpec> {
  const specs = new Map<string, ProjectionSpec>();
  for (let i = 0; i < model.numLayers; i++)
    for (const s of layerProjections(model, i)) specs.set(s.path, s);
  const head = unembedProjection(model);
  specs.set(head.path, head);
  return specs;
}

/** Every projection name a LoRA may target in this family. */
export function targetableProjections(model: ModelConfig): ProjectionName[] {
  return [...ATTENTION_PROJECTIONS[model.family], ...MLP_PROJECTIONS[model.family], 'lm_head'];
}
