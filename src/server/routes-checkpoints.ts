/**
 * Checkpoint routes: list (one run's, or all), delete, the archive of one (Tinker answers a signed
 * URL to a .tar.gz; here a URL with a one-time token, valid 15 minutes, under
 * /api/v1/loops_web/archives/), and loops-web's PEFT adapter import. tinker 0.24.1:
 * resources/weights.py, types/{checkpoint,checkpoints_list_response,checkpoint_archive_url_response}.py.
 */
import { randomBytes } from 'node:crypto';
import type { LoopsImportAdapterRequest } from '../protocol/tinker-wire';
import { HttpError, api, type Route } from './http-server';
import { enginePath, type CheckpointRef } from './tinker/paths';
import { tarGz } from './tinker/tar-writer';
import { tinkerCheckpoint } from './tinker/translate';
import type { TinkerService } from './tinker-service';

const ARCHIVE_TTL_MS = 15 * 60_000;

export function checkpointRoutes(service: TinkerService): Route[] {
  const { engine } = service;
  const archives = new Map<string, { path: string; expires: number }>();
  const list = async (runId: string | null) => {
    const checkpoints = (await engine.listCheckpoints(runId)).map(tinkerCheckpoint);
    return {
      checkpoints,
      cursor: { offset: 0, limit: checkpoints.length, total_count: checkpoints.length },
    };
  };
  return [
    { method: 'GET', pattern: api('checkpoints'), handle: async () => list(null) },
    {
      method: 'GET',
      pattern: api('training_runs/([^/]+)/checkpoints'),
      handle: async (req) => list(req.params[0]!),
    },
    {
      method: 'DELETE',
      pattern: api('training_runs/([^/]+)/checkpoints/(.+)'),
      handle: async (req) => {
        await engine.deleteCheckpoint(enginePath(checkpointRef(req.params[0]!, req.params[1]!)));
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: api('training_runs/([^/]+)/checkpoints/(.+)/archive'),
      handle: async (req) => {
        const ref = checkpointRef(req.params[0]!, req.params[1]!);
        const path = enginePath(ref);
        await engine.listCheckpoints(ref.runId).then((all) => {
          if (!all.some((m) => m.path === path))
            throw new HttpError(
              404,
              `no checkpoint ${req.params[1]} in run ${ref.runId}.`,
              'UnknownCheckpointError',
            );
        });
        const now = Date.now();
        for (const [t, a] of archives) if (a.expires < now) archives.delete(t);
        const token = randomBytes(24).toString('hex');
        archives.set(token, { path, expires: now + ARCHIVE_TTL_MS });
        return {
          url: `${req.origin}/api/v1/loops_web/archives/${token}`,
          expires: new Date(now + ARCHIVE_TTL_MS).toISOString(),
        };
      },
    },
    {
      method: 'GET',
      pattern: api('loops_web/archives/([0-9a-f]+)'),
      auth: false, // the token in the URL is the authorisation, as a signed URL's signature is
      handle: async (req) => {
        const archive = archives.get(req.params[0]!);
        if (!archive || archive.expires < Date.now())
          throw new HttpError(404, 'this archive link is unknown or expired; ask for a new one.');
        const files = await engine.checkpointFiles(archive.path);
        const name = archive.path.split('/').slice(-1)[0];
        return {
          status: 200,
          bytes: tarGz(files.map((f) => ({ name: f.name, bytes: f.bytes }))),
          headers: {
            'Content-Type': 'application/gzip',
            'Content-Disposition': `attachment; filename="${name}.tar.gz"`,
            'Last-Modified': new Date(files[0]?.lastModified ?? Date.now()).toUTCString(),
          },
        };
      },
    },
    {
      method: 'POST',
      pattern: api('loops_web/import_adapter'),
      schema: 'loops_web/import_adapter',
      handle: async (req) => {
        const b = req.body as LoopsImportAdapterRequest;
        const meta = await engine.importAdapter({
          baseModel: b.base_model,
          hubUrl: service.options.hubUrl,
          weights: new Uint8Array(Buffer.from(b.adapter_model, 'base64')),
          config: b.adapter_config,
          name: b.name,
        });
        return tinkerCheckpoint(meta);
      },
    },
  ];
}

/**
 * `weights/<name>` or `sampler_weights/<name>` (the SDK's checkpoint ids); a bare name is refused,
 * as Tinker refuses it, because a training and a sampler checkpoint may share a name.
 */
function checkpointRef(runId: string, id: string): CheckpointRef {
  const m = /^(weights|sampler_weights)\/([^/]+)$/.exec(id);
  if (!m)
    throw new HttpError(
      400,
      `checkpoint id ${JSON.stringify(id)} must be 'weights/<name>' or 'sampler_weights/<name>'.`,
    );
  return { runId, kind: m[1] as CheckpointRef['kind'], name: m[2]! };
}
