/**
 * The "last run" record in localStorage, so that after a reload (or a closed laptop lid) the lab
 * offers to resume: the run's latest `save_state` path, its model and settings, where its data came
 * from, and the loss history for the chart. The checkpoint itself lives in the engine's IndexedDB;
 * this is only a small pointer to it. A record that does not parse is ignored, never fatal.
 */

export const LAST_RUN_KEY = 'loops-web:last-run';

/** Chart points: one per step with a train loss, held-out loss where it was measured. */
export interface LossPoint {
  readonly step: number;
  readonly train: number | null;
  readonly heldout: number | null;
}

/** RL chart points: the step's mean reward, its spread and the policy loss per token. */
export interface RewardPoint {
  readonly step: number;
  readonly mean: number;
  readonly std: number;
  readonly loss: number | null;
  /** Wall-clock seconds the step took (sampling, scoring, update). */
  readonly seconds?: number;
}

export type DatasetRef =
  | { readonly source: 'demo'; readonly id: string }
  | { readonly source: 'text'; readonly name: string; readonly text: string };

export interface LastRun {
  readonly runId: string;
  readonly baseModel: string;
  /** Path of the newest `save_state` checkpoint of the run. */
  readonly statePath: string;
  readonly step: number;
  readonly savedAt: string;
  readonly rank: number;
  readonly dataset: DatasetRef | null;
  readonly history: readonly LossPoint[];
  /** Present when the run was trained in RL mode: its reward curve. */
  readonly rl?: { readonly history: readonly RewardPoint[] };
}

/** Pasted data bigger than this is not kept (localStorage holds a few MB per origin). */
export const MAX_KEPT_TEXT = 512 * 1024;
/** Chart points kept. */
export const MAX_POINTS = 5000;

export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export function saveLastRun(store: KeyValueStore, run: LastRun): void {
  const dataset =
    run.dataset?.source === 'text' && run.dataset.text.length > MAX_KEPT_TEXT ? null : run.dataset;
  const record = { ...run, dataset, history: run.history.slice(-MAX_POINTS) };
  try {
    store.setItem(LAST_RUN_KEY, JSON.stringify(record));
  } catch {
    // Storage full or disabled: resuming after a reload is a convenience; training goes on.
  }
}

export function clearLastRun(store: KeyValueStore): void {
  store.removeItem(LAST_RUN_KEY);
}

/** The stored record, or null when there is none or it is not a record this version wrote. */
export function loadLastRun(store: KeyValueStore): LastRun | null {
  let value: unknown;
  try {
    value = JSON.parse(store.getItem(LAST_RUN_KEY) ?? 'null');
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const strings = ['runId', 'baseModel', 'statePath', 'savedAt'];
  if (!strings.every((k) => typeof value[k] === 'string')) return null;
  if (!isCount(value['step']) || !isCount(value['rank'])) return null;
  if (!Array.isArray(value['history']) || !value['history'].every(isPoint)) return null;
  const dataset = isDatasetRef(value['dataset']) ? value['dataset'] : null;
  const rlHistory = isRecord(value['rl']) ? value['rl']['history'] : undefined;
  const rl =
    Array.isArray(rlHistory) && rlHistory.every(isRewardPoint) ? { history: rlHistory } : undefined;
  return { ...(value as unknown as LastRun), dataset, rl };
}

function isRewardPoint(p: unknown): p is RewardPoint {
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  return (
    isRecord(p) &&
    isCount(p['step']) &&
    num(p['mean']) &&
    num(p['std']) &&
    (p['loss'] === null || num(p['loss']))
  );
}

function isPoint(p: unknown): p is LossPoint {
  const num = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));
  return isRecord(p) && isCount(p['step']) && num(p['train']) && num(p['heldout']);
}

function isDatasetRef(d: unknown): d is DatasetRef {
  if (!isRecord(d)) return false;
  if (d['source'] === 'demo') return typeof d['id'] === 'string';
  return d['source'] === 'text' && typeof d['name'] === 'string' && typeof d['text'] === 'string';
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
