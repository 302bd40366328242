// fast-check arbitraries of malformed calls to the Loops client, over the fixture model (vocabulary
// 4096, 128 positions). Each case is a call plus the field its ValidationError must name, so a
// test can check the message, not only the class. Values are plain JSON-like objects, as a Python
// script's data would arrive; valid parts are built from the same generators the bad parts replace.
import fc from 'fast-check';

export const VOCAB = 4096;
export const MAX_LEN = 128;

/** One bad call: `args` for the method, and what the error message must name. */
export interface BadCall {
  readonly kind: string;
  readonly args: unknown[];
  readonly field: string | RegExp;
}

const FRACTION = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, 0.5, -2.5, 1e-9),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((d) => !Number.isInteger(d)),
);
/** Not a number at all. */
const NOT_NUMBER = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt({ min: -5n, max: 5000n }),
  fc.constant({}),
  fc.constant([1]),
);
/** Not a valid token id of the fixture vocabulary. */
export const BAD_ID = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: -1 }),
  fc.integer({ min: VOCAB, max: 2 ** 31 }),
  FRACTION,
  NOT_NUMBER,
);
const ID = fc.integer({ min: 0, max: VOCAB - 1 });
/** A float that is not finite in float32, or not a number. */
const BAD_FLOAT = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, 1e39, -3.5e38, Number.MAX_VALUE),
  NOT_NUMBER,
);
/** Keys a loss_fn_inputs / config must not carry (prototype names included). */
export const ODD_KEY = fc
  .oneof(
    fc.constantFrom('__proto__', 'constructor', 'toString', 'advantages', 'mask', ''),
    fc.string({ minLength: 1, maxLength: 8 }),
  )
  .filter((k) => k !== 'target_tokens' && k !== 'weights');

function textInput(tokens: unknown[]) {
  return { chunks: [{ type: 'encoded_text', tokens }] };
}

function datum(tokens: unknown[], inputs: Record<string, unknown>) {
  return { model_input: textInput(tokens), loss_fn_inputs: inputs };
}

/** A model_input that is not one: wrong types, bad chunks, empty, an image. */
export const BAD_MODEL_INPUT = fc.oneof(
  NOT_NUMBER,
  fc.integer(),
  fc.constant({ chunks: 'tokens' }),
  fc.constant({ chunks: [] }),
  fc.constant({ chunks: [{ type: 'image', data: 'iVBORw0KGgo=', format: 'png' }] }),
  fc.constant({ chunks: [{ type: 'video', tokens: [1] }] }),
  fc.constant({ chunks: [null] }),
  fc.constant({ chunks: [{ type: 'encoded_text', tokens: 'abc' }] }),
  fc.constant({ chunks: [{ type: 'encoded_text', tokens: [1n] }] }),
);

/** A valid cross-entropy datum of n tokens (targets may be -100), as plain JSON. */
function validDatum(n: number) {
  return fc
    .tuple(
      fc.array(ID, { minLength: n, maxLength: n }),
      fc.array(fc.oneof(ID, fc.constant(-100)), { minLength: n, maxLength: n }),
      fc.array(fc.float({ min: 0, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
    )
    .map(([tokens, targets, weights]) => ({ tokens, targets, weights }));
}

type Parts = { tokens: unknown[]; targets: unknown[]; weights: unknown[] };

/** Replaces entry `at` (mod length) of a copy of `list` with `value`. */
function swap(list: unknown[], at: number, value: unknown): unknown[] {
  const out = [...list];
  out[at % out.length] = value;
  return out;
}

/**
 * How datum k of a batch goes wrong: the mutation and the field its error names. Every datum has
 * weights, so that a bad weights array is the only problem.
 */
type Mutation = (p: Parts, k: number) => { value: unknown; field: string | RegExp };

const DATUM_MUTATIONS: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), BAD_ID).map(([at, id]) => (p: Parts, k: number) => ({
    value: datum(swap(p.tokens, at, id), { target_tokens: p.targets, weights: p.weights }),
    field: `Datum ${k}: model_input`,
  })),
  fc
    .tuple(
      fc.nat(),
      BAD_ID.filter((t) => t !== -100),
    )
    .map(([at, t]) => (p: Parts, k: number) => ({
      value: datum(p.tokens, { target_tokens: swap(p.targets, at, t), weights: p.weights }),
      field: `Datum ${k}: target_tokens`,
    })),
  fc.integer({ min: 1, max: 6 }).map((d) => (p: Parts, k: number) => ({
    value: datum(p.tokens, {
      target_tokens: d % 2 ? p.targets.slice(d) : [...p.targets, ...Array<number>(d).fill(1)],
      weights: p.weights,
    }),
    field: `Datum ${k}: target_tokens`,
  })),
  fc.tuple(fc.nat(), BAD_FLOAT).map(([at, w]) => (p: Parts, k: number) => ({
    value: datum(p.tokens, { target_tokens: p.targets, weights: swap(p.weights, at, w) }),
    field: `Datum ${k}: weights`,
  })),
  fc.constant((p: Parts, k: number) => ({
    value: datum(p.tokens, { target_tokens: p.targets, weights: [...p.weights, 1] }),
    field: `Datum ${k}: weights`,
  })),
  fc.constant((p: Parts) => ({
    value: datum(p.tokens, { weights: p.weights }),
    field: 'target_tokens',
  })),
  ODD_KEY.map((key) => (p: Parts) => ({
    value: datum(p.tokens, { target_tokens: p.targets, weights: p.weights, [key]: p.weights }),
    field: `'${key}'`,
  })),
  BAD_MODEL_INPUT.map((input) => (p: Parts, k: number) => ({
    value: { model_input: input, loss_fn_inputs: { target_tokens: p.targets, weights: p.weights } },
    field: new RegExp(`Datum ${k}: .*(model_input|chunk)`),
  })),
  fc.oneof(NOT_NUMBER, fc.integer()).map((v) => (_p: Parts, k: number) => ({
    value: v,
    field: new RegExp(`Datum ${k}: (Datum needs|model_input)`),
  })),
  fc
    .oneof(
      fc.constant({ data: [1], dtype: 'int32' }),
      fc.constant({ data: [1, 2], dtype: 'int64', shape: [3] }),
      fc.constant({ data: [1], dtype: 'float64' }),
    )
    .map((td) => (p: Parts, k: number) => ({
      value: datum(p.tokens, { target_tokens: td, weights: p.weights }),
      field: `Datum ${k}: loss_fn_inputs.target_tokens`,
    })),
  fc
    .oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant({ data: [1] }), fc.bigInt())
    .map((v) => (p: Parts, k: number) => ({
      value: datum(p.tokens, { target_tokens: v, weights: p.weights }),
      field: `Datum ${k}: loss_fn_inputs.target_tokens`,
    })),
  fc.oneof(fc.constant([1, 2]), fc.string(), fc.integer()).map((v) => (p: Parts, k: number) => ({
    value: { model_input: textInput(p.tokens), loss_fn_inputs: v },
    field: `Datum ${k}: loss_fn_inputs`,
  })),
  fc.integer({ min: MAX_LEN + 1, max: 3 * MAX_LEN }).map((n) => (_p: Parts, k: number) => ({
    value: datum(Array<number>(n).fill(7), {
      target_tokens: Array<number>(n).fill(7),
      weights: Array<number>(n).fill(1),
    }),
    field: `Datum ${k}: model_input has ${n} tokens`,
  })),
);

/** forward_backward / forward with a batch of 1–3 Datums, one of them malformed. */
export const BAD_BATCH: fc.Arbitrary<BadCall> = fc.oneof(
  fc
    .tuple(
      fc
        .integer({ min: 1, max: 12 })
        .chain((n) => fc.array(validDatum(n), { minLength: 1, maxLength: 3 })),
      fc.nat(),
      DATUM_MUTATIONS,
    )
    .map(([parts, at, mutate]) => {
      const k = at % parts.length;
      const bad = mutate(parts[k]!, k);
      const batch = parts.map((p, i) =>
        i === k ? bad.value : datum(p.tokens, { target_tokens: p.targets, weights: p.weights }),
      );
      return { kind: 'datum', args: [batch, 'cross_entropy'], field: bad.field };
    }),
  fc
    .oneof(
      fc.constant([]),
      NOT_NUMBER.filter((v) => !Array.isArray(v)),
    )
    .map((data) => ({ kind: 'data', args: [data], field: 'data' })),
);

/** A prompt that sampling must refuse: not a ModelInput, a bad token, or no room to generate. */
export const BAD_PROMPT: fc.Arbitrary<unknown> = fc.oneof(
  BAD_MODEL_INPUT,
  fc.array(ID, { minLength: 1, maxLength: 5 }),
  fc
    .tuple(fc.array(ID, { minLength: 1, maxLength: 10 }), fc.nat(), BAD_ID)
    .map(([tokens, at, id]) => textInput(swap(tokens, at, id))),
  fc
    .integer({ min: MAX_LEN + 1, max: 2 * MAX_LEN })
    .map((n) => textInput(Array<number>(n).fill(9))),
);

export { NOT_NUMBER, FRACTION, BAD_FLOAT, ID, datum, textInput };
