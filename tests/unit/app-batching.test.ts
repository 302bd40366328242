// Batching for the lab: the supervised shift with weights, the seeded batch schedule, the
// per-token NLL the chart shows, and the held-out split.
import { describe, expect, it } from 'vitest';
import {
  BatchSchedule,
  batchTokens,
  heldoutSplit,
  meanNll,
  sequenceToDatum,
  shuffled,
} from '../../src/app/batching';

describe('sequenceToDatum', () => {
  it('shifts tokens and weights the supervised targets only', () => {
    // tokens 10 11 12 13, supervised from index 2: inputs 10 11 12, targets 11 12 13,
    // weights = supervised[1..] = 0 1 1.
    const d = sequenceToDatum({
      tokens: [10, 11, 12, 13],
      supervised: [false, false, true, true],
      truncated: false,
    })!;
    expect(d.model_input.to_ints()).toEqual([10, 11, 12]);
    expect([...d.loss_fn_inputs['target_tokens']!.data]).toEqual([11, 12, 13]);
    expect([...d.loss_fn_inputs['weights']!.data]).toEqual([0, 1, 1]);
    expect(batchTokens([d, d])).toBe(6);
  });

  it('gives null when nothing is supervised or there is no next token', () => {
    expect(sequenceToDatum({ tokens: [1, 2], supervised: [true, false], truncated: true })).toBe(
      null,
    );
    expect(sequenceToDatum({ tokens: [1], supervised: [true], truncated: false })).toBe(null);
  });
});

describe('BatchSchedule', () => {
  it('visits every example once per epoch, in a seeded order', () => {
    const s = new BatchSchedule(10, 4, 7);
    // 10 examples, batches of 4: steps 0,1 and half of 2 cover epoch 0.
    const epoch0 = [...s.batchAt(0), ...s.batchAt(1), ...s.batchAt(2).slice(0, 2)];
    expect([...epoch0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epoch0).toEqual(shuffled(10, 7));
    expect(s.batchAt(2).slice(2)).toEqual(shuffled(10, 8).slice(0, 2));
    // Same seed and step, same batch (a resumed run continues the sequence).
    expect(new BatchSchedule(10, 4, 7).batchAt(5)).toEqual(s.batchAt(5));
    expect(new BatchSchedule(10, 4, 8).batchAt(0)).not.toEqual(s.batchAt(0));
  });

  it('caps the batch at the number of examples and refuses an empty set', () => {
    expect(new BatchSchedule(3, 8, 0).batchAt(0).sort()).toEqual([0, 1, 2]);
    expect(() => new BatchSchedule(0, 8, 0)).toThrow(/at least one example/);
  });
});

describe('meanNll', () => {
  it('is −Σ w·lp / Σ w over the batch', () => {
    const a = sequenceToDatum({
      tokens: [1, 2, 3],
      supervised: [false, true, true],
      truncated: false,
    })!;
    const b = sequenceToDatum({
      tokens: [1, 2, 3],
      supervised: [false, false, true],
      truncated: false,
    })!;
    // a: weights 1 1, lp −1 −2; b: weights 0 1, lp −5 −3 → (1 + 2 + 3) / 3 = 2.
    expect(
      meanNll(
        [
          [-1, -2],
          [-5, -3],
        ],
        [a, b],
      ),
    ).toBeCloseTo(2, 12);
  });
});

describe('heldoutSplit', () => {
  it('holds out every tenth example from 20 examples on, nothing below', () => {
    expect(heldoutSplit(25).heldout).toEqual([9, 19]);
    expect(heldoutSplit(25).train).toHaveLength(23);
    expect(heldoutSplit(19).heldout).toEqual([]);
  });
});
