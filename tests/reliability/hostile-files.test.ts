// Hostile files through the public paths: model folders (shipped layout) with a lying
// safetensors header, absurd config.json sizes or a broken tokenizer.json, and PEFT adapters with
// wrong shapes or names through import_peft_adapter. Each must fail with its typed error class (across the
// MessageChannel too), create no tensor, and allocate nothing near what the file claims: the
// engine's tf.memory() is unchanged and the process's peak RSS grows by a few MiB at most, while
// the files claim up to 16 GiB. (Parser-level cases live in tests/unit/safetensors.test.ts and
// weights-loader.test.ts; these are end to end.)
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopsError, ServiceClient, type TrainingClient } from '../../src/index';
import type { EngineMemory } from '../../src/protocol/engine-api';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { BATCHES } from '../helpers/training-data';
import { HOSTILE_MODELS, hostileAdapters, writeHostileModels } from './helpers/hostile-files';
import { REL_PLACEMENTS, placed, registerReliabilityPlacements } from './helpers/placements';

registerReliabilityPlacements(writeHostileModels());
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MIB = 2 ** 20;

const rows: string[] = [];
let peakGrowthMiB = 0;

describe.each(REL_PLACEMENTS)('hostile files over %s', (placement) => {
  let service: ServiceClient;
  let tc: TrainingClient;
  const memory = (): Promise<EngineMemory> => placed.get(placement)!.link.engine.memory();
  let rssBefore = 0;

  beforeAll(async () => {
    service = new ServiceClient({
      engine: placement,
      backend: 'cpu',
      storage_namespace: `hostile-${placement}`,
    });
    // Warm up with the good model, so what follows measures only the hostile files.
    tc = await service.create_lora_training_client(FIXTURE_MODEL, 2, 1);
    await tc.forward_backward(BATCHES[0]!);
    gc();
    rssBefore = process.resourceUsage().maxRSS;
  });
  afterAll(() => service.close());

  /** Runs `call`, expects `errorClass`, and checks that no tensor or memory stayed behind. */
  async function refused(
    name: string,
    claims: number,
    errorClass: string,
    call: () => Promise<unknown>,
  ) {
    const before = await memory();
    gc();
    const heapBefore = process.memoryUsage();
    const error = await call().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error, `${name} was accepted`).toBeInstanceOf(LoopsError);
    expect((error as LoopsError).error_class, `${name}: ${(error as Error).message}`).toBe(
      errorClass,
    );
    const after = await memory();
    gc();
    const heapAfter = process.memoryUsage();
    expect(after.numTensors, `${name}: tensors`).toBe(before.numTensors);
    expect(after.numBytes, `${name}: tensor bytes`).toBe(before.numBytes);
    const heapGrowth =
      heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers;
    expect(heapGrowth, `${name}: heap growth`).toBeLessThan(4 * MIB);
    rows.push(
      `${placement} ${name}: ${errorClass}, claims ${claims.toExponential(1)} B, tensors +${after.numTensors - before.numTensors}, heap ${(heapGrowth / MIB).toFixed(2)} MiB — ${(error as Error).message.slice(0, 110)}`,
    );
  }

  it.each(HOSTILE_MODELS.map((m) => [m.name, m] as const))('model %s', async (_, m) => {
    await refused(m.name, m.claims, m.errorClass, () =>
      service.create_lora_training_client(m.name, 2),
    );
  });

  it('PEFT adapters with wrong shapes, names or config', async () => {
    const { path } = await tc.save_weights_for_sampler('good');
    const [meta] = (await tc.list_checkpoints()).filter((c) => c.path === path);
    const files = await service.get_checkpoint_archive_url(meta!.id);
    const read = async (file: string) =>
      new Uint8Array(
        await (
          await fetch(files.presigned_urls.find((f) => f.relative_file_name === file)!.url)
        ).arrayBuffer(),
      );
    const good = {
      weights: await read('adapter_model.safetensors'),
      config: JSON.parse(new TextDecoder().decode(await read('adapter_config.json'))) as Record<
        string,
        unknown
      >,
    };
    // The good adapter imports (so the refusals below are about the damage, not the setup).
    const ok = await service.import_peft_adapter(FIXTURE_MODEL, good.weights, good.config, 'ok');
    expect(ok.base_model).toBe(FIXTURE_MODEL);
    for (const bad of hostileAdapters(good)) {
      await refused(bad.name, bad.weights.byteLength, bad.errorClass, () =>
        service.import_peft_adapter(FIXTURE_MODEL, bad.weights, bad.config, bad.name),
      );
    }
  });

  it('peak memory stayed small and the engine still trains', async () => {
    const growthMiB = (process.resourceUsage().maxRSS - rssBefore) / 1024;
    peakGrowthMiB = Math.max(peakGrowthMiB, growthMiB);
    // The files above claim up to 16 GiB (2^95 B for the overflowing shape); any allocation of
    // their claims, even of one of them, would push the peak RSS far past this.
    expect(growthMiB).toBeLessThan(128);
    const out = await tc.forward_backward(BATCHES[1]!);
    expect(Number.isFinite(out.loss)).toBe(true);
  });
});

afterAll(() => {
  console.log(
    `[reliability] hostile files: ${rows.length} refused, peak RSS growth ${peakGrowthMiB.toFixed(1)} MiB`,
  );
  for (const row of rows) console.log(`[reliability]   ${row}`);
});
