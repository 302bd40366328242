/**
 * The demo datasets shipped under `public/datasets/` (written by scripts/datasets/build.ts), one
 * click away in the data panel. The list is built in; an optional `datasets/datasets.json`
 * (`{ "datasets": [{ id, title, description, train, heldout? }] }`) adds or replaces entries, so new
 * sets appear without changing the app.
 */

export interface DemoSet {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** File names under datasets/. */
  readonly train: string;
  readonly heldout: string | null;
}

export const BUILT_IN_SETS: readonly DemoSet[] = Object.freeze([
  {
    id: 'whaling-chat',
    title: 'Moby-Dick chapter titles',
    description: '472 chat questions, 39 held out',
    train: 'whaling-chat.train.jsonl',
    heldout: 'whaling-chat.heldout.jsonl',
  },
]);

/** Entries of a parsed `datasets.json`; malformed entries are skipped. */
export function parseDemoManifest(json: unknown): DemoSet[] {
  const list = (json as { datasets?: unknown } | null)?.datasets;
  if (!Array.isArray(list)) return [];
  const text = (v: unknown) => typeof v === 'string' && v !== '';
  const file = (v: unknown) => text(v) && /^[\w.-]+$/.test(v as string);
  return list
    .filter((d: Record<string, unknown> | null) => !!d && text(d['id']) && file(d['train']))
    .map((d: Record<string, unknown>) => ({
      id: d['id'] as string,
      title: text(d['title']) ? (d['title'] as string) : (d['id'] as string),
      description: text(d['description']) ? (d['description'] as string) : '',
      train: d['train'] as string,
      heldout: file(d['heldout']) ? (d['heldout'] as string) : null,
    }));
}

/** Built-in sets, with manifest entries replacing those of the same id and adding new ones. */
export function mergeDemoSets(builtIn: readonly DemoSet[], extra: readonly DemoSet[]): DemoSet[] {
  const byId = new Map(builtIn.map((d) => [d.id, d]));
  for (const d of extra) byId.set(d.id, d);
  return [...byId.values()];
}
