/** What `forward` / `forward_backward` resolve with (shared/LOOPS_API.md). */
import type { WireForwardResult } from '../../protocol/wire-types';
import { TensorData } from './tensor-data';

export interface ForwardBackwardOutput {
  /** The summed loss of the batch. */
  readonly loss: number;
  readonly loss_fn_output_type: string;
  /** Per datum: the log-probs of its target tokens under the weights the op ran with. */
  readonly loss_fn_outputs: readonly { readonly logprobs: TensorData }[];
  /** `name:reduction` keys, e.g. `loss:sum`, `num_tokens:sum`. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** The public output of an engine forward result, for loss `lossFn`. */
export function forwardBackwardOutput(
  out: WireForwardResult,
  lossFn: string,
): ForwardBackwardOutput {
  return {
    loss: out.loss,
    loss_fn_output_type: lossFn,
    loss_fn_outputs: out.logprobs.map((lp) => ({
      logprobs: new TensorData({ data: lp, dtype: 'float32' }),
    })),
    metrics: out.metrics,
  };
}
