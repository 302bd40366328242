/**
 * What the current run is, in one place: where its adapter came from (a fresh adapter, one of our
 * own checkpoints restored, or a PEFT adapter imported from elsewhere), its rank and step, and the
 * words every panel uses for it: the training status, the Start / Continue label, whether the rank
 * box may change, and the "Tuned adapter" heading. Panels render these; none words the run's
 * state on its own, so no two of them can disagree.
 *
 * The rank is the current adapter's rank, whatever its step: only a fresh adapter nobody has
 * trained may change it (a new adapter of the new rank replaces it; nothing is lost).
 */

export type RunOrigin =
  /** A new adapter made by loading a model or "New run". */
  | { readonly kind: 'fresh' }
  /** One of this lab's `save_state` checkpoints. */
  | { readonly kind: 'restored'; readonly name: string }
  /** A PEFT adapter imported from a file; `stepsBefore` when its file recorded them. */
  | { readonly kind: 'imported'; readonly name: string; readonly stepsBefore: number | null };

export const FRESH: RunOrigin = Object.freeze({ kind: 'fresh' });

/** What the words depend on. */
export interface RunFacts {
  /** Null before a model is loaded. */
  readonly run: { readonly step: number; readonly rank: number; readonly model: string } | null;
  readonly origin: RunOrigin;
  /** The data's label; null when no data is picked (or it is not tokenized yet). */
  readonly data: { readonly label: string; readonly trainable: number } | null;
}

export interface RunView {
  /** The training status line when no session is running. */
  readonly status: string;
  /** The run in a few words (checkpoint panel, headings). */
  readonly summary: string;
  /** "Start" for a fresh untrained adapter, else "Continue training". */
  readonly startLabel: 'Start' | 'Continue training';
  /** Whether the rank box may change (a fresh adapter at step 0). */
  readonly rankEditable: boolean;
  /** The "Try it" heading of the tuned side. */
  readonly tunedHeading: string;
}

/** Whether the run's adapter is fresh and untrained (its rank may still change freely). */
export function isUntouched(facts: RunFacts): boolean {
  return facts.origin.kind === 'fresh' && (facts.run?.step ?? 0) === 0;
}

export function describeRun(facts: RunFacts): RunView {
  const { run, origin, data } = facts;
  const untouched = isUntouched(facts);
  const startLabel = untouched ? 'Start' : 'Continue training';
  if (!run) {
    return {
      status: 'Load a model (panel 1) to begin.',
      summary: 'no model loaded',
      startLabel,
      rankEditable: true,
      tunedHeading: 'Tuned adapter',
    };
  }
  const summary = summarise(run, origin);
  const next = !data
    ? 'Pick data (panel 2) to train on.'
    : data.trainable === 0
      ? `${data.label} has nothing to train on; pick other data.`
      : untouched
        ? `Press Start to train it on ${data.label}.`
        : `${startLabel} to go on with ${data.label}, or try it.`;
  return {
    status: `${capitalise(summary)}. ${next}`,
    summary,
    startLabel,
    rankEditable: untouched,
    tunedHeading: tunedHeading(run.step, origin),
  };
}

function summarise(run: NonNullable<RunFacts['run']>, origin: RunOrigin): string {
  const adapter = `rank-${run.rank} adapter`;
  switch (origin.kind) {
    case 'fresh':
      return run.step === 0
        ? `a fresh ${adapter} on ${run.model}`
        : `a ${adapter} at step ${run.step}`;
    case 'restored':
      return `the ${adapter} restored from “${origin.name}”, at step ${run.step}`;
    case 'imported': {
      const before =
        origin.stepsBefore === null
          ? 'trained elsewhere'
          : `trained ${origin.stepsBefore} step${origin.stepsBefore === 1 ? '' : 's'} before export`;
      const here = run.step === 0 ? '' : `, then ${run.step} here`;
      return `the imported ${adapter} “${origin.name}” (${before}${here})`;
    }
  }
}

function tunedHeading(step: number, origin: RunOrigin): string {
  if (origin.kind !== 'imported') return `Tuned adapter (step ${step})`;
  return `Tuned adapter (imported “${origin.name}”${step > 0 ? ` + ${step} steps` : ''})`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
