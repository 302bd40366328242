/**
 * The built-in losses by Loops name.
 *
 * A lookup table, not an if-chain: adding a loss is one file here, one line in this table and its
 * schema in src/core/loss-schema.ts. The call-time checks of `loss_fn_inputs` / `loss_fn_config`
 * are TF-free and live with the schemas; they are re-exported here for the engine's convenience.
 */
import { getLossSchema } from '../core/loss-schema';
import { cispo } from './cispo';
import { crossEntropy } from './cross-entropy';
import { dro } from './dro';
import { importanceSampling } from './importance-sampling';
import type { LossName, LossSpec } from './loss-spec';
import { ppo } from './ppo';

export { LOSS_NAMES, isLossName, resolveLossConfig, validateLossInputs } from '../core/loss-schema';

export const LOSSES: Readonly<Record<LossName, LossSpec>> = Object.freeze({
  cross_entropy: crossEntropy,
  importance_sampling: importanceSampling,
  ppo,
  cispo,
  dro,
});

/** The spec for `name`, or a ValidationError listing the known names. */
export function getLoss(name: string): LossSpec {
  return LOSSES[getLossSchema(name).name];
}
