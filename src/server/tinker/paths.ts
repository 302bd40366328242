/**
 * Checkpoint paths between the protocol and the engine. The engine names checkpoints
 * `idb://loops:<run>/weights/<name>` (its store's form); the protocol names the same checkpoint
 * `tinker://<run>/weights/<name>` (tinker 0.24.1, types/checkpoint.py `ParsedCheckpointTinkerPath`).
 * The server answers with tinker paths and accepts both (parsed as the remote placement parses
 * them, src/client/remote/wire.ts).
 */
import { parseCheckpointPath, type ParsedPath } from '../../client/remote/wire';

export type CheckpointRef = ParsedPath;

/** The parts of a tinker:// or idb://loops: path; null when it is neither. */
export const parseAnyPath = parseCheckpointPath;

export function tinkerPath(ref: CheckpointRef): string {
  return `tinker://${ref.runId}/${ref.kind}/${ref.name}`;
}

export function enginePath(ref: CheckpointRef): string {
  return `idb://loops:${ref.runId}/${ref.kind}/${ref.name}`;
}

/** An engine path as the protocol's; anything else unchanged. */
export function toTinkerPath(path: string): string {
  const ref = parseAnyPath(path);
  return ref ? tinkerPath(ref) : path;
}

/** A protocol (or engine) path as the engine's; anything else unchanged (the engine rejects it). */
export function toEnginePath(path: string): string {
  const ref = parseAnyPath(path);
  return ref ? enginePath(ref) : path;
}
