/**
 * `tf.engine().gradients(f, xs, dy)` that frees as it goes, for the recomputed blocks of
 * checkpoint.ts.
 *
 * TF.js 4.22's backward pass (tape.js `backpropagateGradients`) keeps every intermediate gradient
 * and every tensor a kernel saved for its gradient until the whole pass ends. For one recomputed
 * block that is all its activations plus all their gradients at once: the largest transient of a
 * checkpointed SmolLM2 step at 8×256 (about 100 MiB for one 256-token sequence, measured with
 * bench/lib/peak-memory.ts). Here the tape is walked in the same reverse order with the same
 * gradient functions, and after each node its outputs' gradients (complete by then: every consumer
 * of a tensor comes after its producer on the tape) and its saved tensors are disposed. The
 * gradients returned are the engine's, computed by the same kernels in the same order.
 *
 * Uses the engine's tape directly (`startTape`, `endTape`, `scopedRun`, `state.activeTape`:
 * TF.js 4.22 names, checked by tests/unit/tfjs-internals.test.ts and by the parity test of this
 * file against `engine.gradients`). Only for first-order gradients: it refuses to run while an
 * outer tape records.
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  readonly id: number;
  readonly kernelName: string;
  readonly inputs: Record<string, tf.Tensor>;
  readonly outputs: tf.Tensor[];
  readonly saved?: tf.Tensor[];
  readonly gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

/** value = f(), and ∂(Σ dy·value)/∂xs, holding each gradient only while it is needed. */
export function gradientsFreeing(
  f: () => tf.Tensor,
  xs: readonly tf.Tensor[],
  dy: tf.Tensor,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0) {
    throw new Error('gradientsFreeing: an outer gradient tape is recording (first order only)');
  }
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  const tape = engine.state.activeTape ?? [];
  try {
    const nodes = connecting(tape, xs, y);
    const wanted = new Set(xs.map((x) => x.id));
    const grads = engine.tidy('backward', () => {
      const acc = new Map<number, tf.Tensor>([[y.id, dy]]);
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i] as TapeNode;
        if (!node.gradient) throw new Error(`no gradient registered for ${node.kernelName}`);
        const inputGrads = node.gradient(node.outputs.map((o) => acc.get(o.id) ?? null));
        for (const [name, x] of Object.entries(node.inputs)) {
          const get = inputGrads[name];
          if (!get) throw new Error(`${node.kernelName} has no gradient for its input ${name}`);
          const dx = engine.tidy(name, get);
          const sum = acc.get(x.id);
          if (!sum) acc.set(x.id, dx);
          else {
            acc.set(x.id, tf.add(sum, dx));
            release(sum, acc, dy);
            release(dx, acc, dy);
          }
        }
        for (const o of node.outputs) {
          const g = acc.get(o.id);
          if (!g || wanted.has(o.id)) continue;
          acc.delete(o.id);
          release(g, acc, dy);
        }
        for (const t of node.saved ?? []) t.dispose();
      }
      return xs.map((x) => acc.get(x.id) ?? tf.zerosLike(x));
    });
    return { value: y, grads };
  } finally {
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  }
}

/** Disposes g unless it is the caller's dy or still held under another tensor's id. */
function release(g: tf.Tensor, acc: ReadonlyMap<number, tf.Tensor>, dy: tf.Tensor): void {
  if (g === dy) return;
  for (const held of acc.values()) if (held === g) return;
  g.dispose();
}

/**
 * The nodes on a path from xs to y, in tape order, each with only the inputs that depend on xs (so
 * no gradient is formed for a frozen weight): tape.js `getFilteredNodesXToY`'s rule.
 */
function connecting(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i] as TapeNode;
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    nodeToY.add(node.id);
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  return tape
    .filter((n) => nodeFromX.has(n.id) && nodeToY.has(n.id))
    .map((n) => ({
      ...n,
      inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))),
    }));
}
