/**
 * Checkpoints as the user sees them outside a run: listing, the files of one (PEFT layout for
 * sampler checkpoints), deleting, and importing a PEFT adapter made elsewhere as a trainer
 * checkpoint of a new run id (no optimizer state). Saving and loading a run's state is runs.ts.
 */
import { readPeftAdapter } from '../io/peft';
import { LoraAdapter } from '../lora/adapter';
import type { Checkpoint, ImportAdapterRequest, WireCheckpointFile } from '../protocol/wire-types';
import { buildCheckpoint, randomId } from './checkpoints';
import type { EngineContext } from './engine-context';

export class CheckpointLibrary {
  constructor(private readonly ctx: EngineContext) {}

  async importAdapter(request: ImportAdapterRequest): Promise<Checkpoint> {
    this.ctx.ready();
    const base = await this.ctx.registry.acquire(request.baseModel, request.hubUrl);
    try {
      const peft = readPeftAdapter(base.config, request.weights, request.config);
      const adapter = LoraAdapter.fromArrays(
        base.config,
        { rank: peft.rank, alpha: peft.alpha, targets: peft.targets, seed: 0 },
        peft.factors,
      );
      try {
        const source = {
          runId: `imported-${randomId()}`,
          baseModel: base.name,
          modelConfig: base.config,
          adapter,
          seed: 0,
          policyVersion: 0,
        };
        const built = await buildCheckpoint(source, 'trainer', request.name, null);
        // The checkpoint's step is the one the adapter's file records (ours write it; 0 when
        // absent). It brings no optimizer state, so a run restored from it starts at policy
        // version 0 either way.
        const stored = { ...built, meta: { ...built.meta, step: peft.step ?? 0 } };
        await this.ctx.checkpoints().put(stored);
        return stored.meta;
      } finally {
        adapter.dispose();
      }
    } finally {
      await this.ctx.registry.release(base.name);
    }
  }

  list(runId: string | null): Promise<Checkpoint[]> {
    return this.ctx.checkpoints().list(runId);
  }

  async files(idOrPath: string): Promise<WireCheckpointFile[]> {
    const stored = await this.ctx.checkpoints().get(idOrPath);
    return Object.entries(stored.files).map(([name, bytes]) => ({
      name,
      bytes: bytes.slice(),
      lastModified: stored.meta.created_at,
      checkpointId: stored.meta.id,
      checkpointPath: stored.meta.path,
    }));
  }

  delete(idOrPath: string): Promise<void> {
    return this.ctx.checkpoints().delete(idOrPath);
  }
}
