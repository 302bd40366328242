/**
 * A LoRA adapter: the A/B variables for every targeted projection of a model, created fresh
 * (A Kaiming-uniform, B zero, so the adapter starts as a no-op) or from saved arrays.
 *
 * Init as PEFT: `kaiming_uniform_(A, a=√5)` draws U(−b, b) with b = gain·√(3 / fan_in),
 * gain = √(2 / (1 + a²)) = √(1/3), so b = 1/√in. Scale = lora_alpha / r.
 * Keys are module paths in the checkpoint's naming (`model.layers.0.self_attn.q_proj`, `lm_head`);
 * `peftKey` gives the PEFT file name, so export is a renaming-free write.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config';
import {
  ATTENTION_PROJECTIONS,
  MLP_PROJECTIONS,
  layerProjections,
  peftModulePath,
  unembedProjection,
  type ProjectionName,
  type ProjectionSpec,
} from '../model/weight-names';
import { ValidationError } from '../errors/loops-errors';
import { createRng } from '../runtime/prng';

export interface LoraConfig {
  /** r: the rank of A and B. */
  readonly rank: number;
  /** lora_alpha; the update is scaled by alpha / r. */
  readonly alpha: number;
  /** Projections to adapt, by short name (q_proj, c_attn, lm_head, …). */
  readonly targets: readonly ProjectionName[];
  /** Seed of A's init; same seed ⇒ same adapter. */
  readonly seed: number;
}

/** Default lora_alpha: 32, the value Tinker-style trainers use at every rank. */
export const DEFAULT_LORA_ALPHA = 32;

/** Targets for Tinker's switches: attention, MLP and unembedding projections. */
export function targetsFor(
  config: ModelConfig,
  opts: { trainAttn: boolean; trainMlp: boolean; trainUnembed: boolean },
): ProjectionName[] {
  return [
    ...(opts.trainAttn ? ATTENTION_PROJECTIONS[config.family] : []),
    ...(opts.trainMlp ? MLP_PROJECTIONS[config.family] : []),
    ...(opts.trainUnembed ? (['lm_head'] as const) : []),
  ];
}

export interface LoraFactorArrays {
  /** Row-major [R, in]. */
  readonly a: Float32Array;
  /** Row-major [out, R]. */
  readonly b: Float32Array;
}

export interface LoraModule {
  readonly spec: ProjectionSpec;
  /** [R, in] */
  readonly a: tf.Variable<tf.Rank.R2>;
  /** [out, R] */
  readonly b: tf.Variable<tf.Rank.R2>;
}

export class LoraAdapter {
  readonly modules: ReadonlyMap<string, LoraModule>;
  readonly scale: number;

  private constructor(
    readonly config: LoraConfig,
    readonly modelConfig: ModelConfig,
    modules: Map<string, LoraModule>,
  ) {
    this.modules = modules;
    this.scale = config.alpha / config.rank;
  }

  /** A fresh adapter: A ~ U(−1/√in, 1/√in) from the seed, B = 0 (the model is unchanged). */
  static create(modelConfig: ModelConfig, config: LoraConfig): LoraAdapter {
    validateLoraConfig(modelConfig, config);
    const rng = createRng(config.seed);
    const modules = new Map<string, LoraModule>();
    for (const spec of targetSpecs(modelConfig, config.targets)) {
      const bound = 1 / Math.sqrt(spec.inFeatures);
      const a = new Float32Array(config.rank * spec.inFeatures);
      for (let i = 0; i < a.length; i++) a[i] = (2 * rng() - 1) * bound;
      modules.set(spec.path, {
        spec,
        a: ownedVariable(tf.tensor2d(a, [config.rank, spec.inFeatures])),
        b: ownedVariable(tf.zeros([spec.outFeatures, config.rank])),
      });
    }
    return new LoraAdapter(config, modelConfig, modules);
  }

  /**
   * An adapter from saved factors (a checkpoint or an imported PEFT file), keyed by module path.
   * Every targeted module must be present with shapes A [r, in], B [out, r].
   */
  static fromArrays(
    modelConfig: ModelConfig,
    config: LoraConfig,
    factors: ReadonlyMap<string, LoraFactorArrays>,
  ): LoraAdapter {
    validateLoraConfig(modelConfig, config);
    const modules = new Map<string, LoraModule>();
    for (const spec of targetSpecs(modelConfig, config.targets)) {
      const f = factors.get(spec.path);
      if (!f)
        throw new ValidationError(
          `LoRA factors for ${spec.path} are missing; the checkpoint does not match its config.`,
        );
      const wantA = config.rank * spec.inFeatures;
      const wantB = spec.outFeatures * config.rank;
      if (f.a.length !== wantA || f.b.length !== wantB) {
        throw new ValidationError(
          `LoRA factors for ${spec.path} have ${f.a.length}/${f.b.length} values; rank ${config.rank} needs A [${config.rank}, ${spec.inFeatures}] and B [${spec.outFeatures}, ${config.rank}].`,
        );
      }
      modules.set(spec.path, {
        spec,
        a: ownedVariable(tf.tensor2d(f.a, [config.rank, spec.inFeatures])),
        b: ownedVariable(tf.tensor2d(f.b, [spec.outFeatures, config.rank])),
      });
    }
    return new LoraAdapter(config, modelConfig, modules);
  }

  /** The factors as plain arrays (copies), keyed by module path: for checkpoints and snapshots. */
  async toArrays(): Promise<Map<string, LoraFactorArrays>> {
    const out = new Map<string, LoraFactorArrays>();
    for (const [path, m] of this.modules) {
      out.set(path, {
        a: Float32Array.from(await m.a.data()),
        b: Float32Array.from(await m.b.data()),
      });
    }
    return out;
  }

  /** A frozen copy (for a sampler pinned to this version); the copy owns its tensors. */
  snapshot(): LoraAdapter {
    const modules = new Map<string, LoraModule>();
    for (const [path, m] of this.modules) {
      modules.set(path, { spec: m.spec, a: tf.variable(m.a, false), b: tf.variable(m.b, false) });
    }
    return new LoraAdapter(this.config, this.modelConfig, modules);
  }

  /** The trainable variables, A then B per module, in a fixed order. */
  get variables(): tf.Variable[] {
    return [...this.modules.values()].flatMap((m) => [m.a, m.b]);
  }

  /** PEFT's key for a module's A or B: `base_model.model.<module path>.lora_A.weight`. */
  peftKey(path: string, which: 'A' | 'B'): string {
    return `base_model.model.${peftModulePath(this.modelConfig, path)}.lora_${which}.weight`;
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** A trainable variable made from `init`, which is disposed (the variable keeps its own handle). */
function ownedVariable<R extends tf.Rank>(init: tf.Tensor<R>): tf.Variable<R> {
  const v = tf.variable(init, true);
  init.dispose();
  return v;
}

function targetSpecs(config: ModelConfig, targets: readonly ProjectionName[]): ProjectionSpec[] {
  const wanted = new Set(targets);
  const specs: ProjectionSpec[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    for (const spec of layerProjections(config, i))
      if (wanted.has(spec.projection)) specs.push(spec);
  }
  if (wanted.has('lm_head')) specs.push(unembedProjection(config));
  return specs;
}

function validateLoraConfig(model: ModelConfig, config: LoraConfig): void {
  if (!Number.isInteger(config.rank) || config.rank < 1 || config.rank > 4096) {
    throw new ValidationError(
      `LoRA rank must be an integer in [1, 4096], got ${config.rank}; 8 to 64 is typical.`,
    );
  }
  if (!(config.alpha > 0) || !Number.isFinite(config.alpha)) {
    throw new ValidationError(`lora_alpha must be a positive number, got ${config.alpha}.`);
  }
  const allowed = new Set<ProjectionName>([
    ...ATTENTION_PROJECTIONS[model.family],
    ...MLP_PROJECTIONS[model.family],
    'lm_head',
  ]);
  const bad = config.targets.filter((t) => !allowed.has(t));
  if (bad.length) {
    throw new ValidationError(
      `LoRA targets ${bad.join(', ')} do not exist in a ${model.family} model; choose from ${[...allowed].join(', ')}.`,
    );
  }
  if (config.targets.length === 0) {
    throw new ValidationError(
      'LoRA needs at least one target; enable attention, MLP or unembedding training.',
    );
  }
}
