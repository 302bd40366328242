/**
 * Frozen weights prepared once for a run of products instead of once per product, on wasm.
 *
 * Every product with a large B (a weight: ≥ UNCACHED_B_MIN_BYTES) pays, before XNNPACK's GEMM,
 * single-threaded work proportional to B: XNNPACK packs B into its own layout (the operator it
 * creates), and for y = x·Wᵀ (when not swapped) batch-mat-mul.ts first materialises Wᵀ, since the
 * package hands XNNPACK a B of [K, N] only. Both are dropped after the call (the packed copy of
 * every weight kept for good would be the whole model's size again in the heap). A checkpointed
 * block runs on one group of sequences at a time (model/checkpoint.ts), 8 groups at SmolLM2 8×256,
 * so each weight was packed again for every group, forward, recomputed forward and backward.
 *
 * Inside `reusingWeights(f)` a large B seen a second time is prepared once more and kept, with the
 * operator XNNPACK cached on it, until f returns; a B used once (an activation) is not kept. The
 * heap then holds up to three extra copies of the weights f uses (Wᵀ, its packed copy, W's packed
 * copy for ∂x = ∂y·W): a few MiB for one block. Values are exactly those of the unscoped products
 * (the same XNNPACK call on the same data). Measured in Node (one thread), x·Wᵀ and ∂y·W over 8
 * groups of 256 rows for SmolLM2's four weight shapes: 748–823 ms unscoped, 690–697 ms scoped.
 *
 * In a scope, A·Bᵀ with a large B folds rather than swaps (batch-mat-mul.ts `planMatMul`): Bᵀ is
 * made once, where the swap transposes A and the output on every product. In Chromium, SmolLM2's
 * shape at 4 layers, 8×256, the layers' x·Wᵀ products then took 1,045 instead of 1,544 ms
 * ([256, 576]·[1536, 576]ᵀ, 128 calls) with 2 threads, 1,800 instead of 1,962 ms with 1.
 *
 * A B must not be written in place while a scope holds it (no kernel of this project writes a
 * weight in place; the in-place row kernels write logits). Scopes do not nest: an inner
 * `reusingWeights` joins the outer one.
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { aliasOf, releaseAlias, transposeLastTwo } from './wasm-heap';

/** How a kept B is given to the package's product. */
export type PreparedKind = 'alias' | 'transposed';

interface Kept {
  readonly kind: PreparedKind;
  readonly info: tf.TensorInfo;
}

/** A B used once so far in the scope: prepared for that product only. */
const SEEN = 'seen';

interface Scope {
  backend: BackendWasm | null;
  /** B's dataId → `${kind} ${rows}x${cols}` → the prepared operand, or SEEN. */
  readonly kept: Map<object, Map<string, Kept | typeof SEEN>>;
}

let scope: Scope | null = null;

/** f(), with every large B of a wasm product in it prepared once (see the file's comment). */
export function reusingWeights<T>(f: () => T): T {
  if (scope) return f();
  const own: Scope = { backend: null, kept: new Map() };
  scope = own;
  try {
    return f();
  } finally {
    scope = null;
    releaseAll(own);
  }
}

/** Whether a `reusingWeights` scope is open. */
export function reusingWeightsNow(): boolean {
  return scope !== null;
}

/** Operands kept by the open scope (for tests). */
export function keptOperandCount(): number {
  let n = 0;
  for (const byKey of scope?.kept.values() ?? []) {
    for (const kept of byKey.values()) if (kept !== SEEN) n++;
  }
  return n;
}

/**
 * B prepared as `kind` (an `aliasOf` id, or Bᵀ as a new tensor). Without a scope, made for this
 * product. In one, made for this product the first time B is seen (activations are used once: they
 * are not kept), and made and kept from the second time (a weight, used once per group). `release`
 * says whether the caller frees it after its product or must leave it to the scope.
 */
export function preparedOperand(
  backend: BackendWasm,
  b: tf.TensorInfo,
  kind: PreparedKind,
): { readonly info: tf.TensorInfo; readonly release: boolean } {
  if (!scope || (scope.backend && scope.backend !== backend)) {
    return { info: make(backend, b, kind), release: true };
  }
  scope.backend = backend;
  const [rows, cols] = b.shape.slice(-2) as [number, number];
  const key = `${kind} ${rows}x${cols}`;
  let byKey = scope.kept.get(b.dataId);
  if (!byKey) scope.kept.set(b.dataId, (byKey = new Map()));
  const kept = byKey.get(key);
  if (kept === undefined) {
    byKey.set(key, SEEN);
    return { info: make(backend, b, kind), release: true };
  }
  if (kept !== SEEN) return { info: kept.info, release: false };
  const made: Kept = { kind, info: make(backend, b, kind) };
  byKey.set(key, made);
  return { info: made.info, release: false };
}

/** Frees a prepared operand that no scope keeps. */
export function releasePrepared(
  backend: BackendWasm,
  info: tf.TensorInfo,
  kind: PreparedKind,
): void {
  if (kind === 'alias') releaseAlias(backend, info);
  else backend.disposeData(info.dataId); // also frees the XNNPACK operator cached on its id
}

function make(backend: BackendWasm, b: tf.TensorInfo, kind: PreparedKind): tf.TensorInfo {
  return kind === 'alias' ? aliasOf(backend, b) : transposeLastTwo(backend, b);
}

function releaseAll(own: Scope): void {
  const backend = own.backend;
  if (!backend) return;
  for (const byKey of own.kept.values()) {
    for (const kept of byKey.values()) {
      if (kept !== SEEN) releasePrepared(backend, kept.info, kept.kind);
    }
  }
  own.kept.clear();
}
