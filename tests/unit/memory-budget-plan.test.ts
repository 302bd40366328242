// The GPU memory plan of a LoRA run, before anything is loaded (src/engine/memory-plan.ts's
// modelMemoryPlan / planProblems), with hand-derived figures, and the lab's refusal of a model
// that will not fit (src/app/model-catalog.ts's fitCheck) against backend reports of a device
// limited on purpose. No browser, no download.
import { describe, expect, it } from 'vitest';
import { fitCheck, HUB_MODELS, refusalBeforeDownload } from '../../src/app/model-catalog';
import { modelMemoryPlan, planProblems, WASM_CHUNK_FLOATS } from '../../src/engine/memory-plan';
import { parseModelConfig } from '../../src/model/config';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../src/model/weight-names';
import type { BackendReport } from '../../src/runtime/backend';
import { FIXTURE_CONFIG } from '../helpers/fixture-model-dir';

const MIB = 2 ** 20;
const GIB = 2 ** 30;
const config = parseModelConfig(FIXTURE_CONFIG); // L 2, C 32, F 64, H 4, K 2, D 8, V 4096, tied
const all = [...ATTENTION_PROJECTIONS.llama, ...MLP_PROJECTIONS.llama, 'lm_head' as const];

describe('modelMemoryPlan (fixture model, rank 4 on every projection, 2 × 8 tokens)', () => {
  const run = { rank: 4, targets: all, batch: 2, seq: 8 };

  it('float32 weights: every term by hand', () => {
    const plan = modelMemoryPlan(config, { ...run, packedProjections: false });
    // Weights: embed 4096·32 = 131 072; per layer 2 norms (64) + q 32·32 + k, v 16·32 each +
    // o 32·32 + gate, up, down 64·32 each = 64 + 1024 + 1024 + 1024 + 6144 = 9280; final norm 32.
    // (131 072 + 2·9280 + 32)·4 = 149 664·4 = 598 656.
    expect(plan.weights).toBe(598_656);
    // Adapter, r·(in + out) per projection: q 4·64 = 256, k 4·48 = 192, v 192, o 256,
    // gate 4·96 = 384, up 384, down 384: 2048 a layer, 4096 for two; lm_head 4·(32 + 4096)
    // = 16 512. 20 608 floats = 82 432 bytes; AdamW's m and v: 164 864.
    expect(plan.adapter).toBe(82_432);
    expect(plan.optimizer).toBe(164_864);
    // Step: trainingStepBytes(2, 8) = 4·(2·2·8·32 + 2·8·(320 + 256) + 4·2·4·8·8)
    // = 4·(1024 + 9216 + 2048) = 49 152; the adapter's gradients 82 432; logits: chunk rows
    // ⌊2²²/4096⌋ = 1024 ≥ 16 tokens, so 6·4·16·4096 = 1 572 864. Sum 1 704 448.
    expect(plan.step).toBe(1_704_448);
    expect(plan.total).toBe(598_656 + 82_432 + 164_864 + 1_704_448);
    // Largest tensor that cannot be split: gate_proj [64, 32] (up and down tie, gate comes first).
    expect(plan.largestTensor).toEqual({
      name: 'model.layers.0.mlp.gate_proj.weight',
      bytes: 8192,
    });
    expect(plan.unembedLoraBytes).toBe(4096 * 4 * 4);
  });

  it('packed bf16: 2 bytes per projection weight and per embedding element', () => {
    const plan = modelMemoryPlan(config, { ...run, packedProjections: true });
    // Projections 1024 + 512 + 512 + 1024 + 3·2048 = 9216 a layer, 18 432 in all, and the
    // embedding 131 072 (C 32 even: packed too), at 2 bytes = 299 008; the norms
    // (2·64 + 32)·4 = 640. Sum 299 648.
    expect(plan.weights).toBe(299_648);
    expect(plan.vocabRowBytes).toBe(64);
    // Step: with our kernels one [n, V] logits buffer a chunk (not six): 49 152 + 82 432 +
    // 4·16·4096 = 393 728.
    expect(plan.step).toBe(393_728);
    expect(plan.largestTensor).toEqual({
      name: 'model.layers.0.mlp.gate_proj.weight',
      bytes: 4096,
    });
  });

  it('wasm: float32 weights, one [n, V] logits tensor a chunk (our row kernels)', () => {
    const plan = modelMemoryPlan(config, { ...run, packedProjections: false, wasm: true });
    expect(plan.weights).toBe(598_656);
    // Step: chunk rows ⌊WASM_CHUNK_FLOATS/4096⌋ ≥ 16 tokens, one buffer: 49 152 + 82 432 +
    // 4·16·4096 = 393 728.
    expect(WASM_CHUNK_FLOATS / 4096).toBeGreaterThanOrEqual(16);
    expect(plan.step).toBe(393_728);
  });

  it('problems: a tensor, lm_head B, an embedding row or the total over the limits', () => {
    const plan = modelMemoryPlan(config, { ...run, packedProjections: false });
    const budget = { bytes: GIB, maxTensorBytes: Infinity, source: 'set for this test' };
    expect(planProblems(config, plan, budget, null)).toEqual([]);
    const tiny = { maxBufferSize: 1 << 20, maxStorageBufferBindingSize: 100 };
    const problems = planProblems(config, plan, { ...budget, bytes: 1 << 20 }, tiny);
    expect(problems).toHaveLength(4);
    expect(plan.vocabRowBytes).toBe(128);
    expect(problems[0]).toMatch(/one row of the 4096-token embedding is 0\.0 MiB/);
    expect(problems[1]).toMatch(/tensor model\.layers\.0\.mlp\.gate_proj\.weight needs/);
    expect(problems[2]).toMatch(/lm_head's LoRA B \[4096, r\] .*lower the rank/);
    expect(problems[3]).toMatch(/needs about 2\.4 MiB .* over the memory budget of 1\.0 MiB/);
  });
});

/** A backend report as the engine gives it on webgpu, with the limits it plans with. */
function webgpuReport(binding: number, buffer: number): BackendReport {
  return {
    backend: 'webgpu',
    requested: 'webgpu',
    adapter: {
      vendor: 'test',
      architecture: 'test',
      device: '',
      description: 'a device limited on purpose',
      isSoftware: false,
      features: [],
      limits: { maxBufferSize: 4 * GIB, maxStorageBufferBindingSize: 2 * GIB },
    },
    reason: null,
    wasm: null,
    gpuLimits: { maxBufferSize: buffer, maxStorageBufferBindingSize: binding },
  };
}

describe("the lab's fit check (Qwen3-0.6B, rank 8, 1 × 256)", () => {
  const qwen3 = HUB_MODELS.find((m) => m.id === 'Qwen/Qwen3-0.6B')!;
  const run = { rank: 8, batch: 1, seq: 256, hostBytes: 16 * GIB };

  it('fits a 128 MiB-binding adapter: the tables split, the rest is under the limit', () => {
    const fit = fitCheck(qwen3, webgpuReport(128 * MIB, 256 * MIB), run)!;
    expect(fit.problems).toEqual([]);
    // Packed (BF16 file on webgpu): the largest projection is gate/up/down [3072, 1024] at 2
    // bytes = 6 MiB; the embedding, 151 936·1024·2 = 311 164 928 bytes packed, is split, not
    // counted. Every weight but the norms is packed: half of 2 384 199 680 float32 bytes, plus
    // the norms' other half (28·(2·1024 + 2·128) + 1024 = 65 536 elements, 131 072 bytes):
    // 1 192 230 912 bytes (1137 MiB), the 1.6 GiB budget met with room to spare.
    expect(fit.plan.largestTensor.bytes).toBe(6 * MIB);
    expect(fit.plan.weights).toBe(1_192_230_912);
    expect(fit.plan.total).toBeLessThan(1.6 * GIB);
  });

  it('a 4 MiB-binding device: refused before download, with the tensor, limit and fix', () => {
    const fit = fitCheck(qwen3, webgpuReport(4 * MIB, 256 * MIB), run)!;
    expect(fit.problems.length).toBe(2);
    const message = refusalBeforeDownload(qwen3.id, fit);
    expect(message).toMatch(
      /^Qwen\/Qwen3-0\.6B will not fit on this device, so it was not downloaded: /,
    );
    expect(message).toContain(
      "tensor model.layers.0.mlp.gate_proj.weight needs 6.0 MiB, over this device's largest buffer of 4.0 MiB; pick a smaller model or the wasm backend.",
    );
    // lm_head's B [151 936, 8] float32 = 4 861 952 bytes = 4.6 MiB.
    expect(message).toContain("lm_head's LoRA B [151936, r] needs 4.6 MiB");
  });

  it('over the memory budget: refused with the figures', () => {
    const fit = fitCheck(qwen3, webgpuReport(128 * MIB, 256 * MIB), {
      ...run,
      hostBytes: 2 * GIB,
    })!;
    expect(fit.problems).toHaveLength(1);
    expect(fit.problems[0]).toMatch(/over the memory budget of 1\.0 GiB \(half the host memory\)/);
  });

  it('wasm: no buffer limits, projections float32; shipped and custom models: no estimate', () => {
    const wasm: BackendReport = { ...webgpuReport(1, 1), backend: 'wasm', gpuLimits: undefined };
    const fit = fitCheck(qwen3, wasm, run)!;
    expect(fit.problems).toEqual([]);
    expect(fit.plan.largestTensor.bytes).toBe(12 * MIB);
    const shipped = {
      id: 'loops-tiny',
      label: 'x',
      source: 'shipped' as const,
      params: 1,
      description: '',
    };
    expect(fitCheck(shipped, wasm, run)).toBeNull();
  });
});
