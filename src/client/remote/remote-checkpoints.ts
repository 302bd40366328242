/**
 * Checkpoints on a remote service: listing (`GET /api/v1/training_runs/{run}/checkpoints`, or
 * `GET /api/v1/checkpoints` for all), deleting, and the files of one (Tinker's archive route answers
 * a signed URL, as JSON or as a redirect; the archive is a gzipped tar). The archive is fetched
 * without the API key, and a redirect is read, never followed, so the key never goes to another
 * host. tinker 0.24.1: src/tinker/resources/weights.py, types/checkpoint*.py.
 */
import { UnknownCheckpointError } from '../../errors/loops-errors';
import type {
  CheckpointArchiveUrlResponse,
  CheckpointsListResponse,
} from '../../protocol/tinker-wire';
import type { Checkpoint, WireCheckpointFile } from '../../protocol/wire-types';
import { RemoteServiceError, httpError, malformedError } from './errors';
import type { TinkerHttp } from './http';
import { readTar } from './tar';
import { checkpointFromTinker, parseCheckpointPath, type ParsedPath } from './wire';

export async function listRemoteCheckpoints(
  http: TinkerHttp,
  runId: string | null,
): Promise<Checkpoint[]> {
  const route = runId ? `training_runs/${encodeURIComponent(runId)}/checkpoints` : 'checkpoints';
  const body = await http.call<CheckpointsListResponse>('GET', route);
  if (!Array.isArray(body?.checkpoints)) throw malformedError(route, 'a list without checkpoints');
  return body.checkpoints.map(checkpointFromTinker);
}

/** The route of one checkpoint: `training_runs/{run}/checkpoints/{weights|sampler_weights}/{name}`. */
function checkpointRoute(idOrPath: string): { route: string; parsed: ParsedPath } {
  const parsed = parseCheckpointPath(idOrPath);
  if (!parsed)
    throw new UnknownCheckpointError(
      `${JSON.stringify(idOrPath)} is not a checkpoint of this service; pass a path or id from list_checkpoints (tinker://<run>/weights/<name>).`,
    );
  const route = `training_runs/${encodeURIComponent(parsed.runId)}/checkpoints/${parsed.kind}/${encodeURIComponent(parsed.name)}`;
  return { route, parsed };
}

export async function deleteRemoteCheckpoint(http: TinkerHttp, idOrPath: string): Promise<void> {
  await http.call('DELETE', checkpointRoute(idOrPath).route);
}

export async function remoteCheckpointFiles(
  http: TinkerHttp,
  idOrPath: string,
): Promise<WireCheckpointFile[]> {
  const route = `${checkpointRoute(idOrPath).route}/archive`;
  const answer = await http.send('GET', route);
  let url: string;
  if (answer.status === 200 && answer.json) {
    url = (answer.body as Partial<CheckpointArchiveUrlResponse>).url ?? '';
    if (!url) throw malformedError(route, 'an archive answer without a url');
  } else if (answer.status >= 300 && answer.status < 400 && answer.location) {
    url = answer.location;
  } else if (answer.status === 0) {
    throw new RemoteServiceError(
      `${route}: the service answers with a redirect, which a browser cannot read without sending the API key on; download this checkpoint from Node.`,
      'APIStatusError',
      'unknown',
      null,
    );
  } else {
    throw httpError(route, answer.status, answer.body);
  }
  const archiveUrl = new URL(url, `${http.baseUrl}/`).href;
  const response = await fetch(archiveUrl);
  if (!response.ok) throw httpError(archiveUrl, response.status, await response.text());
  const lastModified = new Date(response.headers.get('last-modified') ?? Date.now()).toISOString();
  let files;
  try {
    files = readTar(new Uint8Array(await response.arrayBuffer()));
  } catch (error) {
    throw malformedError(route, `an archive that is not a tar (${(error as Error).message})`);
  }
  // The service names a checkpoint by its path alone.
  return files.map((f) => ({
    name: f.name,
    bytes: f.bytes,
    lastModified,
    checkpointId: idOrPath,
    checkpointPath: idOrPath,
  }));
}
