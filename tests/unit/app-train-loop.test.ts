// The lab's training loop against a fake TrainingClient: order of ops, held-out evaluations,
// pause/resume/stop between steps, the batch schedule continuing from the policy version, and the
// speed figures.
import { describe, expect, it } from 'vitest';
import type { AdamParams, Datum } from '../../src/index';
import { sequenceToDatum } from '../../src/app/batching';
import { TrainLoop, type StepEvent, type TrainerPort } from '../../src/app/train-loop';
import { SpeedMeter, formatBytes, formatDuration } from '../../src/app/train-stats';

function datum(first: number): Datum {
  return sequenceToDatum({
    tokens: [first, 1, 2],
    supervised: [false, true, true],
    truncated: false,
  })!;
}

/** A trainer whose log-probs are −(1 + version)/10 per target: loss falls by 0.1 each step. */
class FakeTrainer implements TrainerPort {
  policy_version = 0;
  readonly log: string[] = [];
  forward_backward(data: Datum[]) {
    this.log.push(`fb ${data.map((d) => d.model_input.to_ints()[0]).join(',')}`);
    return Promise.resolve(this.out(data, 1 + this.policy_version));
  }
  forward(data: Datum[]) {
    this.log.push(`fwd ${data.length}`);
    return Promise.resolve(this.out(data, 1 + this.policy_version));
  }
  optim_step(adam: AdamParams) {
    this.log.push(`opt ${adam.learning_rate}`);
    this.policy_version++;
    return Promise.resolve({ metrics: { grad_norm: 0.5 } });
  }
  private out(data: Datum[], v: number) {
    const lp = -10 / (10 + v);
    return {
      loss_fn_outputs: data.map((d) => ({
        logprobs: { data: d.model_input.to_ints().map(() => lp) },
      })),
    };
  }
}

const train = [datum(100), datum(101), datum(102)];
const heldout = [datum(200), datum(201), datum(202)];
const settings = { steps: 4, batchSize: 2, learningRate: 0.01, evalEvery: 2, seed: 1 };

describe('TrainLoop', () => {
  it('runs steps with fb and optim back to back and evaluates at start, every 2 steps and end', async () => {
    const fake = new FakeTrainer();
    const steps: StepEvent[] = [];
    const evals: number[] = [];
    const loop = new TrainLoop(fake, train, heldout, settings, {
      onStep: (e) => steps.push(e),
      onEval: (e) => evals.push(e.step),
    });
    expect(await loop.run()).toBe('done');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(steps.map((s) => s.index)).toEqual([1, 2, 3, 4]);
    expect(evals).toEqual([0, 2, 4]);
    // Held-out batches of 2: 3 datums → 2 forwards per evaluation.
    expect(fake.log.slice(0, 4)).toEqual([
      'fwd 2',
      'fwd 1',
      expect.stringMatching(/^fb /),
      'opt 0.01',
    ]);
    // Loss before step k (version k−1) is 10/(10 + k), from the fake's log-probs.
    steps.forEach((s, k) => expect(s.trainLoss).toBeCloseTo(10 / (11 + k), 10));
    expect(steps[0]!.tokens).toBe(4); // 2 datums × 2 inputs
    expect(steps[3]!.etaSeconds).toBe(0);
    expect(steps[0]!.gradNorm).toBe(0.5);
  });

  it('pauses between steps, resumes, and stops', async () => {
    const fake = new FakeTrainer();
    const states: string[] = [];
    let versionWhenPaused = -1;
    const loop: TrainLoop = new TrainLoop(
      fake,
      train,
      [],
      { ...settings, steps: 10 },
      {
        onStep: (e) => {
          if (e.index === 2) loop.pause();
          if (e.index === 4) loop.stop();
        },
        onState: (s) => {
          states.push(s);
          if (s === 'paused') {
            versionWhenPaused = fake.policy_version;
            setTimeout(() => loop.resume(), 5);
          }
        },
      },
    );
    expect(await loop.run()).toBe('stopped');
    expect(states).toEqual(['paused', 'running', 'stopped']);
    expect(versionWhenPaused).toBe(2);
    // Stop is asked during step 4; the loop ends before submitting step 5.
    expect(fake.policy_version).toBe(4);
  });

  it('stops at once while paused', async () => {
    const fake = new FakeTrainer();
    const loop: TrainLoop = new TrainLoop(
      fake,
      train,
      [],
      { ...settings, steps: 10 },
      {
        onStep: (e) => e.index === 1 && loop.pause(),
        onState: (s) => s === 'paused' && setTimeout(() => loop.stop(), 5),
      },
    );
    expect(await loop.run()).toBe('stopped');
    expect(fake.policy_version).toBe(1);
  });

  it('continues the batch order from the policy version', async () => {
    const a = new FakeTrainer();
    await new TrainLoop(a, train, [], { ...settings, steps: 3 }).run();
    const b = new FakeTrainer();
    await new TrainLoop(b, train, [], { ...settings, steps: 1 }).run();
    await new TrainLoop(b, train, [], { ...settings, steps: 2 }).run();
    expect(b.log).toEqual(a.log);
  });

  it('reports a failed step', async () => {
    const fake = new FakeTrainer();
    fake.optim_step = () => Promise.reject(new Error('boom'));
    const states: string[] = [];
    const loop = new TrainLoop(fake, train, [], settings, { onState: (s) => states.push(s) });
    await expect(loop.run()).rejects.toThrow('boom');
    expect(states).toEqual(['failed']);
  });
});

describe('speed figures', () => {
  it('smooths step time and derives tokens/s and the ETA', () => {
    const m = new SpeedMeter(0.5);
    expect(m.record(1000, 100, 9)).toEqual({ stepMs: 1000, tokensPerSecond: 100, etaSeconds: 9 });
    // avg ms = 0.5·2000 + 0.5·1000 = 1500; avg tokens = 100; 8 left → 12 s.
    const r = m.record(2000, 100, 8);
    expect(r.etaSeconds).toBeCloseTo(12, 12);
    expect(r.tokensPerSecond).toBeCloseTo(100 / 1.5, 12);
  });

  it('formats durations and sizes', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    // SmolLM2-135M: 134,515,008 × 4 B = 538,060,032 B = 513.1 MiB.
    expect(formatBytes(538_060_032)).toBe('513 MiB');
  });
});
