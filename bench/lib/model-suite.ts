/**
 * The per-model benchmark suite, the same on every backend: LoRA training steps over a grid of
 * batch × sequence shapes, ours against the naive baseline (naive.ts: materialised W + ΔW,
 * full-vocab softmax), with model FLOPs utilisation against the backend's own large-matmul rate;
 * then sampling with num_samples in a list, KV-cached against the no-cache baseline.
 *
 * A shape or baseline that runs out of memory is recorded with its status and the suite goes on
 * (except on wasm, whose module cannot recover from an abort: the caller runs each model in its
 * own process and reads what was written before).
 */
import type * as tf from '@tensorflow/tfjs';
import { LoraAdapter, type LoraConfig } from '../../src/lora/adapter';
import { CausalLM } from '../../src/model/causal-lm';
import type { ModelConfig } from '../../src/model/config';
import { layerProjections } from '../../src/model/weight-names';
import { measureDecode, type DecodeResult } from './decode-timing';
import { measureLoraStep, type StepResult } from './lora-step';
import { NaiveCausalLM, NoCacheDecoder } from './naive';
import { median } from './timing';

export interface GridShape {
  readonly batch: number;
  readonly seq: number;
}

export interface SuiteOptions {
  readonly grid: readonly GridShape[];
  readonly reps: number;
  /** Shapes of `grid` on which the naive baseline's step is also timed. */
  readonly naive: readonly GridShape[];
  readonly samples: readonly number[];
  readonly promptLength: number;
  /** Tokens generated per sequence (the KV-cache target reads 256). */
  readonly decodeTokens: number;
  /**
   * How the no-cache baseline is timed: 'full' decodes every token; 'sampled' times one step at
   * three context lengths and sums the quadratic through them over the decode (for models where a
   * full no-cache decode would take many minutes); 'off' skips it.
   */
  readonly noCache: 'full' | 'sampled' | 'off';
  readonly lora: LoraConfig;
  readonly seed: number;
  /** The backend's large-matmul rate (GFLOP/s) measured in this process: MFU's denominator. */
  readonly matmulGflops: number;
  /** Whether the step passes the cross-entropy's gradient hint (lora-step.ts); default true. */
  readonly gradHint?: boolean;
}

export interface TrainRow extends GridShape {
  readonly modelGflop: number;
  readonly ours:
    | (StepResult & {
        readonly mfu: number;
        /** Peak distinct buffers / float32 weights (the memory target's measure). */
        readonly peakOverWeights: number;
        readonly peakNumBytesOverWeights: number;
      })
    | null;
  readonly oursStatus: string;
  readonly naive: StepResult | null;
  readonly naiveStatus: string;
  /** naive step time / ours. */
  readonly speedup: number | null;
}

export interface NoCacheFigures {
  readonly mode: 'full' | 'sampled';
  /** Step time (ms) at each context length it was taken at. */
  readonly stepMsAt: Readonly<Record<number, number>>;
  /** The whole decode's step time, measured ('full') or summed from the fit ('sampled'). */
  readonly totalStepsMs: number;
}

export interface DecodeRow {
  readonly samples: number;
  readonly cached: DecodeResult | null;
  readonly cachedStatus: string;
  readonly noCache: NoCacheFigures | null;
  /** no-cache total / cached total over the same tokens. */
  readonly speedup: number | null;
}

export interface SuiteReport {
  readonly train: TrainRow[];
  readonly decode: DecodeRow[];
}

/** Runs the suite on a model whose float32 weights are `weights`; frees all it makes. */
export async function runSuite(
  config: ModelConfig,
  weights: ReadonlyMap<string, tf.Tensor>,
  options: SuiteOptions,
  log: (line: string) => void = console.log,
): Promise<SuiteReport> {
  const weightBytes = [...weights.values()].reduce((n, t) => n + 4 * t.size, 0);
  const lora = loraShapes(config, options);
  const stepOptions = (shape: GridShape) => ({
    ...shape,
    warmup: 1,
    reps: options.reps,
    seed: options.seed,
    gradHint: options.gradHint ?? true,
  });
  // Ours first, sampling next, the naive baseline last: it is the one most likely to exhaust
  // memory, and on wasm that leaves the module unusable for whatever would come after it.
  const ours: Attempt<StepResult>[] = [];
  for (const shape of options.grid) {
    const run = await attempt(() =>
      withAdapter(config, options.lora, (a) =>
        measureLoraStep(new CausalLM(config, weights, a), a, stepOptions(shape)),
      ),
    );
    ours.push(run);
    log(`  train ${shape.batch}×${shape.seq}: ours ${fmt(run.value?.medianMs)} ms (${run.status})`);
  }

  const decode: DecodeRow[] = [];
  await withAdapter(config, options.lora, async (adapter) => {
    const model = new CausalLM(config, weights, adapter);
    for (const samples of options.samples) {
      const common = { promptLength: options.promptLength, samples, seed: options.seed };
      const cached = await attempt(() =>
        measureDecode(model, { ...common, tokens: options.decodeTokens }),
      );
      const noCache = await attempt(() => timeNoCache(model, options, samples));
      const speedup =
        cached.value && noCache.value
          ? noCache.value.totalStepsMs / cached.value.totalStepsMs
          : null;
      decode.push({
        samples,
        cached: cached.value,
        cachedStatus: cached.status,
        noCache: noCache.value,
        speedup,
      });
      log(
        `  decode ×${samples}: cached ${fmt(cached.value?.totalStepsMs)} ms, ` +
          `no cache ${fmt(noCache.value?.totalStepsMs)} ms (${noCache.status})`,
      );
    }
  });

  const train: TrainRow[] = [];
  for (const [i, shape] of options.grid.entries()) {
    const mine = ours[i] as Attempt<StepResult>;
    const wanted = options.naive.some((n) => n.batch === shape.batch && n.seq === shape.seq);
    const naive: Attempt<StepResult> = wanted
      ? await attempt(() =>
          withAdapter(config, options.lora, (a) =>
            measureLoraStep(
              new NaiveCausalLM(config, weights, a, { checkpointLayers: false }),
              a,
              stepOptions(shape),
            ),
          ),
        )
      : { value: null, status: 'not run' };
    log(
      `  train ${shape.batch}×${shape.seq}: naive ${fmt(naive.value?.medianMs)} ms (${naive.status})`,
    );
    const modelGflop = trainingFlops(config, options.lora.rank, lora, shape) / 1e9;
    const oursRow = mine.value && {
      ...mine.value,
      mfu: modelGflop / (mine.value.medianMs / 1000) / options.matmulGflops,
      peakOverWeights: mine.value.peakBufferBytes / weightBytes,
      peakNumBytesOverWeights: mine.value.peakNumBytes / weightBytes,
    };
    train.push({
      ...shape,
      modelGflop,
      ours: oursRow,
      oursStatus: mine.status,
      naive: naive.value,
      naiveStatus: naive.status,
      speedup: mine.value && naive.value ? naive.value.medianMs / mine.value.medianMs : null,
    });
  }
  return { train, decode };
}

/** The no-cache baseline's step time over `decodeTokens` tokens after the prompt. */
async function timeNoCache(
  model: CausalLM,
  options: SuiteOptions,
  samples: number,
): Promise<NoCacheFigures | null> {
  if (options.noCache === 'off') return null;
  const decoder = new NoCacheDecoder(model);
  const P = options.promptLength;
  const N = options.decodeTokens;
  const common = { samples, seed: options.seed, decoder };
  if (options.noCache === 'full') {
    const r = await measureDecode(model, { ...common, promptLength: P, tokens: N });
    const at = { [P + 1]: r.stepsMs[0] ?? NaN, [P + N]: r.stepsMs.at(-1) ?? NaN };
    return { mode: 'full', stepMsAt: at, totalStepsMs: r.totalStepsMs };
  }
  // One step with a context of L tokens: a prompt of L − 1 and one step (median of 3 steps).
  const lengths = [P + 1, P + Math.round(N / 2), P + N];
  const stepMsAt: Record<number, number> = {};
  for (const L of lengths) {
    const r = await measureDecode(model, { ...common, promptLength: L - 1, tokens: 3 });
    stepMsAt[L] = median(r.stepsMs);
  }
  const fit = quadraticThrough(lengths.map((L) => [L, stepMsAt[L] as number] as const));
  let totalStepsMs = 0;
  for (let L = P + 1; L <= P + N; L++) totalStepsMs += fit(L);
  return { mode: 'sampled', stepMsAt, totalStepsMs };
}

/** The quadratic through three points (Lagrange form). */
function quadraticThrough(points: readonly (readonly [number, number])[]): (x: number) => number {
  return (x) =>
    points.reduce((sum, [xi, yi], i) => {
      let term = yi;
      points.forEach(([xj], j) => {
        if (j !== i) term *= (x - xj) / (xi - xj);
      });
      return sum + term;
    }, 0);
}

/** [in, out] of every projection the adapter wraps. */
function loraShapes(config: ModelConfig, options: SuiteOptions): [number, number][] {
  return loraShapesFor(config, options.lora.targets);
}

/** [in, out] of every projection an adapter with these targets wraps (trainingFlops' `lora`). */
export function loraShapesFor(
  config: ModelConfig,
  targetNames: Iterable<string>,
): [number, number][] {
  const targets = new Set<string>(targetNames);
  const shapes: [number, number][] = [];
  for (let i = 0; i < config.numLayers; i++) {
    for (const spec of layerProjections(config, i)) {
      if (targets.has(spec.projection)) shapes.push([spec.inFeatures, spec.outFeatures]);
    }
  }
  if (targets.has('lm_head')) shapes.push([config.hiddenSize, config.vocabSize]);
  return shapes;
}

/**
 * Useful FLOPs of one LoRA step on B×T tokens (a multiply-add is 2 FLOPs): every frozen projection
 * and the unembedding forward and for its input gradient (no weight gradient: frozen), 4·P·N;
 * attention scores and mixing forward (4·B·H·T²·D per layer, as computed: the causal half is not
 * skipped) and twice that backward; each LoRA pair forward, input and weight gradients,
 * 6·r·(in + out)·N. Recomputation (checkpointed blocks, the chunked unembedding's backward) is
 * not useful work and is not counted.
 */
export function trainingFlops(
  config: ModelConfig,
  rank: number,
  lora: readonly [number, number][],
  { batch, seq }: GridShape,
): number {
  const N = batch * seq;
  let frozen = config.vocabSize * config.hiddenSize;
  for (let i = 0; i < config.numLayers; i++) {
    for (const spec of layerProjections(config, i)) frozen += spec.inFeatures * spec.outFeatures;
  }
  const { numHeads: H, headDim: D, numLayers: L } = config;
  const attention = 12 * batch * L * H * seq * seq * D;
  const adapters = lora.reduce((sum, [i, o]) => sum + 6 * rank * (i + o) * N, 0);
  return 4 * frozen * N + attention + adapters;
}

async function withAdapter<T>(
  config: ModelConfig,
  lora: LoraConfig,
  fn: (adapter: LoraAdapter) => Promise<T>,
): Promise<T> {
  const adapter = LoraAdapter.create(config, lora);
  try {
    return await fn(adapter);
  } finally {
    adapter.dispose();
  }
}

interface Attempt<T> {
  readonly value: T | null;
  readonly status: string;
}

/** `fn`'s value and 'ok', or null and the error's first line. */
async function attempt<T>(fn: () => Promise<T>): Promise<Attempt<T>> {
  try {
    return { value: await fn(), status: 'ok' };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { value: null, status: `failed: ${message.split('\n')[0] ?? ''}` };
  }
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? '–' : ms.toFixed(0);
}
