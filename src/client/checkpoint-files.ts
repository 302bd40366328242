/**
 * Turns checkpoint files from the engine into Loops' `CheckpointFilesResponse` with object URLs,
 * recorded in `urls` so they are revoked when no longer needed (object-urls.ts).
 */
import type { CheckpointFilesResponse } from '../protocol/responses';
import type { WireCheckpointFile } from '../protocol/wire-types';
import type { ObjectUrls } from './object-urls';

export function checkpointFilesResponse(
  files: readonly WireCheckpointFile[],
  urls: ObjectUrls,
): CheckpointFilesResponse {
  const presigned = files.map((f) => ({
    url: urls.create(
      new Blob([f.bytes as BlobPart], {
        type: f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      }),
      [f.checkpointId, f.checkpointPath],
    ),
    relative_file_name: f.name,
    node_rank: 0,
    size_bytes: f.bytes.byteLength,
    last_modified: f.lastModified,
  }));
  return { presigned_urls: presigned, total_count: presigned.length, next_page_token: null };
}
