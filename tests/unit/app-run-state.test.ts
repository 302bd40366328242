// The lab's one description of the current run (src/app/run-state.ts): the rank may change only on
// a fresh, untrained adapter; an imported adapter is never "fresh", whatever its step; and the
// Start label, status and heading agree with each other.
import { describe, expect, it } from 'vitest';
import { FRESH, describeRun, type RunFacts } from '../../src/app/run-state';

const data = { label: 'pasted text', trainable: 10 };
const run = (step: number, rank = 4) => ({ step, rank, model: 'loops-tiny-llama' });

describe('describeRun', () => {
  it('before a model: load one', () => {
    const view = describeRun({ run: null, origin: FRESH, data: null });
    expect(view.status).toBe('Load a model (panel 1) to begin.');
    expect(view.startLabel).toBe('Start');
  });

  it('a fresh adapter at step 0: rank editable, Start, then the next thing to do', () => {
    const noData = describeRun({ run: run(0, 8), origin: FRESH, data: null });
    expect(noData.status).toBe(
      'A fresh rank-8 adapter on loops-tiny-llama. Pick data (panel 2) to train on.',
    );
    const ready = describeRun({ run: run(0, 8), origin: FRESH, data });
    expect(ready).toMatchObject({
      rankEditable: true,
      startLabel: 'Start',
      status: 'A fresh rank-8 adapter on loops-tiny-llama. Press Start to train it on pasted text.',
      tunedHeading: 'Tuned adapter (step 0)',
    });
  });

  it('an imported adapter at step 0 keeps its rank and says where it came from', () => {
    const facts: RunFacts = {
      run: run(0),
      origin: { kind: 'imported', name: 'friend', stepsBefore: 6 },
      data,
    };
    expect(describeRun(facts)).toMatchObject({
      rankEditable: false,
      startLabel: 'Continue training',
      summary: 'the imported rank-4 adapter “friend” (trained 6 steps before export)',
      tunedHeading: 'Tuned adapter (imported “friend”)',
    });
    const later = describeRun({ ...facts, run: run(2) });
    expect(later.summary).toBe(
      'the imported rank-4 adapter “friend” (trained 6 steps before export, then 2 here)',
    );
    expect(later.tunedHeading).toBe('Tuned adapter (imported “friend” + 2 steps)');
    const unknown = describeRun({
      ...facts,
      origin: { kind: 'imported', name: 'x', stepsBefore: null },
    });
    expect(unknown.summary).toContain('(trained elsewhere)');
  });

  it('a restored or trained run is locked and continues', () => {
    const restored = describeRun({ run: run(0), origin: { kind: 'restored', name: 'a' }, data });
    expect(restored.rankEditable).toBe(false);
    expect(restored.startLabel).toBe('Continue training');
    const trained = describeRun({ run: run(5), origin: FRESH, data });
    expect(trained).toMatchObject({ rankEditable: false, startLabel: 'Continue training' });
    expect(trained.status).toBe(
      'A rank-4 adapter at step 5. Continue training to go on with pasted text, or try it.',
    );
  });
});
