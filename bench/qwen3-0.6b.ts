/**
 * Qwen3-0.6B at its real shapes on webgpu, with the device limited to 128 MiB bindings (issue 13):
 * builds random weights with the exact Hugging Face names and shapes as a BF16 safetensors file in
 * a temp folder (written tensor by tensor), loads it the engine's way (vocab tables in row parts
 * under the limits, frozen projections packed as bf16 pairs), runs a LoRA r8 step (every
 * attention, MLP and unembedding projection; forward, backward and one AdamW update) at 1 × T, and
 * a short greedy decode. Prints, per phase, the webgpu backend's `numBytesAllocatedInGPU` (its
 * buffer pool only grows, so the figure after a phase is the high-water mark so far) and the live
 * tensor buffers' high-water mark during the phase (bench/lib/peak-memory.ts), plus any WebGPU
 * validation error (a binding over the limit would be one).
 *
 *   LD_LIBRARY_PATH=/usr/lib/chromium VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json \
 *     node --import tsx bench/qwen3-0.6b.ts [--seq 16] [--decode 8] [--prompt 8] [--no-step]
 *
 * On Dawn over SwiftShader (~0.3 GFLOP/s) a 1×256 step (~0.9 TFLOP) takes hours: the default is
 * T = 16 and 8 decoded tokens; on a real GPU pass --seq 256 --decode 64.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ADAM_DEFAULTS } from '../src/core/adam-params';
import { loadWeights } from '../src/io/weights-loader';
import { float32ToBf16Bits } from '../src/io/dtype';
import { LoraAdapter, targetsFor } from '../src/lora/adapter';
import { CausalLM } from '../src/model/causal-lm';
import { parseModelConfig, type ModelConfig } from '../src/model/config';
import { KNOWN_CONFIGS } from '../src/model/known-configs';
import { LmDecoder } from '../src/model/lm-decoder';
import { generateRandomWeights } from '../src/model/random-weights';
import { expectedTensors } from '../src/model/weight-names';
import { AdamW } from '../src/optim/adamw';
import { currentGpuDevice, gpuBufferLimits, selectBackend } from '../src/runtime/backend';
import { webgpuBackend } from '../src/runtime/webgpu/backend-internals';
import { trackPeak } from './lib/peak-memory';

const MIB = 2 ** 20;
const LIMITS = { maxStorageBufferBindingSize: 128 * MIB, maxBufferSize: 256 * MIB };

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

/** Writes `config`'s random weights as one BF16 safetensors file, one tensor at a time. */
function writeBf16File(config: ModelConfig, path: string, seed: number): number {
  const specs = expectedTensors(config);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const s of specs) {
    const bytes = 2 * s.shape.reduce((a, b) => a * b, 1);
    header[s.name] = { dtype: 'BF16', shape: s.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(path, 'w');
  try {
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(json.length), true);
    writeSync(fd, size);
    writeSync(fd, new TextEncoder().encode(json));
    for (const t of generateRandomWeights(config, seed)) {
      const bits = float32ToBf16Bits(t.data);
      writeSync(fd, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  return 8 + json.length + offset;
}

function gpuAllocated(): number {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  return m.numBytesAllocatedInGPU ?? NaN;
}

const rows: [string, string][] = [];
const mib = (b: number) => `${(b / MIB).toFixed(1)} MiB`;
function report(phase: string, peakLive: number, ms: number, extra = ''): void {
  const line = `pool ${mib(gpuAllocated())}, live tensors peak ${mib(peakLive)}, ${(ms / 1000).toFixed(1)} s${extra}`;
  rows.push([phase, line]);
  console.log(`${phase.padEnd(8)} ${line}`);
}

async function main(): Promise<void> {
  const seq = arg('seq', 16);
  const decodeTokens = arg('decode', 8);
  const promptLength = arg('prompt', 8);
  const step = !process.argv.includes('--no-step');
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const nav = globalThis as { navigator?: { gpu?: GPU } };
  if (nav.navigator) Object.defineProperty(nav.navigator, 'gpu', { value: create([]) });
  else nav.navigator = { gpu: create([]) };

  const backend = await selectBackend('webgpu', { gpuLimits: LIMITS });
  const device = currentGpuDevice()!;
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => {
    errors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  console.log(
    `adapter: ${backend.adapter?.description}; device limits: binding ${mib(device.limits.maxStorageBufferBindingSize)}, buffer ${mib(device.limits.maxBufferSize)}; planned with ${JSON.stringify(gpuBufferLimits())}`,
  );

  const config = parseModelConfig(KNOWN_CONFIGS['Qwen/Qwen3-0.6B']);
  const dir = mkdtempSync(join(tmpdir(), 'loops-qwen3-'));
  try {
    let t0 = performance.now();
    const fileBytes = writeBf16File(config, join(dir, 'model.safetensors'), 0);
    console.log(
      `wrote ${mib(fileBytes)} BF16 in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    // Load, then upload every tensor (TF.js uploads on first use): the weights' GPU bytes.
    let weights = new Map<string, tf.Tensor>();
    t0 = performance.now();
    const load = await trackPeak(async () => {
      weights = await loadWeights({
        config,
        hasFile: (f) => Promise.resolve(f === 'model.safetensors'),
        readFile: (f) => Promise.resolve(readFileSync(join(dir, f))),
        limits: gpuBufferLimits(),
        packProjections: 'bf16',
      });
      const backend = webgpuBackend()!;
      for (const t of weights.values()) backend.uploadToGPU(t.dataId); // TF.js uploads on first use
      backend.ensureCommandEncoderReady(); // submitQueue needs an encoder, even an empty one
      backend.submitQueue();
      await device.queue.onSubmittedWorkDone();
    });
    const largest = Math.max(...[...weights.values()].map((t) => t.size * 4));
    const parts = [...weights.keys()].filter((k) => k.includes('@')).length;
    report(
      'load',
      load.peakBufferBytes,
      performance.now() - t0,
      `; ${weights.size} tensors, ${parts} vocab parts, largest ${mib(largest)}`,
    );

    const adapter = LoraAdapter.create(config, {
      rank: 8,
      alpha: 32,
      targets: targetsFor(config, { trainAttn: true, trainMlp: true, trainUnembed: true }),
      seed: 0,
    });
    const model = new CausalLM(config, weights, adapter);
    if (step) {
      const ids = Array.from({ length: seq + 1 }, (_, i) => (i * 7919 + 13) % config.vocabSize);
      const opt = new AdamW();
      t0 = performance.now();
      let loss = NaN;
      const peak = await trackPeak(async () => {
        const tokens = tf.tensor2d([ids.slice(0, seq)], [1, seq], 'int32');
        const targets = tf.tensor2d([ids.slice(1)], [1, seq], 'int32');
        const { value, grads } = tf.variableGrads(
          () => tf.neg(tf.sum(model.targetLogprobs(tokens, targets))) as tf.Scalar,
          adapter.variables,
        );
        loss = (await value.data())[0]!;
        await opt.step(
          adapter.variables,
          adapter.variables.map((v) => grads[v.name]!),
          ADAM_DEFAULTS,
        );
        tf.dispose([tokens, targets, value, ...Object.values(grads)]);
      });
      report(
        `step 1×${seq}`,
        peak.peakBufferBytes,
        performance.now() - t0,
        `; loss ${loss.toFixed(2)} (ln V × T = ${(Math.log(config.vocabSize) * seq).toFixed(2)})`,
      );
    }

    t0 = performance.now();
    const decoded: number[] = [];
    const decode = await trackPeak(async () => {
      const prompt = Array.from({ length: promptLength }, (_, i) => 100 + i);
      const { session, lastLogits } = await new LmDecoder(model).prefill(prompt, 1);
      let logits = lastLogits;
      for (let i = 0; i < decodeTokens; i++) {
        let best = 0;
        for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
        decoded.push(best);
        if (i + 1 < decodeTokens) logits = await session.step([best]);
      }
      session.dispose();
    });
    report(
      `decode ${decodeTokens}`,
      decode.peakBufferBytes,
      performance.now() - t0,
      ` (prompt ${promptLength})`,
    );

    adapter.dispose();
    for (const t of weights.values()) t.dispose();
    console.log(
      `WebGPU validation errors: ${errors.length}${errors.length ? `: ${errors.slice(0, 3).join(' | ')}` : ''}`,
    );
    console.log(
      JSON.stringify({
        model: 'Qwen/Qwen3-0.6B',
        limits: LIMITS,
        seq,
        decodeTokens,
        rows,
        errors: errors.length,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
