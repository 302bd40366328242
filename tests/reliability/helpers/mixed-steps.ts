// The soak's unit of work, shared by tests/reliability/leaks.test.ts and scripts/soak.ts: one mixed
// step trains (forward_backward + optim_step), samples from a fresh snapshot (then closes it),
// saves the state and loads it back. After a warm-up step (Adam moments exist from then on), the
// engine's tensor count and bytes must not move, step after step.
import {
  AdamParams,
  ModelInput,
  SamplingParams,
  type ServiceClient,
  type TrainingClient,
} from '../../../src/index';
import type { EngineMemory } from '../../../src/protocol/engine-api';
import { FIXTURE_MODEL } from '../../helpers/fixture-model-dir';
import { BATCHES } from '../../helpers/training-data';

const adam = new AdamParams({ learning_rate: 5e-3, weight_decay: 0.01, grad_clip_norm: 5 });

export async function mixedStep(tc: TrainingClient, i: number): Promise<void> {
  void tc.forward_backward(BATCHES[i % 4]!);
  await tc.optim_step(adam);
  const sc = await tc.save_weights_and_get_sampling_client();
  await sc.sample(
    ModelInput.from_ints([5, 6, 7]),
    2,
    new SamplingParams({ max_tokens: 3, seed: i }),
  );
  await sc.close();
  const { path } = await tc.save_state('soak');
  await tc.load_state_with_optimizer(path);
}

export interface SoakResult {
  readonly steps: number;
  /** Before any run exists (backend ready). */
  readonly start: EngineMemory;
  /** After the warm-up step. */
  readonly warm: EngineMemory;
  /** After `steps` more mixed steps. */
  readonly after: EngineMemory;
  /** After the run is closed. */
  readonly closed: EngineMemory;
  readonly msPerStep: number;
  readonly policyVersion: number;
}

/** Runs `steps` mixed steps on a fresh run and reports the engine's memory around them. */
export async function soak(
  service: ServiceClient,
  memory: () => Promise<EngineMemory>,
  steps: number,
  onProgress?: (done: number, m: EngineMemory) => void,
): Promise<SoakResult> {
  await service.backend();
  const start = await memory();
  const tc = await service.create_lora_training_client(FIXTURE_MODEL, 4, 9);
  await mixedStep(tc, 0);
  const warm = await memory();
  const t0 = performance.now();
  for (let i = 1; i <= steps; i++) {
    await mixedStep(tc, i);
    if (onProgress && i % 100 === 0) onProgress(i, await memory());
  }
  const msPerStep = (performance.now() - t0) / steps;
  const after = await memory();
  const policyVersion = tc.policy_version;
  await tc.close();
  const closed = await memory();
  return { steps, start, warm, after, closed, msPerStep, policyVersion };
}
