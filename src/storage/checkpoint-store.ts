/**
 * Checkpoints: named sets of files with their metadata, addressed by path
 * (`idb://loops:<run_id>/weights/<name>`, `idb://loops:<run_id>/sampler_weights/<name>`).
 * In browsers (and Node with an IndexedDB shim) they live in IndexedDB through idb-keyval; without
 * IndexedDB, in memory. A save writes metadata and files in one IndexedDB transaction, so a crash
 * or a failed write (quota exceeded, a value that cannot be stored) leaves the previous checkpoint
 * of that name whole: a write that throws aborts the transaction instead of letting the writes
 * before it commit. A failed save rejects with `RemoteOpError` naming the cause (for example
 * `QuotaExceededError`) and the fix.
 */
import { createStore, delMany, getMany, keys, promisifyRequest, type UseStore } from 'idb-keyval';
import { RemoteOpError, UnknownCheckpointError, ValidationError } from '../errors/loops-errors';
import type { Checkpoint } from '../protocol/wire-types';

export interface StoredCheckpoint {
  readonly meta: Checkpoint;
  readonly files: Readonly<Record<string, Uint8Array>>;
}

export interface CheckpointStore {
  put(checkpoint: StoredCheckpoint): Promise<void>;
  /** By path or id; throws `UnknownCheckpointError` when absent. */
  get(pathOrId: string): Promise<StoredCheckpoint>;
  /** Metadata of every checkpoint (of one run when `runId` is given), oldest first. */
  list(runId: string | null): Promise<Checkpoint[]>;
  delete(pathOrId: string): Promise<void>;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const PATH = /^idb:\/\/loops:([A-Za-z0-9_-]+)\/(weights|sampler_weights)\/([A-Za-z0-9_.-]+)$/;

export function checkpointPath(runId: string, target: 'trainer' | 'sampler', name: string): string {
  if (!NAME.test(name)) {
    throw new ValidationError(
      `checkpoint name ${JSON.stringify(name)} must be 1–128 letters, digits, '_', '.' or '-'; for example "step-10".`,
    );
  }
  return `idb://loops:${runId}/${target === 'trainer' ? 'weights' : 'sampler_weights'}/${name}`;
}

/** The parts of a checkpoint path, or a ValidationError that shows the expected form. */
export function parseCheckpointPath(path: string): {
  runId: string;
  target: 'trainer' | 'sampler';
  name: string;
} {
  const m = PATH.exec(path);
  if (!m) {
    throw new ValidationError(
      `${JSON.stringify(path)} is not a checkpoint path; expected idb://loops:<run_id>/weights/<name> or .../sampler_weights/<name>.`,
    );
  }
  return {
    runId: m[1] as string,
    target: m[2] === 'weights' ? 'trainer' : 'sampler',
    name: m[3] as string,
  };
}

export class IdbCheckpointStore implements CheckpointStore {
  private readonly store: UseStore;

  constructor(namespace: string) {
    this.store = createStore(namespace, 'checkpoints');
  }

  async put(checkpoint: StoredCheckpoint): Promise<void> {
    const path = checkpoint.meta.path;
    try {
      await this.store('readwrite', (store) => {
        try {
          store.put(checkpoint.meta, `meta:${path}`);
          store.put(checkpoint.files, `files:${path}`);
        } catch (error) {
          store.transaction.abort();
          throw error;
        }
        return promisifyRequest(store.transaction);
      });
    } catch (error) {
      throw saveError(path, error);
    }
  }

  async get(pathOrId: string): Promise<StoredCheckpoint> {
    const meta = await this.findMeta(pathOrId);
    const [files] = await getMany<Record<string, Uint8Array>>([`files:${meta.path}`], this.store);
    if (!files) throw unknown(pathOrId);
    return { meta, files };
  }

  async list(runId: string | null): Promise<Checkpoint[]> {
    const metaKeys = (await keys(this.store)).filter((k) => String(k).startsWith('meta:'));
    const metas = (await getMany<Checkpoint>(metaKeys, this.store)).filter(
      (m): m is Checkpoint => !!m,
    );
    return sortAndFilter(metas, runId);
  }

  async delete(pathOrId: string): Promise<void> {
    const meta = await this.findMeta(pathOrId);
    await delMany([`meta:${meta.path}`, `files:${meta.path}`], this.store);
  }

  private async findMeta(pathOrId: string): Promise<Checkpoint> {
    const [direct] = await getMany<Checkpoint>([`meta:${pathOrId}`], this.store);
    if (direct) return direct;
    const found = (await this.list(null)).find((m) => m.id === pathOrId);
    if (!found) throw unknown(pathOrId);
    return found;
  }
}

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly records = new Map<string, StoredCheckpoint>();

  async put(checkpoint: StoredCheckpoint): Promise<void> {
    this.records.set(checkpoint.meta.path, checkpoint);
  }

  async get(pathOrId: string): Promise<StoredCheckpoint> {
    const hit =
      this.records.get(pathOrId) ?? [...this.records.values()].find((r) => r.meta.id === pathOrId);
    if (!hit) throw unknown(pathOrId);
    return hit;
  }

  async list(runId: string | null): Promise<Checkpoint[]> {
    return sortAndFilter(
      [...this.records.values()].map((r) => r.meta),
      runId,
    );
  }

  async delete(pathOrId: string): Promise<void> {
    const hit = await this.get(pathOrId);
    this.records.delete(hit.meta.path);
  }
}

/** IndexedDB when the platform has it, else memory. */
export function defaultCheckpointStore(namespace: string): CheckpointStore {
  return typeof indexedDB === 'undefined'
    ? new MemoryCheckpointStore()
    : new IdbCheckpointStore(namespace);
}

function sortAndFilter(metas: Checkpoint[], runId: string | null): Checkpoint[] {
  return metas
    .filter((m) => runId === null || m.run_id === runId)
    .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
}

function saveError(path: string, error: unknown): RemoteOpError {
  // A transaction aborted without a cause rejects with null.
  const name = error == null ? 'AbortError' : ((error as { name?: string }).name ?? 'Error');
  const reason = error == null ? 'the transaction was aborted' : ((error as Error).message ?? '');
  const fix =
    name === 'QuotaExceededError'
      ? 'free space (delete old checkpoints with delete_checkpoint(), or allow this site more storage) and save again'
      : 'save again under this or another name';
  return new RemoteOpError(
    `could not write checkpoint ${path} to IndexedDB (${name}: ${reason || 'no detail'}); ` +
      `the previous checkpoint of this name, if any, is unchanged. To continue, ${fix}.`,
    name === 'QuotaExceededError' ? name : 'StorageError',
  );
}

function unknown(pathOrId: string): UnknownCheckpointError {
  return new UnknownCheckpointError(
    `no checkpoint ${JSON.stringify(pathOrId)}; list the saved ones with list_checkpoints().`,
  );
}
