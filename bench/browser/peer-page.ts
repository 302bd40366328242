/**
 * The page side of `npm run bench:peer` (bench/peer.ts): one side of the comparison per page, the
 * peer `@genai-fi/nanogpt` on the page's main thread (as it runs in its own app) or our engine in
 * its Web Worker through the public `ServiceClient`, on the same model dimensions:
 * - time to first step: from the call (backend start included) until the first training step's
 *   loss is on the page;
 * - training: LoRA r8 on attention and MLP, one step at a time, the loss read back after each
 *   (peer: its trainer's own `trainStep` + one `data()`; ours: `forward_backward` + `optim_step`);
 *   untimed warm-up steps, then the median of the timed ones;
 * - decoding at batch 1 with the adapter on: a call making `decode + 1` tokens against one making
 *   1 (the same prompt prefill), the difference per decoded token.
 * Each side runs in a fresh browser context (bench/peer.ts), so the two never share a GPU device,
 * a TF.js engine or compiled kernels. Nothing here judges the figures.
 */

export type Side = 'peer' | 'ours';
export type SideBackend = 'webgpu' | 'wasm' | 'cpu';

export interface PeerShape {
  readonly layers: number;
  readonly heads: number;
  readonly width: number;
  readonly vocab: number;
  readonly batch: number;
  readonly seq: number;
}

export interface SideOptions {
  readonly side: Side;
  readonly backend: SideBackend;
  /** Ours on webgpu: our kernels (true) or TF.js's stock ops (false). */
  readonly gpuKernels?: boolean;
  /**
   * The peer's model: 'v2' (its default: RoPE, RMSNorm without gain) or 'v1' with learned
   * positions (GPT-2-like). 1.3.0 has no cpu kernel for v2's RMSNormNoGamma, so cpu runs v1.
   */
  readonly peerModel?: 'v1' | 'v2';
  /** Ours: false turns the engine's compile-up-front warm-up off (an A/B of time to first step). */
  readonly warmUp?: boolean;
  readonly shape: PeerShape;
  /** Our side: the random model's repo id on the page's own hub (`hubUrl`). */
  readonly repo: string;
  readonly hubUrl: string;
  readonly rank: number;
  readonly warmupSteps: number;
  readonly steps: number;
  readonly decode: number;
  readonly prompt: number;
  readonly decodeReps: number;
}

export interface SideResult {
  readonly backend: string;
  readonly adapter: string | null;
  readonly timeToFirstStepMs: number;
  readonly stepsMs: number[];
  readonly medianStepMs: number;
  readonly tokensPerSecond: number;
  readonly losses: number[];
  readonly prefillMs: number[];
  readonly fullMs: number[];
  readonly decodeTokens: number;
  readonly decodeTokensPerSecond: number;
}

const SEED = 1234;
const LEARNING_RATE = 5e-3;
const LORA_ALPHA = 32;

function progress(what: string): void {
  console.info(`bench: ${what} at ${(performance.now() / 1000).toFixed(1)} s`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Token ids in [1, vocab) from a seeded LCG, row after row. */
function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 1 + Math.floor((s / 2 ** 32) * (vocab - 1));
  });
}

/** Rows of seq + 1 ids: inputs are the first seq, targets the last seq. */
function batchRows({ batch, seq, vocab }: PeerShape): number[][] {
  return Array.from({ length: batch }, (_, b) => randomIds(seq + 1, vocab, SEED + b));
}

async function timedSteps(step: () => Promise<number>, options: SideOptions) {
  for (let i = 0; i < options.warmupSteps; i++) await step();
  const stepsMs: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const t = performance.now();
    losses.push(await step());
    stepsMs.push(performance.now() - t);
  }
  const medianStepMs = median(stepsMs);
  const { batch, seq } = options.shape;
  return { stepsMs, losses, medianStepMs, tokensPerSecond: (batch * seq * 1000) / medianStepMs };
}

async function timedDecode(generate: (tokens: number) => Promise<number>, options: SideOptions) {
  await generate(2); // untimed: the decode step's kernels compiled
  const prefillMs: number[] = [];
  const fullMs: number[] = [];
  let decodeTokens = 0;
  for (let i = 0; i < options.decodeReps; i++) {
    let t = performance.now();
    await generate(1);
    prefillMs.push(performance.now() - t);
    t = performance.now();
    decodeTokens = (await generate(options.decode + 1)) - 1;
    fullMs.push(performance.now() - t);
  }
  const ms = median(fullMs) - median(prefillMs);
  return { prefillMs, fullMs, decodeTokens, decodeTokensPerSecond: (decodeTokens * 1000) / ms };
}

// ---- ours: the engine in its Worker through ServiceClient -------------------------------------

/** The engine's own Worker, started with the warm-up off (an engine init option, not a client one). */
async function registerNoWarmUp(): Promise<void> {
  const { registerPlacement, workerLink } = await import('../../src/index');
  registerPlacement('worker-no-warm-up', () => {
    const link = workerLink();
    const engine = new Proxy(link.engine, {
      get(target, prop, receiver) {
        if (prop !== 'init') return Reflect.get(target, prop, receiver) as unknown;
        return (backend: unknown, options: object) =>
          target.init(backend as never, { ...options, warmUp: false } as never);
      },
    });
    return { ...link, engine };
  });
}

async function runOurs(options: SideOptions): Promise<SideResult> {
  if (options.warmUp === false) await registerNoWarmUp();
  const { ServiceClient, AdamParams, Datum, ModelInput, SamplingParams, TensorData } =
    await import('../../src/index');
  const t0 = performance.now();
  const service = new ServiceClient({
    ...(options.warmUp === false ? { engine: 'worker-no-warm-up' } : {}),
    backend: options.backend,
    hub_url: options.hubUrl,
    ...(options.gpuKernels === undefined ? {} : { gpu_kernels: options.gpuKernels }),
  });
  try {
    const report = await service.backend();
    const tc = await service.create_lora_training_client({
      base_model: options.repo,
      rank: options.rank,
      seed: SEED,
    });
    progress('loaded');
    const data = batchRows(options.shape).map(
      (ids) =>
        new Datum({
          model_input: ModelInput.from_ints(ids.slice(0, -1)),
          loss_fn_inputs: {
            target_tokens: new TensorData({
              data: ids.slice(1),
              dtype: 'int64',
              shape: [options.shape.seq],
            }),
          },
        }),
    );
    const adam = new AdamParams({ learning_rate: LEARNING_RATE });
    const step = async () => {
      const out = await tc.forward_backward(data, 'cross_entropy');
      await tc.optim_step(adam);
      return out.loss / (options.shape.batch * options.shape.seq);
    };
    await step();
    const timeToFirstStepMs = performance.now() - t0;
    progress('first step done');
    const training = await timedSteps(step, options);
    progress('trained');
    const sc = await tc.save_weights_and_get_sampling_client();
    const prompt = ModelInput.from_ints(randomIds(options.prompt, options.shape.vocab, SEED));
    const decoding = await timedDecode(async (tokens) => {
      const params = new SamplingParams({ max_tokens: tokens, temperature: 1, seed: SEED });
      const out = await sc.sample(prompt, 1, params);
      return out.sequences[0]?.tokens.length ?? 0;
    }, options);
    progress('decoded');
    const a = report.adapter;
    const gpu = report.backend === 'webgpu' && a ? a.description || a.architecture : null;
    const backend = report.wasm ? `wasm, ${report.wasm.threads} threads` : report.backend;
    return { backend, adapter: gpu, timeToFirstStepMs, ...training, ...decoding };
  } finally {
    await service.close();
  }
}

// ---- the peer: @genai-fi/nanogpt on the page ---------------------------------------------------

/** The peer's TF.js engine (its bundled copy registers itself on the page's global object). */
interface PeerEngine {
  makeTensor(values: Int32Array, shape: number[], dtype: 'int32'): PeerTensor;
}
interface PeerTensor {
  data(): Promise<Float32Array | Int32Array>;
  dispose(): void;
}
/** BasicTrainer's members the peer's own training loop calls (protected/private in its types). */
interface PeerTrainer {
  configure(options: unknown): void;
  dummyPass(): Promise<void>;
  trainStep(state: object, batch: { xs: PeerTensor; ys: PeerTensor }): PeerTensor;
}

async function runPeer(options: SideOptions): Promise<SideResult> {
  if (options.backend === 'wasm') throw new Error('the peer has no wasm backend');
  const nano = await import('@genai-fi/nanogpt');
  const { TeachableLLM, training } = nano;
  const t0 = performance.now();
  await TeachableLLM.selectBackend(options.backend);
  const { layers, heads, width, vocab, batch, seq } = options.shape;
  const dims = { vocabSize: vocab, blockSize: seq, nLayer: layers, nHead: heads, nEmbed: width };
  const llm = TeachableLLM.create(
    'char',
    options.peerModel === 'v1'
      ? { modelType: 'GenAI_NanoGPT_v1', useRope: false, mlpFactor: 4, ...dims }
      : { modelType: 'GenAI_NanoGPT_v2', mlpFactor: 4, ...dims },
  );
  await new Promise<void>((resolve, reject) => {
    llm.on('loaded', resolve);
    llm.on('error', reject);
  });
  try {
    const trainingOptions = {
      method: { type: 'supervised', supervised: 'lora' },
      batchSize: batch,
      learningRate: LEARNING_RATE,
      warmupSteps: 0,
      loraName: 'bench',
      loraConfig: {
        rank: options.rank,
        alpha: LORA_ALPHA,
        variables: ['block_*_cAttn', 'block_*_cProj', 'block_*_mlpHidden', 'block_*_mlpOut'],
      },
    } as const;
    const optimizer = new training.AdamWOptimizer({
      learningRate: LEARNING_RATE,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      lossScaling: 1,
      warmupSteps: 0,
      decayEpochs: 100,
      epochSteps: 10_000,
      minLearningRate: 1e-5,
    });
    // Training.restore() builds the trainer its jobs use (SFT for supervised) without starting a
    // job; configure() creates and attaches the LoRA, as a job's start does.
    const log = {
      trainingMetrics: { loss: 0 },
      step: 0,
      time: 0,
      batchSize: batch,
      tokensPerSecond: 0,
      duration: 0,
      totalTokens: 0,
    };
    const job = llm.training.restore(trainingOptions as never, [log], optimizer, [
      { id: 'bench', name: 'bench' } as never,
    ]);
    const trainer = job.trainer as unknown as PeerTrainer;
    trainer.configure(trainingOptions);
    await trainer.dummyPass(); // the peer's training loop starts with this pass
    const engine = (globalThis as unknown as { _tfengine: PeerEngine })._tfengine;
    const rows = batchRows(options.shape);
    const xs = engine.makeTensor(
      Int32Array.from(rows.flatMap((r) => r.slice(0, -1))),
      [batch, seq],
      'int32',
    );
    const ys = engine.makeTensor(
      Int32Array.from(rows.flatMap((r) => r.slice(1))),
      [batch, seq],
      'int32',
    );
    const step = async () => {
      const loss = trainer.trainStep({}, { xs, ys });
      const value = (await loss.data())[0] as number;
      loss.dispose();
      return value;
    };
    try {
      await step();
      const timeToFirstStepMs = performance.now() - t0;
      progress('first step done');
      const trained = await timedSteps(step, options);
      progress('trained');
      const chars = 'the quick brown fox jumps over the lazy dog';
      const input = chars.repeat(4).slice(0, options.prompt);
      const decoding = await timedDecode(async (tokens) => {
        await llm.responses.create({
          input,
          maxLength: tokens,
          temperature: 1,
          loraName: 'bench',
          allowSpecial: true,
          nonConversational: true,
        });
        return tokens; // allowSpecial: no early stop, exactly maxLength tokens
      }, options);
      progress('decoded');
      return {
        backend: `${options.backend}, model ${options.peerModel ?? 'v2'}`,
        adapter: null,
        timeToFirstStepMs,
        ...trained,
        ...decoding,
      };
    } finally {
      xs.dispose();
      ys.dispose();
    }
  } finally {
    llm.dispose();
  }
}

async function runSide(options: SideOptions): Promise<SideResult> {
  return options.side === 'peer' ? runPeer(options) : runOurs(options);
}

export type RunSide = typeof runSide;

Object.assign(window, { runSide });
document.body.dataset.ready = 'true';
