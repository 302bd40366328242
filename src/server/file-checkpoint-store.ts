/**
 * Checkpoints on disk for `loops-web serve`, so they outlive the server process as a Tinker
 * service's do: `<root>/<run_id>/<weights|sampler_weights>/<name>/` holds the checkpoint's files
 * and `meta.json`. A save is written to a temporary folder and renamed into place, so a crash
 * mid-save leaves the previous checkpoint of that name whole. Paths are built only from a parsed
 * checkpoint path (`parseCheckpointPath`: run ids and names of letters, digits, '_', '.', '-'),
 * never from raw input, so no request can reach outside `root`.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UnknownCheckpointError } from '../errors/loops-errors';
import type { Checkpoint } from '../protocol/wire-types';
import {
  parseCheckpointPath,
  type CheckpointStore,
  type StoredCheckpoint,
} from '../storage/checkpoint-store';

const META = 'meta.json';

export class FileCheckpointStore implements CheckpointStore {
  constructor(private readonly root: string) {}

  async put(checkpoint: StoredCheckpoint): Promise<void> {
    const dir = this.dirOf(checkpoint.meta.path);
    const tmp = join(this.root, '.tmp', randomBytes(8).toString('hex'));
    await mkdir(tmp, { recursive: true });
    try {
      for (const [name, bytes] of Object.entries(checkpoint.files)) {
        if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`bad checkpoint file name ${name}`);
        await writeFile(join(tmp, name), bytes);
      }
      await writeFile(join(tmp, META), JSON.stringify(checkpoint.meta));
      await mkdir(join(dir, '..'), { recursive: true });
      const old = `${tmp}-old`;
      const replaced = await rename(dir, old).then(
        () => true,
        () => false,
      );
      await rename(tmp, dir);
      if (replaced) await rm(old, { recursive: true, force: true });
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
  }

  async get(pathOrId: string): Promise<StoredCheckpoint> {
    const meta = await this.findMeta(pathOrId);
    const dir = this.dirOf(meta.path);
    const files: Record<string, Uint8Array> = {};
    for (const name of await readdir(dir)) {
      if (name !== META) files[name] = new Uint8Array(await readFile(join(dir, name)));
    }
    return { meta, files };
  }

  async list(runId: string | null): Promise<Checkpoint[]> {
    const metas: Checkpoint[] = [];
    const runs = runId === null ? await entries(this.root) : [runId];
    for (const run of runs) {
      if (run.startsWith('.') || !/^[A-Za-z0-9_-]+$/.test(run)) continue;
      for (const kind of ['weights', 'sampler_weights']) {
        for (const name of await entries(join(this.root, run, kind))) {
          const meta = await readMeta(join(this.root, run, kind, name));
          if (meta) metas.push(meta);
        }
      }
    }
    return metas.sort((a, b) =>
      a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0,
    );
  }

  async delete(pathOrId: string): Promise<void> {
    const meta = await this.findMeta(pathOrId);
    await rm(this.dirOf(meta.path), { recursive: true, force: true });
  }

  private dirOf(path: string): string {
    const { runId, target, name } = parseCheckpointPath(path);
    return join(this.root, runId, target === 'trainer' ? 'weights' : 'sampler_weights', name);
  }

  private async findMeta(pathOrId: string): Promise<Checkpoint> {
    // A path names its folder; anything else is looked up as an id.
    const direct = await Promise.resolve()
      .then(() => readMeta(this.dirOf(pathOrId)))
      .catch(() => null);
    const found = direct ?? (await this.list(null)).find((m) => m.id === pathOrId);
    if (!found)
      throw new UnknownCheckpointError(
        `no checkpoint ${JSON.stringify(pathOrId)}; list the saved ones with list_checkpoints().`,
      );
    return found;
  }
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function readMeta(dir: string): Promise<Checkpoint | null> {
  try {
    return JSON.parse(await readFile(join(dir, META), 'utf8')) as Checkpoint;
  } catch {
    return null;
  }
}
