// RL rewards and advantages with hand-derived numbers: the reward menu's terms and their weighted
// sum (src/app/reward-menu.ts), the group centring and spread (src/recipes/rl-step.ts), the §9.3
// datum layout, and code rewards in the QuickJS sandbox (src/app/reward-sandbox.ts): the line of
// an error, a loop stopped at its deadline, no network, a non-number refused.
import variant from '@jitl/quickjs-singlefile-browser-release-sync';
import { newQuickJSWASMModuleFromVariant, type QuickJSWASMModule } from 'quickjs-emscripten-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelInput } from '../../src/index';
import {
  DEFAULT_MENU,
  describeMenu,
  distinctPairShare,
  menuReward,
} from '../../src/app/reward-menu';
import { CodeRewardError, RewardSandbox } from '../../src/app/reward-sandbox';
import { centreRewards, meanAndStd, rlDatum, stepPrompts } from '../../src/recipes/rl-step';
import { whaleSentenceReward } from '../../examples/lib/reward';

describe('reward menu', () => {
  it('scores each term in [0, 1] as documented', () => {
    const one = (t: Parameters<typeof menuReward>[0][number]) => menuReward([t]);
    expect(one({ kind: 'contains', word: 'Whale', weight: 1 })('The whaleboat.')).toBe(1);
    expect(one({ kind: 'contains', word: 'whale', weight: 1 })('Whaling at sea')).toBe(0);
    expect(one({ kind: 'regex', pattern: '\\bsea\\b', weight: 1 })('The SEA rose')).toBe(1);
    expect(one({ kind: 'regex', pattern: '\\bsea\\b', weight: 1 })('seashore')).toBe(0);
    // "a b c d" has 4 words: inside [4, 12], outside [5, 12].
    expect(one({ kind: 'length', min: 4, max: 12, weight: 1 })(' a b  c d ')).toBe(1);
    expect(one({ kind: 'length', min: 5, max: 12, weight: 1 })('a b c d')).toBe(0);
    expect(one({ kind: 'ends', marks: '.!?', weight: 1 })('Thar she blows!  ')).toBe(1);
    expect(one({ kind: 'ends', marks: '.', weight: 1 })('Thar she blows!')).toBe(0);
    expect(one({ kind: 'ends', marks: '.', weight: 1 })('')).toBe(0);
  });

  it('no-repeat is the share of distinct adjacent word pairs', () => {
    // "the whale the whale": pairs (the whale), (whale the), (the whale): 2 distinct of 3.
    expect(distinctPairShare('the whale The whale')).toBeCloseTo(2 / 3, 12);
    // "a b c": (a b), (b c): 2 of 2.
    expect(distinctPairShare('a b c')).toBe(1);
    // "sea sea sea sea": 3 pairs, all "sea sea": 1 of 3.
    expect(distinctPairShare('sea sea sea sea')).toBeCloseTo(1 / 3, 12);
    expect(distinctPairShare('one')).toBe(1);
  });

  it('sums weighted terms: r = Σ w·s', () => {
    const reward = menuReward([
      { kind: 'contains', word: 'whale', weight: 2 },
      { kind: 'ends', marks: '.', weight: -0.5 },
      { kind: 'no-repeat', weight: 1 },
    ]);
    // whale: 2·1; ends with ".": −0.5·1; "the whale the whale." pairs (the whale), (whale the),
    // (the whale.) are 3 distinct of 3 → 1. r = 2 − 0.5 + 1 = 2.5.
    expect(reward('the whale the whale.')).toBeCloseTo(2.5, 12);
    // no whale, no period, "sea sea sea" → 1 distinct of 2 pairs: r = 0.5.
    expect(reward('sea sea sea')).toBeCloseTo(0.5, 12);
  });

  it('the default menu is the RL example reward', () => {
    const menu = menuReward(DEFAULT_MENU);
    for (const text of ['A whale.', 'The sea.', 'A whale!', 'Nothing', ' Whales swim. ', '']) {
      expect(menu(text)).toBe(whaleSentenceReward(text));
    }
    expect(describeMenu(DEFAULT_MENU)).toBe(
      '0.5 × contains the word “whale” + 0.5 × ends with one of “.”',
    );
  });

  it('refuses an unusable term, naming it', () => {
    expect(() => menuReward([{ kind: 'regex', pattern: '(', weight: 1 }])).toThrow(
      /Reward term 1 \(matches the regular expression\): .*fix the pattern/,
    );
    expect(() => menuReward([{ kind: 'length', min: 5, max: 2, weight: 1 }])).toThrow(/5–2/);
    expect(() => menuReward([{ kind: 'contains', word: ' ', weight: 1 }])).toThrow(/the word/);
    expect(() => menuReward([])).toThrow(/empty/);
  });
});

describe('advantages', () => {
  it('centres rewards within a group: A = r − mean(r)', () => {
    // mean(1, 0, 0.5, 0.5) = 0.5 → 0.5, −0.5, 0, 0.
    expect(centreRewards([1, 0, 0.5, 0.5])).toEqual([0.5, -0.5, 0, 0]);
    // All equal: all zero (the group is skipped).
    expect(centreRewards([0.5, 0.5, 0.5])).toEqual([0, 0, 0]);
    // mean(3, 0, 0) = 1 → 2, −1, −1 (no division by the std).
    expect(centreRewards([3, 0, 0])).toEqual([2, -1, -1]);
  });

  it('mean and population spread of a step', () => {
    // (1, 0, 0.5, 0.5): mean 0.5; squared deviations 0.25, 0.25, 0, 0 → variance 0.125.
    const { mean, std } = meanAndStd([1, 0, 0.5, 0.5]);
    expect(mean).toBe(0.5);
    expect(std).toBeCloseTo(Math.sqrt(0.125), 12);
  });

  it('builds the §9.3 datum: prompt positions carry nothing, completion positions carry A', () => {
    // Prompt [10, 11, 12] (ob = 2), completion [20, 21] with sampler logprobs (−1, −2):
    // input = [10, 11, 12, 20]; targets [0, 0, 20, 21]; logprobs [0, 0, −1, −2]; A on the last 2.
    const datum = rlDatum(
      ModelInput.from_ints([10, 11, 12]),
      { tokens: [20, 21], logprobs: [-1, -2], stop_reason: 'stop' },
      0.25,
    );
    expect(datum.model_input.to_ints()).toEqual([10, 11, 12, 20]);
    expect(datum.loss_fn_inputs['target_tokens']!.data).toEqual([0, 0, 20, 21]);
    expect([...datum.loss_fn_inputs['logprobs']!.data]).toEqual([0, 0, -1, -2]);
    expect([...datum.loss_fn_inputs['advantages']!.data]).toEqual([0, 0, 0.25, 0.25]);
  });

  it('takes B prompts per step in order, wrapping around', () => {
    expect(stepPrompts(['a', 'b', 'c'], 0, 2)).toEqual(['a', 'b']);
    expect(stepPrompts(['a', 'b', 'c'], 1, 2)).toEqual(['c', 'a']);
    expect(stepPrompts(['a'], 3, 4)).toEqual(['a']);
  });
});

describe('code rewards in the QuickJS sandbox', () => {
  let quickjs: QuickJSWASMModule;
  beforeAll(async () => {
    quickjs = await newQuickJSWASMModuleFromVariant(variant);
  });
  const limits = { perCallMs: 100, memoryBytes: 8 * 2 ** 20 };

  it('runs (prompt, completion) => number on each completion', () => {
    const box = RewardSandbox.create(
      quickjs,
      '(prompt, completion) => completion.length + (prompt === "p" ? 0.5 : 0)',
      limits,
    );
    expect(box.score('p', ['ab', ''])).toEqual([2.5, 0.5]);
    box.dispose();
    const named = RewardSandbox.create(quickjs, 'function r(p, c) {\n  return 1;\n}', limits);
    expect(named.score('x', ['y'])).toEqual([1]);
    named.dispose();
  });

  it('names the line of an error, and of a syntax error', () => {
    const box = RewardSandbox.create(
      quickjs,
      '(prompt, completion) => {\n  if (completion === "bad")\n    throw new Error("no good");\n  return 1;\n}',
      limits,
    );
    expect(box.score('p', ['fine'])).toEqual([1]);
    let error: unknown;
    try {
      box.score('p', ['fine', 'bad']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodeRewardError);
    expect((error as CodeRewardError).line).toBe(3);
    expect((error as Error).message).toBe(
      'Your reward code threw on completion 2, line 3: Error: no good',
    );
    box.dispose();
    expect(() =>
      RewardSandbox.create(quickjs, '(p, c) => {\n  return c.length +\n}', limits),
    ).toThrow(/Your reward code does not run \(line 3\): SyntaxError/);
    expect(() => RewardSandbox.create(quickjs, '42', limits)).toThrow(/a number, not a function/);
  });

  it('stops a loop that never ends at its deadline', () => {
    const box = RewardSandbox.create(quickjs, '(p, c) => {\n  while (true) {}\n}', limits);
    expect(() => box.score('p', ['x'])).toThrow(
      /ran past its 100 ms limit on completion 1 .*It was stopped\./,
    );
    box.dispose();
  });

  it('has no network and no host objects', () => {
    const box = RewardSandbox.create(
      quickjs,
      '() => [typeof fetch, typeof XMLHttpRequest, typeof importScripts, typeof WebSocket, typeof self, typeof postMessage].filter((t) => t !== "undefined").length',
      limits,
    );
    expect(box.score('p', ['c'])).toEqual([0]);
    box.dispose();
  });

  it('refuses a result that is not a finite number', () => {
    const box = RewardSandbox.create(quickjs, '(p, c) => c === "n" ? NaN : "high"', limits);
    expect(() => box.score('p', ['x'])).toThrow(
      'Your reward code returned "high" for completion 1; it must return a finite number.',
    );
    expect(() => box.score('p', ['n'])).toThrow(/returned NaN for completion 1/);
    box.dispose();
  });
});
