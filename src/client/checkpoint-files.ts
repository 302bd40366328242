/** Turns checkpoint files from the engine into Loops' `CheckpointFilesResponse` with object URLs. */
import type { CheckpointFilesResponse } from '../protocol/responses';
import type { WireCheckpointFile } from '../protocol/wire-types';

export function checkpointFilesResponse(
  files: readonly WireCheckpointFile[],
): CheckpointFilesResponse {
  const presigned = files.map((f) => ({
    url: URL.createObjectURL(
      new Blob([f.bytes as BlobPart], {
        type: f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      }),
    ),
    relative_file_name: f.name,
    node_rank: 0,
    size_bytes: f.bytes.byteLength,
    last_modified: f.lastModified,
  }));
  return { presigned_urls: presigned, total_count: presigned.length, next_page_token: null };
}
