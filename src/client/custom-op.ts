/**
 * `forward_backward_custom` as one op in a run's order: the forward is sent in its turn, later
 * calls are held (submit-order.ts) while the user's loss runs on the page (custom-loss.ts), and the
 * weighted backward is sent before they are released, so an `optim_step` called right after the
 * custom op steps on its gradient. Validation is the caller's; this only sends.
 */
import type { WireDatum, WireForwardResult } from '../protocol/wire-types';
import { runCustomLoss, type CustomLossFn } from './custom-loss';
import type { EngineLink } from './engine-link';
import type { SubmitOrder } from './submit-order';

export interface CustomOp {
  /** The forward's result with the custom loss and its metrics, once the backward is done. */
  readonly done: Promise<WireForwardResult>;
  /** Settles once the backward has been sent (or the op failed before it). */
  readonly sent: Promise<void>;
}

export function submitCustomOp(
  link: EngineLink,
  order: SubmitOrder,
  runId: string,
  wire: WireDatum[],
  data: unknown[],
  lossFn: CustomLossFn,
): CustomOp {
  let release: () => void = () => undefined;
  const sent = new Promise<void>((resolve) => (release = resolve));
  const forward = order.submit(() =>
    link.engine.forwardBackward(runId, wire, 'cross_entropy', {}, false),
  );
  order.hold(sent);
  const done = forward
    .then(async (fwd) => {
      const { loss, metrics, weights } = await runCustomLoss(lossFn, data, fwd.logprobs);
      // Sent directly, not through `order`: every later call is waiting for this one.
      const backward = link.engine.backwardWeighted(runId, wire, weights);
      release();
      await backward;
      return { ...fwd, loss, metrics: { ...metrics, 'loss:sum': loss } };
    })
    .finally(release);
  return { done, sent };
}
