// The TF-free loss schemas (src/core/loss-schema.ts): the keys and defaults Loops documents
// (shared/LOOPS_API.md, "Losses"; shared/reference/loops-api-notes.md §6), the call-time checks of
// loss_fn_inputs / loss_fn_config with their messages, and that the module can load on the page
// (no TF.js anywhere in what it imports).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  LOSS_NAMES,
  LOSS_SCHEMAS,
  getLossSchema,
  isLossName,
  resolveLossConfig,
  validateLossInputs,
} from '../../src/core/loss-schema';
import { ValidationError } from '../../src/errors/loops-errors';

const rl = ['target_tokens', 'logprobs', 'advantages'];
const messages = (errors: ValidationError[]) => {
  for (const e of errors) expect(e).toBeInstanceOf(ValidationError);
  return errors.map((e) => e.message);
};

describe('LOSS_SCHEMAS', () => {
  it('holds the five Loops losses under their own names, with the documented defaults', () => {
    expect([...LOSS_NAMES].sort()).toEqual(
      ['cispo', 'cross_entropy', 'dro', 'importance_sampling', 'ppo'].sort(),
    );
    for (const name of LOSS_NAMES) expect(LOSS_SCHEMAS[name].name).toBe(name);
    expect(LOSS_SCHEMAS.ppo.configDefaults).toEqual({
      clip_low_threshold: 0.8,
      clip_high_threshold: 1.2,
    });
    expect(LOSS_SCHEMAS.cispo.configDefaults).toEqual({
      clip_low_threshold: 0,
      clip_high_threshold: 4,
    });
    expect(LOSS_SCHEMAS.dro.configDefaults).toEqual({ beta: 0.05 });
    expect(LOSS_SCHEMAS.cross_entropy.configDefaults).toEqual({});
    expect(LOSS_SCHEMAS.importance_sampling.configDefaults).toEqual({});
    expect(LOSS_SCHEMAS.cross_entropy.requiredInputs).toEqual(['target_tokens']);
    expect(LOSS_SCHEMAS.cross_entropy.optionalInputs).toEqual(['weights']);
    for (const name of ['importance_sampling', 'ppo', 'cispo', 'dro'] as const) {
      expect(LOSS_SCHEMAS[name].requiredInputs).toEqual(rl);
      expect(LOSS_SCHEMAS[name].optionalInputs).toEqual([]);
    }
  });

  it('is frozen all the way down (page and engine share it)', () => {
    expect(Object.isFrozen(LOSS_SCHEMAS)).toBe(true);
    expect(Object.isFrozen(LOSS_NAMES)).toBe(true);
    for (const name of LOSS_NAMES) {
      const s = LOSS_SCHEMAS[name];
      expect(Object.isFrozen(s), name).toBe(true);
      expect(Object.isFrozen(s.configDefaults), name).toBe(true);
      expect(Object.isFrozen(s.requiredInputs), name).toBe(true);
      expect(Object.isFrozen(s.optionalInputs), name).toBe(true);
    }
  });

  it('isLossName and getLossSchema accept only the five names', () => {
    expect(isLossName('ppo')).toBe(true);
    expect(isLossName('grpo')).toBe(false);
    expect(isLossName('toString')).toBe(false); // inherited from Object.prototype, not a loss
    expect(isLossName(3)).toBe(false);
    expect(getLossSchema('dro')).toBe(LOSS_SCHEMAS.dro);
    expect(() => getLossSchema('sft')).toThrow(ValidationError);
    expect(() => getLossSchema('sft')).toThrow(
      "Unknown loss_fn 'sft'; use one of 'cross_entropy', 'importance_sampling', 'ppo', " +
        "'cispo', 'dro'.",
    );
  });
});

describe('validateLossInputs', () => {
  it('accepts what each loss takes', () => {
    expect(validateLossInputs('cross_entropy', ['target_tokens'])).toEqual([]);
    expect(validateLossInputs('cross_entropy', ['target_tokens', 'weights'], null)).toEqual([]);
    for (const name of ['importance_sampling', 'ppo', 'cispo', 'dro']) {
      expect(validateLossInputs(name, rl, {})).toEqual([]);
    }
    expect(validateLossInputs('ppo', rl, { clip_high_threshold: 1.3 })).toEqual([]);
  });

  it('an unknown loss names itself and the known ones', () => {
    const [msg] = messages(validateLossInputs('grpo', rl));
    expect(msg).toMatch(/'grpo'/);
    expect(msg).toMatch(/'cross_entropy'.*'dro'/);
  });

  it('reports every missing and unused key, naming the loss and the key', () => {
    const msgs = messages(validateLossInputs('ppo', ['target_tokens', 'weights']));
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toMatch(/Loss 'ppo'.*missing 'logprobs'/);
    expect(msgs[1]).toMatch(/missing 'advantages'/);
    expect(msgs[2]).toMatch(/'weights', which ppo does not use; remove it/);
    const [ce] = messages(validateLossInputs('cross_entropy', ['target_tokens', 'advantages']));
    expect(ce).toMatch(/'advantages'.*does not use/);
  });

  it('rejects unknown config keys, non-finite values and lo > hi', () => {
    const [unknown] = messages(validateLossInputs('ppo', rl, { clip_eps: 0.2 }));
    expect(unknown).toMatch(/unknown key 'clip_eps'.*'clip_low_threshold'/);
    const [noConfig] = messages(
      validateLossInputs('cross_entropy', ['target_tokens'], { beta: 1 }),
    );
    expect(noConfig).toMatch(/'beta'.*takes no config/);
    const [nan] = messages(validateLossInputs('cispo', rl, { clip_low_threshold: NaN }));
    expect(nan).toMatch(/clip_low_threshold is NaN; it must be a finite number \(default 0\)/);
    const [inf] = messages(validateLossInputs('ppo', rl, { clip_high_threshold: Infinity }));
    expect(inf).toMatch(/clip_high_threshold is Infinity/);
    const [str] = messages(validateLossInputs('dro', rl, { beta: '0.1' as unknown as number }));
    expect(str).toMatch(/beta is the string '0.1'/);
    const [order] = messages(
      validateLossInputs('ppo', rl, { clip_low_threshold: 1.5, clip_high_threshold: 1.2 }),
    );
    expect(order).toMatch(/clip_low_threshold \(1.5\) is greater than clip_high_threshold \(1.2\)/);
    // Only hi given: checked against the default lo (cispo: 0 ≤ −1 fails).
    const [merged] = messages(validateLossInputs('cispo', rl, { clip_high_threshold: -1 }));
    expect(merged).toMatch(/clip_low_threshold \(0\) is greater than clip_high_threshold \(-1\)/);
    const [beta] = messages(validateLossInputs('dro', rl, { beta: -0.1 }));
    expect(beta).toMatch(/beta is -0.1.*≥ 0/);
  });

  it('rejects a negative lower threshold, and a config that is not an object', () => {
    // lo = −0.5 < 0 and lo ≤ default hi 1.2, so exactly one problem.
    const [neg] = messages(validateLossInputs('ppo', rl, { clip_low_threshold: -0.5 }));
    expect(neg).toBe(
      "Loss 'ppo': clip_low_threshold is -0.5, but ratios are positive; use a value ≥ 0 " +
        '(0 = no lower clip).',
    );
    const notObject = 0.2 as unknown as Record<string, unknown>;
    expect(messages(validateLossInputs('ppo', rl, notObject))).toEqual([
      "Loss 'ppo': loss_fn_config must be an object of numbers, got 0.2.",
    ]);
    const array = [0.8, 1.2] as unknown as Record<string, unknown>;
    expect(messages(validateLossInputs('ppo', rl, array))).toEqual([
      "Loss 'ppo': loss_fn_config must be an object of numbers, got an array.",
    ]);
  });
});

describe('resolveLossConfig', () => {
  it('merges defaults, freezes, and throws on a bad config', () => {
    const cfg = resolveLossConfig('ppo', { clip_high_threshold: 1.5 });
    expect(cfg).toEqual({ clip_low_threshold: 0.8, clip_high_threshold: 1.5 });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(resolveLossConfig('dro')).toEqual({ beta: 0.05 });
    expect(() => resolveLossConfig('ppo', { clip_low_threshold: 2 })).toThrow(ValidationError);
    expect(() => resolveLossConfig('sft')).toThrow(/Unknown loss_fn 'sft'/);
  });
});

describe('page safety', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const entry = resolve(here, '../../src/core/loss-schema.ts');
  const specifiers = (file: string) =>
    [
      ...readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g),
    ].map((m) => m[1] as string);

  it('src/core/loss-schema.ts imports no TF.js, directly or through what it imports', () => {
    const direct = specifiers(entry);
    expect(direct).toEqual(['../errors/loops-errors']);
    // Follow every relative import to the bottom: nothing may load '@tensorflow/*'.
    const seen = new Set<string>();
    const queue = [entry];
    for (let file = queue.pop(); file; file = queue.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of specifiers(file)) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(/^@tensorflow\//);
        if (spec.startsWith('.')) queue.push(resolve(dirname(file), `${spec}.ts`));
      }
    }
    expect(seen.size).toBe(2); // loss-schema.ts and errors/loops-errors.ts
  });
});
