// fast-check arbitraries of malformed parameters: loss names and configs, SamplingParams and the
// other sample() arguments, AdamParams, checkpoint names and paths. Each is a `BadCall` naming the
// field its ValidationError must mention (see malformed-data.ts for datums and prompts).
import fc from 'fast-check';
import {
  BAD_FLOAT,
  BAD_ID,
  FRACTION,
  NOT_NUMBER,
  ODD_KEY,
  datum,
  textInput,
  type BadCall,
} from './malformed-data';

const RL_LOSSES = ['importance_sampling', 'ppo', 'cispo', 'dro'] as const;
const LOSSES = ['cross_entropy', ...RL_LOSSES];
const FB_ARGS = ['data', 'loss_fn', 'loss_fn_config'];
const SAMPLE_ARGS = [
  'prompt',
  'num_samples',
  'sampling_params',
  'include_prompt_logprobs',
  'topk_prompt_logprobs',
];

/** A valid datum for the policy-gradient losses. */
const RL_DATUM = datum([5, 6, 7], {
  target_tokens: [6, 7, 8],
  logprobs: [-1, -2, -0.5],
  advantages: [1, -1, 0.5],
});

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** A plain object whose keys cannot be read as the method's keyword arguments. */
function notKeywords(names: readonly string[]) {
  return (o: Record<string, unknown>) => Object.keys(o).some((k) => !names.includes(k));
}

/** Unknown loss names, wrong inputs for a loss, and bad loss_fn_config values. */
export const BAD_LOSS: fc.Arbitrary<BadCall> = fc.oneof(
  fc
    .string({ maxLength: 12 })
    .filter((n) => !LOSSES.includes(n))
    .map((name) => ({ kind: 'loss-name', args: [[RL_DATUM], name], field: 'loss_fn' })),
  fc
    .oneof(fc.integer(), fc.boolean(), fc.constant([1]), fc.object().filter(notKeywords(FB_ARGS)))
    .map((name) => ({ kind: 'loss-type', args: [[RL_DATUM], name], field: 'loss_fn' })),
  fc.constantFrom(...RL_LOSSES).map((loss) => ({
    kind: 'loss-inputs',
    args: [[datum([5, 6], { target_tokens: [6, 7] })], loss],
    field: /'logprobs'|'advantages'/,
  })),
  fc
    .tuple(
      fc.constantFrom(...LOSSES),
      ODD_KEY.filter((k) => !FB_ARGS.includes(k)),
      fc.double(),
    )
    .filter(
      ([loss, key]) =>
        !['beta', 'clip_low_threshold', 'clip_high_threshold'].includes(key) ||
        loss === 'cross_entropy',
    )
    .map(([loss, key, v]) => ({
      kind: 'config-key',
      args: [
        [loss === 'cross_entropy' ? datum([5], { target_tokens: [6] }) : RL_DATUM],
        loss,
        { [key]: v },
      ],
      field: `'${key}'`,
    })),
  fc
    .tuple(
      fc.constantFrom(
        ['ppo', 'clip_low_threshold'],
        ['ppo', 'clip_high_threshold'],
        ['cispo', 'clip_high_threshold'],
        ['dro', 'beta'],
      ),
      BAD_FLOAT,
    )
    .map(([[loss, key], v]) => ({
      kind: 'config-value',
      args: [[RL_DATUM], loss, { [key as string]: v }],
      field: key as string,
    })),
  fc
    .tuple(
      fc.double({ min: 0.01, max: 10, noNaN: true }),
      fc.double({ min: 0.01, max: 10, noNaN: true }),
    )
    .filter(([a, b]) => a > b)
    .map(([lo, hi]) => ({
      kind: 'config-order',
      args: [[RL_DATUM], 'ppo', { clip_low_threshold: lo, clip_high_threshold: hi }],
      field: 'clip_low_threshold',
    })),
  fc.double({ min: -1e6, max: -1e-9, noNaN: true }).map((beta) => ({
    kind: 'config-range',
    args: [[RL_DATUM], 'dro', { beta }],
    field: 'beta',
  })),
  fc
    .oneof(
      fc.string({ minLength: 1 }),
      fc.integer(),
      fc.constant([0.2]),
      fc.constant(new Map()),
      fc.constant(new Date(0)),
    )
    .map((config) => ({
      kind: 'config-type',
      args: [[RL_DATUM], 'ppo', config],
      field: 'loss_fn_config',
    })),
);

/** One SamplingParams field with a value outside its range, or an unknown field. */
const BAD_SAMPLING_FIELD: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(
    fc.constant('max_tokens'),
    fc.oneof(
      fc.integer({ max: 0 }),
      FRACTION,
      NOT_NUMBER.filter((v) => v !== null),
    ),
  ),
  fc.tuple(
    fc.constant('temperature'),
    fc.oneof(
      fc.double({ max: -1e-9 }),
      fc.constantFrom(NaN, Infinity),
      NOT_NUMBER.filter((v) => v !== null),
    ),
  ),
  fc.tuple(
    fc.constant('top_p'),
    fc.oneof(
      fc.double({ max: 0 }),
      fc.double({ min: 1.000001 }),
      fc.constant(NaN),
      NOT_NUMBER.filter((v) => v !== null),
    ),
  ),
  fc.tuple(
    fc.constant('top_k'),
    fc.oneof(
      fc.constant(0),
      fc.integer({ max: -2 }),
      FRACTION,
      NOT_NUMBER.filter((v) => v !== null),
    ),
  ),
  fc.tuple(
    fc.constant('seed'),
    fc.oneof(
      FRACTION,
      NOT_NUMBER.filter((v) => v !== null),
    ),
  ),
  fc.tuple(
    fc.constant('stop'),
    fc.oneof(
      fc.constant(''),
      fc.constant(['']),
      fc.constant([1, 'a']),
      fc.array(
        BAD_ID.filter((v) => typeof v === 'number'),
        { minLength: 1, maxLength: 3 },
      ),
      fc.constant([{}]),
      fc.boolean(),
    ),
  ),
  fc
    .string({ minLength: 1, maxLength: 10 })
    .filter((k) => !['max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop'].includes(k))
    .filter((k) => !SAMPLE_ARGS.includes(k))
    .map((k): [string, unknown] => [k, 1]),
);

const PROMPT = textInput([5, 6, 7]);

/** sample() with one bad argument (prompt aside: see BAD_PROMPT). */
export const BAD_SAMPLE: fc.Arbitrary<BadCall> = fc.oneof(
  fc
    .oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: 1025 }),
      FRACTION,
      // null is "the default"; a trailing {} is read as (no) keyword arguments.
      NOT_NUMBER.filter((v) => v !== null && !isEmptyObject(v)),
    )
    .map((n) => ({ kind: 'num_samples', args: [PROMPT, n], field: 'num_samples' })),
  BAD_SAMPLING_FIELD.map(([key, value]) => ({
    kind: 'sampling_params',
    args: [PROMPT, 1, { [key]: value }],
    field: key,
  })),
  fc.oneof(fc.string(), fc.integer(), fc.constant([1]), fc.boolean()).map((params) => ({
    kind: 'sampling_params-type',
    args: [PROMPT, 1, params],
    field: 'SamplingParams',
  })),
  fc.oneof(fc.string(), fc.integer(), fc.constant([true])).map((v) => ({
    kind: 'include_prompt_logprobs',
    args: [PROMPT, 1, {}, v],
    field: 'include_prompt_logprobs',
  })),
  fc.oneof(fc.integer({ max: -1 }), FRACTION, fc.string()).map((v) => ({
    kind: 'topk_prompt_logprobs',
    args: [PROMPT, 1, {}, false, v],
    field: 'topk_prompt_logprobs',
  })),
);

const ADAM_FIELDS: [string, fc.Arbitrary<unknown>][] = [
  ['learning_rate', fc.oneof(fc.double({ max: -1e-12 }), BAD_FLOAT)],
  ['beta1', fc.oneof(fc.double({ min: 1 }), fc.double({ max: -1e-9 }), BAD_FLOAT)],
  ['beta2', fc.oneof(fc.double({ min: 1 }), fc.double({ max: -1e-9 }), BAD_FLOAT)],
  ['eps', fc.oneof(fc.double({ max: 0 }), BAD_FLOAT)],
  ['weight_decay', fc.oneof(fc.double({ max: -1e-12 }), BAD_FLOAT)],
  ['grad_clip_norm', fc.oneof(fc.double({ max: -1e-12 }), BAD_FLOAT)],
];

/** optim_step() with AdamParams out of range, unknown fields, or not an object. */
export const BAD_ADAM: fc.Arbitrary<BadCall> = fc.oneof(
  ...ADAM_FIELDS.map(([key, arb]) =>
    fc.tuple(arb, fc.constantFrom('plain', 'keyword')).map(([v, form]) => ({
      kind: 'adam-field',
      args: [form === 'plain' ? { [key]: v } : { adam_params: { [key]: v } }],
      field: `AdamParams.${key}`,
    })),
  ),
  fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((k) => !ADAM_FIELDS.some(([f]) => f === k) && k !== 'adam_params')
    .map((key) => ({ kind: 'adam-unknown', args: [{ [key]: 1e-3 }], field: `'${key}'` })),
  fc
    .oneof(fc.string(), fc.integer(), fc.constant([1e-3]), fc.boolean())
    .map((v) => ({ kind: 'adam-type', args: [v], field: 'AdamParams' })),
);

const NAME_CHARS = 'abcXYZ019_.-';
/** A checkpoint name that breaks the 1–128 [A-Za-z0-9_.-] rule, or is not a string. */
export const BAD_NAME: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(''),
  fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 129, maxLength: 200 }),
  fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...NAME_CHARS), maxLength: 8 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
    )
    .map(([a, b]) => a + b)
    .filter((n) => !/^[A-Za-z0-9_.-]{1,128}$/.test(n)),
  fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant([1]),
    fc.object().filter(notKeywords(['name', 'ttl_seconds', 'retry_config'])),
  ),
);

const GOOD_PATH = 'idb://loops:abc123/weights/step-1';
/** A checkpoint path that is not one: near misses of a real path, random text, non-strings. */
export const BAD_PATH: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '',
    'step-1',
    'idb://loops:abc123/weights/',
    'idb://loop:abc123/weights/step-1',
    'idb://loops:abc123/weight/step-1',
    'idb://loops:abc 123/weights/step-1',
    'idb://loops:abc123/weights/step 1',
    'idb://loops:abc123/weights/a/b',
    `${GOOD_PATH}?x=1`,
    ` ${GOOD_PATH}`,
    `https://huggingface.co/${GOOD_PATH}`,
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 129, maxLength: 140 })
    .map((n) => `idb://loops:r/weights/${n}`),
  fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant([GOOD_PATH]),
    fc.object().filter(notKeywords(['path', 'model_path', 'on_progress'])),
  ),
);
