/**
 * Picks the next token from one row of logits (length V): temperature, then top-k, then top-p,
 * then one uniform draw through the inverse CDF. Plain TypeScript over a Float32Array; the model
 * side produces the logits, the decode loop calls this once per sequence per position.
 *
 *   p_i ∝ exp((l_i − max_j l_j) / T)                                   (temperature T > 0)
 *   top-k: keep the k largest logits (ties: the lower token id wins)
 *   top-p: of those, keep the smallest set, taken in descending probability (ties: lower id
 *          first), whose probability sums to ≥ top_p (Holtzman et al. 2020, "The Curious Case of
 *          Neural Text Degeneration", §3.1), renormalised
 *   draw:  u ∈ [0, 1); the chosen token is the first kept id, walking ids in ascending order,
 *          whose cumulative weight exceeds u · Σ kept weights
 *   T = 0: argmax (lowest id on ties), no random draw.
 *
 * The returned `logprob` is log_softmax of the RAW logits (temperature 1, before top-k/top-p) at
 * the chosen token, not the log-probability under the tempered, truncated distribution that was
 * sampled from. RL losses (importance_sampling, ppo, cispo, dro) form ratio = exp(lp − q) where lp
 * is recomputed by the trainer from the same weights at temperature 1; reporting the raw
 * log-probability makes that ratio exactly 1 on-policy, whatever sampling settings were used.
 *
 * Numerics: everything is float64; the max is subtracted before exp; −Infinity logits (masked
 * tokens) have weight 0 and are never drawn; NaN or +Infinity logits are a model fault and throw.
 */
import type { TokenChoiceParams } from '../core/sampling-params';
import type { Rng } from './rng';

export interface TokenChoice {
  readonly token: number;
  /** log_softmax(raw logits)[token]; see the module comment. */
  readonly logprob: number;
}

/** Chooses one token from `logits` (one row, [V]); draws once from `rng` unless T = 0. */
export function chooseToken(
  logits: Float32Array,
  params: TokenChoiceParams,
  rng: Rng,
): TokenChoice {
  const { max, argmax } = scanRow(logits);
  const { temperature } = params;
  if (temperature === 0) {
    return { token: argmax, logprob: at(logits, argmax) - logSumExp(logits, max) };
  }
  const weights = temperedWeights(logits, max, temperature); // [V]
  const logZ = temperature === 1 ? max + Math.log(sum(weights, null)) : logSumExp(logits, max);
  const kept = keptOrAll(logits, weights, params);
  const token = drawInverseCdf(weights, kept, rng.nextFloat());
  return { token, logprob: at(logits, token) - logZ };
}

/**
 * The token ids `chooseToken` may return under `params`, ascending: the top-k, then the top-p
 * nucleus of those; at T = 0 the argmax alone. Exposed so tests can check the kept set exactly.
 */
export function keptTokenIds(logits: Float32Array, params: TokenChoiceParams): Int32Array {
  const { max, argmax } = scanRow(logits);
  if (params.temperature === 0) return Int32Array.of(argmax);
  const weights = temperedWeights(logits, max, params.temperature); // [V]
  return keptOrAll(logits, weights, params) ?? allIds(logits.length);
}

/** The max and its first index; throws on NaN, +Infinity or a row with nothing finite. */
function scanRow(logits: Float32Array): { max: number; argmax: number } {
  let max = -Infinity;
  let argmax = -1;
  for (let i = 0; i < logits.length; i++) {
    const l = at(logits, i);
    if (Number.isNaN(l) || l === Infinity) throw nonFiniteLogitError(i, logits.length, l);
    if (l > max) {
      max = l;
      argmax = i;
    }
  }
  if (argmax < 0) throw noLiveTokenError(logits.length);
  return { max, argmax };
}

/** Logit `i` of a row of `V` is NaN or +Infinity (the device chooser reports the same). */
export function nonFiniteLogitError(i: number, V: number, value: number): RangeError {
  return new RangeError(
    `logit ${i} of ${V} is ${value}; the model produced a non-finite value ` +
      '(check the weights, the adapter and the learning rate).',
  );
}

/** Every logit of a row of `V` is −Infinity. */
export function noLiveTokenError(V: number): RangeError {
  return new RangeError(
    `all ${V} logits are -Infinity; there is no token to choose ` +
      '(the vocabulary is empty or every token is masked).',
  );
}

/** log Σ exp(l_i), as max + log Σ exp(l_i − max). */
function logSumExp(logits: Float32Array, max: number): number {
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(at(logits, i) - max);
  return max + Math.log(total);
}

/** exp((l_i − max) / T): unnormalised probabilities, the max at 1, masked tokens at 0. */
function temperedWeights(logits: Float32Array, max: number, temperature: number): Float64Array {
  const weights = new Float64Array(logits.length); // [V]
  for (let i = 0; i < logits.length; i++) {
    weights[i] = Math.exp((at(logits, i) - max) / temperature);
  }
  return weights;
}

/** Kept ids ascending, or null when nothing is truncated (every token kept). */
function keptOrAll(
  logits: Float32Array,
  weights: Float64Array,
  params: TokenChoiceParams,
): Int32Array | null {
  const { topK, topP } = params;
  const truncateK = topK > 0 && topK < logits.length;
  if (!truncateK && topP >= 1) return null;
  const candidates = truncateK ? topKIds(logits, topK).sort() : null;
  return topP < 1 ? nucleus(weights, candidates, topP) : candidates;
}

/**
 * The smallest set of `candidates` (ascending ids; null = all), taken in descending weight (ties:
 * lower id first), whose weight reaches topP of their total; returned ascending.
 *
 * Only the weights ≥ θ = (1 − topP)·Z / n need sorting: the n' < n others weigh less than
 * n'·θ < (1 − topP)·Z together, so those above θ already hold more than topP·Z. (If rounding says
 * otherwise, the second pass sorts them all.) The sort is on the weights alone; the walk finds the
 * cutoff weight w* and how many tokens of weight exactly w* it took, and those are the lowest ids.
 */
function nucleus(weights: Float64Array, candidates: Int32Array | null, topP: number): Int32Array {
  const ids = candidates ?? allIds(weights.length);
  const total = sum(weights, ids);
  const target = topP * total;
  for (const threshold of [((1 - topP) * total) / ids.length, 0]) {
    let count = 0;
    for (const id of ids) if (at(weights, id) >= threshold) count++;
    const sorted = new Float64Array(count);
    count = 0;
    for (const id of ids) if (at(weights, id) >= threshold) sorted[count++] = at(weights, id);
    sorted.sort(); // ascending; walked from the top
    let cum = 0;
    for (let r = sorted.length - 1; r >= 0; r--) {
      cum += at(sorted, r);
      if (cum >= target) return takeDown(weights, ids, sorted, r);
    }
  }
  return ids;
}

/** The ids of the top `sorted.length − r` weights: all above sorted[r], then the lowest ids at it. */
function takeDown(
  weights: Float64Array,
  ids: Int32Array,
  sorted: Float64Array,
  r: number,
): Int32Array {
  const cutoff = at(sorted, r);
  let tiesLeft = 1;
  for (let q = r + 1; q < sorted.length && at(sorted, q) === cutoff; q++) tiesLeft++;
  const kept = new Int32Array(sorted.length - r);
  let n = 0;
  for (const id of ids) {
    const w = at(weights, id);
    if (w > cutoff || (w === cutoff && tiesLeft-- > 0)) kept[n++] = id;
  }
  return kept;
}

/**
 * The k ids with the largest logits (ties: lower id), in no particular order. A size-k heap whose
 * root is the worst kept id: O(V log k), no sort of the whole row.
 */
function topKIds(logits: Float32Array, k: number): Int32Array {
  // `better(a, b)`: a ranks above b.
  const better = (a: number, b: number): boolean => {
    const la = at(logits, a);
    const lb = at(logits, b);
    return la > lb || (la === lb && a < b);
  };
  const heap = new Int32Array(k);
  const swap = (i: number, j: number): void => {
    const t = at(heap, i);
    heap[i] = at(heap, j);
    heap[j] = t;
  };
  for (let id = 0; id < logits.length; id++) {
    if (id < k) {
      heap[id] = id;
      for (let j = id; j > 0 && better(at(heap, (j - 1) >> 1), at(heap, j)); j = (j - 1) >> 1) {
        swap(j, (j - 1) >> 1);
      }
    } else if (better(id, at(heap, 0))) {
      heap[0] = id;
      for (let j = 0; ;) {
        let worst = j;
        for (let c = 2 * j + 1; c <= 2 * j + 2 && c < k; c++) {
          if (better(at(heap, worst), at(heap, c))) worst = c;
        }
        if (worst === j) break;
        swap(j, worst);
        j = worst;
      }
    }
  }
  return heap;
}

/** Inverse-CDF draw over `kept` (ascending ids; null = all) for a uniform u ∈ [0, 1). */
function drawInverseCdf(weights: Float64Array, kept: Int32Array | null, u: number): number {
  const count = kept ? kept.length : weights.length;
  const target = u * sum(weights, kept);
  let cum = 0;
  let last = -1;
  for (let j = 0; j < count; j++) {
    const id = kept ? at(kept, j) : j;
    const w = at(weights, id);
    if (w > 0) {
      cum += w;
      last = id;
      if (cum > target) return id;
    }
  }
  // Only reached when rounding leaves cum ≤ u·total for u just below 1: the last live token.
  return last;
}

/** Σ weights over `ids` (null = all). */
function sum(weights: Float64Array, ids: Int32Array | null): number {
  let total = 0;
  if (ids) for (const id of ids) total += at(weights, id);
  else for (let i = 0; i < weights.length; i++) total += at(weights, i);
  return total;
}

function allIds(n: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return ids;
}

/** Indexed read for typed arrays under noUncheckedIndexedAccess. */
function at(a: ArrayLike<number>, i: number): number {
  return a[i] as number;
}
