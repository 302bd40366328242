/**
 * The forward ops of a `TrainingClient`: `forward`, `forward_backward` and
 * `forward_backward_custom`. Each checks its batch at call time, then submits in the run's order
 * (submit-order.ts) and folds the backward's metrics into the client's log.
 */
import { ValidationError } from '../errors/loops-errors';
import type { WireDatum } from '../protocol/wire-types';
import { parseArgs } from './args';
import type { CustomLossFn } from './custom-loss';
import { submitCustomOp } from './custom-op';
import type { EngineLink } from './engine-link';
import { ForwardBackwardFuture } from './future';
import type { MetricsLog } from './metrics';
import type { SubmitOrder } from './submit-order';
import { forwardBackwardOutput } from './types/forward-backward-output';
import { checkBatch, type ModelLimits } from './validate';

/** What the forward ops need of the run's client. */
export interface RunHandle {
  readonly link: EngineLink;
  readonly order: SubmitOrder;
  readonly runId: string;
  readonly metrics: MetricsLog;
  readonly limits: ModelLimits;
  /** Throws when the client is closed (after the arguments are checked, before submitting). */
  checkOpen(): void;
}

const FB_ARGS = ['data', 'loss_fn', 'loss_fn_config'];

/** `forward` (backward false) or `forward_backward` on a run. */
export function submitForward(
  run: RunHandle,
  method: string,
  args: unknown[],
  backward: boolean,
): ForwardBackwardFuture {
  const a = parseArgs(method, FB_ARGS, args);
  const lossFn = a.loss_fn ?? 'cross_entropy';
  const { wire, config } = checkBatch(a.data, lossFn, a.loss_fn_config, run.limits);
  run.checkOpen();
  const payload = run.link.transfer(wire, transferables(wire));
  const done = run.order
    .submit(() =>
      run.link.engine.forwardBackward(run.runId, payload, lossFn as string, config, backward),
    )
    .then((out) => {
      if (backward) run.metrics.accumulate(out.metrics);
      return forwardBackwardOutput(out, lossFn as string);
    });
  return new ForwardBackwardFuture(done);
}

/** The custom op: its future, and when its backward has been sent (custom-op.ts). */
export function submitCustom(
  run: RunHandle,
  args: unknown[],
): { future: ForwardBackwardFuture; sent: Promise<void> } {
  const a = parseArgs('forward_backward_custom', ['data', 'loss_fn'], args);
  if (typeof a.loss_fn !== 'function')
    throw new ValidationError('loss_fn must be a function (data, logprobs) => { loss, metrics }.');
  const { wire } = checkBatch(a.data, 'cross_entropy', null, run.limits, { anyInputs: true });
  run.checkOpen();
  const data = a.data as unknown[];
  const op = submitCustomOp(run.link, run.order, run.runId, wire, data, a.loss_fn as CustomLossFn);
  const done = op.done.then((out) => {
    run.metrics.accumulate(out.metrics);
    return forwardBackwardOutput(out, 'custom');
  });
  return { future: new ForwardBackwardFuture(done), sent: op.sent };
}

function transferables(wire: readonly WireDatum[]): ArrayBuffer[] {
  return wire.flatMap((d) => [
    d.tokens.buffer,
    ...Object.values(d.inputs).map((v) => v.buffer),
  ]) as ArrayBuffer[];
}
