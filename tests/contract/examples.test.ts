// The flat SL and RL examples (examples/sl-loop.ts, examples/rl-loop.ts) run end to end through
// the public client on the engine's random-weight fixture model, on small slices of the shipped
// datasets, and return figures of the right shape. The fixture cannot learn the whale task in a few
// RL steps, so RL is checked for shape and internal consistency only; SL held-out loss must fall.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src/index';
import { runSlLoop } from '../../examples/sl-loop';
import { runRlLoop } from '../../examples/rl-loop';
import type { TextLoader } from '../../examples/lib/jsonl';
import { FIXTURE_MODEL } from '../helpers/fixture-model-dir';
import { registerTestPlacements } from '../helpers/placements';

registerTestPlacements();

const DATASETS_DIR = fileURLToPath(new URL('../../public/datasets/', import.meta.url));
const loadText: TextLoader = (file) => readFile(join(DATASETS_DIR, file), 'utf8');

describe('examples on the fixture model', () => {
  let service: ServiceClient;
  beforeAll(() => {
    service = new ServiceClient({
      engine: 'test-in-process',
      // wasm, not cpu: the SL case below took 32 s on cpu and 3.2 s on wasm, same figures.
      backend: 'wasm',
      storage_namespace: 'examples',
    });
  });
  afterAll(() => service.close());

  it('runSlLoop: held-out NLL falls over 10 steps; figures, checkpoints and answers', async () => {
    const lines: string[] = [];
    const result = await runSlLoop(
      {
        service,
        loadText,
        model: FIXTURE_MODEL,
        steps: 10,
        rank: 8,
        learningRate: 1e-2,
        batchSize: 8,
        evalEvery: 5,
        trainLimit: 16,
        heldoutLimit: 6,
        answerCount: 2,
        maxAnswerTokens: 6,
      },
      { log: (line) => lines.push(line) },
    );
    console.log(
      `sl on ${FIXTURE_MODEL}: held-out NLL ${result.heldoutNllBefore.toFixed(3)} → ` +
        `${result.heldoutNllAfter.toFixed(3)}, ${result.seconds.toFixed(1)} s`,
    );
    expect(result.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Linear decay from 1e-2: lr_t = 1e-2·(1 − t/10) for t = 0..9.
    result.steps.forEach((s, t) => expect(s.learningRate).toBeCloseTo(1e-2 * (1 - t / 10), 12));
    for (const s of result.steps) {
      expect(Number.isFinite(s.trainNll) && s.trainNll > 0).toBe(true);
      expect(s.numTokens).toBeGreaterThan(0);
      expect(s.gradNorm).toBeGreaterThan(0);
    }
    expect(result.evals.map((e) => e.step)).toEqual([0, 5, 10]);
    expect(result.evals[0]?.heldoutNll).toBe(result.heldoutNllBefore);
    expect(result.evals[2]?.heldoutNll).toBe(result.heldoutNllAfter);
    // A random 4096-way model starts near ln 4096 ≈ 8.3 nats. Measured on this slice: 8.578 →
    // 4.998 (−42%, cpu and wasm alike). We ask for a 25% fall: inside what 10 steps reach, far
    // above run-to-run noise (none: the run is seeded).
    expect(result.heldoutNllBefore).toBeGreaterThan(7);
    expect(result.heldoutNllAfter).toBeLessThan(0.75 * result.heldoutNllBefore);
    expect(result.statePath).toBe(`idb://loops:${result.runId}/weights/sl-final`);
    expect(result.samplerPath).toBe(`idb://loops:${result.runId}/sampler_weights/sl-final`);
    const ids = (await service.list_checkpoints(result.runId)).map((c) => c.checkpoint_id);
    expect(ids).toEqual(['sl-final', 'sl-final']);
    for (const score of [result.before, result.after]) {
      expect(score.answers).toHaveLength(2);
      expect(score.answers[0]?.question).toBe('What is the title of chapter 8 of Moby-Dick?');
      expect(score.formatShare).toBeGreaterThanOrEqual(0);
      expect(score.formatShare).toBeLessThanOrEqual(1);
      // Right chapter implies the format; exactly right implies the right chapter.
      expect(score.chapterShare).toBeLessThanOrEqual(score.formatShare);
      expect(score.exactShare).toBeLessThanOrEqual(score.chapterShare);
    }
    expect(lines.some((l) => l.startsWith('held-out NLL after:'))).toBe(true);
  });

  it('runRlLoop: the whale reward is the mean of its two parts; shapes per step', async () => {
    const result = await runRlLoop({
      service,
      loadText,
      model: FIXTURE_MODEL,
      steps: 2,
      groupSize: 4,
      batchSize: 2,
      maxTokens: 6,
    });
    expect(result.steps.map((s) => s.step)).toEqual([1, 2]);
    for (const s of result.steps) {
      // r = ½·[whale] + ½·[period], averaged over the same 2·4 completions.
      expect(s.meanReward).toBeCloseTo(0.5 * (s.whaleShare + s.periodShare), 12);
      expect(s.meanTokens).toBeGreaterThan(0);
      expect(s.meanTokens).toBeLessThanOrEqual(6);
      expect(s.datums).toBe((2 - s.skippedGroups) * 4);
    }
  });

  it('runRlLoop: groups with unequal rewards become importance-sampling datums and updates', async () => {
    // A reward the random fixture varies on (the parity of the completion's length in characters),
    // so groups are rarely all equal and the update path runs: one datum per completion of every
    // group kept, one optimiser step per step that kept any group.
    const result = await runRlLoop({
      service,
      loadText,
      model: FIXTURE_MODEL,
      steps: 3,
      groupSize: 4,
      batchSize: 2,
      maxTokens: 6,
      learningRate: 1e-2,
      reward: (text) => text.length % 2,
    });
    console.log(
      `rl on ${FIXTURE_MODEL}: ${result.steps.map((s) => `${s.datums} datums`).join(', ')}; ` +
        `${result.seconds.toFixed(1)} s`,
    );
    const updates = result.steps.filter((s) => s.datums > 0).length;
    expect(updates).toBeGreaterThan(0);
    expect(result.policyVersion).toBe(updates);
    for (const s of result.steps) {
      expect(s.datums).toBe((2 - s.skippedGroups) * 4);
      expect(s.meanReward).toBeGreaterThanOrEqual(0);
      expect(s.meanReward).toBeLessThanOrEqual(1);
    }
  });
});
