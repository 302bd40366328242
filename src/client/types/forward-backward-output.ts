/** What `forward` / `forward_backward` resolve with (shared/LOOPS_API.md). */
import type { TensorData } from './tensor-data';

export interface ForwardBackwardOutput {
  /** The summed loss of the batch. */
  readonly loss: number;
  readonly loss_fn_output_type: string;
  /** Per datum: the log-probs of its target tokens under the weights the op ran with. */
  readonly loss_fn_outputs: readonly { readonly logprobs: TensorData }[];
  /** `name:reduction` keys, e.g. `loss:sum`, `num_tokens:sum`. */
  readonly metrics: Readonly<Record<string, number>>;
}
