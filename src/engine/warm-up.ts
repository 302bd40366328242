/**
 * Compile up front (issue 12, item 6): on webgpu, right after a base model loads, one small
 * training step (forward_backward + optim_step, and a forward) runs in TF.js's compile-only mode
 * (`WEBGPU_ENGINE_COMPILE_ONLY`), so every shader pipeline it needs is created in parallel
 * (`createComputePipelineAsync`) now, instead of one serial compile after another during the first
 * real step. Our own kernels follow the same mode (gpu-runtime.ts `dispatch`), and
 * `compileCompletion()` waits for both kinds before the model is handed out.
 *
 * Training only, by default: warming the sampler too (`sample: true`) compiled a dozen pipelines
 * the first step never uses, and made the time to the first step 1.2–1.7× longer than no warm-up
 * at all on SwiftShader (docs/PERFORMANCE.md, "Peer comparison"); a first `sample` call compiles
 * its own pipelines when it comes.
 *
 * What compile-only means in TF.js 4.22 (backend_webgpu.js `runWebGPUProgram`, `getBufferData`):
 * every program's pipeline is started and its output buffer allocated, but nothing is recorded or
 * run, so every output is garbage, and a readback answers null. Hence:
 * - the warm-up runs on throwaway state only: its own adapter, gradient buffer, optimizer and
 *   sampler snapshot, all disposed after; the base weights are only read. (A kernel that fills a
 *   lasting cache on first use, such as a table kept on the device, must not fill it while
 *   `compileOnly()` is true.)
 * - readbacks during the warm-up answer zeros of the right size (not null), so the code that
 *   reads them (metrics, token choice) runs its normal path without a warning per read;
 * - TF.js's flag is global, so the warm-up runs only while nothing else can dispatch: the registry
 *   calls it for the only model it holds (no other run or sampler exists).
 *
 * The shapes matter: TF.js picks matmul programs by size, so a first step at a very different
 * batch × length may still compile a few pipelines of its own.
 */
import * as tf from '@tensorflow/tfjs';
import type { TextTokenizer } from '../core/tokenizer';
import { DEFAULT_LORA_ALPHA, LoraAdapter, targetsFor } from '../lora/adapter';
import { ADAM_DEFAULTS } from '../optim/adamw';
import type { SampleRequest, WireDatum } from '../protocol/wire-types';
import { webgpuBackend, type BackendInternals } from '../runtime/webgpu/backend-internals';
import { compileCompletion } from '../runtime/webgpu/gpu-runtime';
import type { LoadedModel } from './model-registry';
import { Run } from './run';
import { Sampler } from './sampler';

const FLAG = 'WEBGPU_ENGINE_COMPILE_ONLY';

export interface WarmUpOptions {
  /** Sequences in the training step; default 4. */
  readonly batch?: number;
  /** Tokens per sequence; default 64 (at most the model's context). */
  readonly seq?: number;
  /** LoRA rank of the throwaway adapter; default 8. */
  readonly rank?: number;
  /** Also run a short sample, compiling the sampler's pipelines; default false. */
  readonly sample?: boolean;
  /** Prompt tokens of that sample; default 16. */
  readonly prompt?: number;
}

export interface WarmUpReport {
  readonly ms: number;
  /** Errors of phases that failed in compile-only mode (the rest still compiled); empty when all ran. */
  readonly errors: string[];
}

/**
 * Runs the warm-up on `model` when TF.js is on webgpu (null otherwise). Never throws for a phase
 * that fails: a failed warm-up only means the first real step compiles what was missed.
 */
export async function warmUp(
  model: LoadedModel,
  options: WarmUpOptions = {},
): Promise<WarmUpReport | null> {
  if (!webgpuBackend()) return null;
  const t0 = performance.now();
  const config = model.config;
  const seq = Math.max(1, Math.min(options.seq ?? 64, config.maxPositions));
  const batch = options.batch ?? 4;
  const promptLength = Math.max(1, Math.min(options.prompt ?? 16, config.maxPositions - 2));
  const adapter = LoraAdapter.create(config, {
    rank: options.rank ?? 8,
    alpha: DEFAULT_LORA_ALPHA,
    targets: targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: false }),
    seed: 0,
  });
  const run = new Run('warm-up', model, adapter, config.maxPositions, 0);
  const tokenizer = model.textTokenizer ?? ({ decode: () => '' } as unknown as TextTokenizer);
  const samplers: Sampler[] = [];
  const errors: string[] = [];
  const phase = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
    }
  };
  try {
    await phase('compile', () =>
      compileOnlyWindow(async () => {
        const data = warmUpBatch(batch, seq, config.vocabSize);
        await phase('forward_backward', () => run.forwardBackward(data, 'cross_entropy', {}, true));
        await phase('optim_step', () => run.optimStep({ ...ADAM_DEFAULTS }));
        // `forward` records no gradient, so its projections may take other kernel variants (the
        // one-dispatch LoRA forward of few rows, ops/lora-projection.ts).
        await phase('forward', () => run.forwardBackward(data, 'cross_entropy', {}, false));
        if (!options.sample) return;
        const sampler = new Sampler('warm-up', model, adapter.snapshot(), 0, tokenizer);
        samplers.push(sampler);
        await phase('sample', () => sampler.sample(sampleRequest(promptLength, config.vocabSize)));
      }),
    );
  } finally {
    for (const s of samplers) s.dispose();
    run.dispose();
  }
  return { ms: performance.now() - t0, errors };
}

/**
 * Runs `fn` in TF.js's compile-only mode on webgpu (pipelines started, nothing recorded, readbacks
 * answering zeros), then waits for every pipeline it started. Only `fn`'s own throwaway work may
 * run meanwhile: the flag is global. Also used by bench/gpu-counts.ts to count a step's work on
 * shapes too slow to run on a software adapter.
 */
export async function compileOnlyWindow<T>(fn: () => Promise<T>): Promise<T> {
  const backend = webgpuBackend();
  if (!backend) throw new Error(`compile-only mode needs webgpu; TF.js is on ${tf.getBackend()}`);
  const env = tf.env();
  const before = env.getBool(FLAG);
  const restoreReads = zeroReadbacks(backend);
  env.set(FLAG, true);
  try {
    return await fn();
  } finally {
    env.set(FLAG, before);
    restoreReads();
    await compileCompletion();
  }
}

/** While compile-only: readbacks answer zeros of the buffer's size (TF.js would answer null). */
function zeroReadbacks(backend: BackendInternals): () => void {
  const target = backend as unknown as Record<string, unknown>;
  const read = backend.getBufferData;
  target.getBufferData = function (this: BackendInternals, buffer: GPUBuffer) {
    if (tf.env().getBool(FLAG)) return Promise.resolve(new ArrayBuffer(buffer.size));
    return read.call(this, buffer);
  };
  return () => {
    target.getBufferData = read;
  };
}

/** `batch` sequences of `seq` token ids (never 0) predicting the next one. */
function warmUpBatch(batch: number, seq: number, vocab: number): WireDatum[] {
  return Array.from({ length: batch }, (_, b) => {
    const ids = Array.from({ length: seq + 1 }, (_, i) => 1 + ((b * 31 + i * 7) % (vocab - 1)));
    return {
      tokens: Int32Array.from(ids.slice(0, seq)),
      inputs: { target_tokens: Int32Array.from(ids.slice(1)) },
    };
  });
}

function sampleRequest(promptLength: number, vocab: number): SampleRequest {
  return {
    samplerId: 'warm-up',
    prompt: Int32Array.from({ length: promptLength }, (_, i) => 1 + ((i * 13) % (vocab - 1))),
    numSamples: 1,
    params: { max_tokens: 2, temperature: 1, top_p: 1, top_k: -1, seed: 0, stop: null },
    includePromptLogprobs: false,
    topkPromptLogprobs: 0,
  };
}
