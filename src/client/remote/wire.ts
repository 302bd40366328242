/**
 * The engine's wire forms (src/protocol/wire-types.ts) to and from the Tinker protocol's JSON
 * (src/protocol/tinker-wire.ts): datums, results, checkpoints and checkpoint paths. Numbers cross as
 * JSON numbers; a float32 value printed by `JSON.stringify` and read back into a `Float32Array` is
 * the same float32, so results over the protocol equal results in-process bit for bit.
 */
import type {
  AdamWire,
  Checkpoint,
  SamplingParamsWire,
  WireDatum,
  WireForwardResult,
  WireSampleResult,
} from '../../protocol/wire-types';
import type {
  ForwardBackwardOutput,
  SampleResponse,
  TinkerAdamParams,
  TinkerCheckpoint,
  TinkerDatum,
  TinkerSamplingParams,
} from '../../protocol/tinker-wire';
import { malformedError } from './errors';

export function datumToTinker(d: WireDatum): TinkerDatum {
  const inputs: TinkerDatum['loss_fn_inputs'] = {};
  for (const [key, values] of Object.entries(d.inputs)) {
    inputs[key] = {
      data: Array.from(values),
      dtype: key === 'target_tokens' ? 'int64' : 'float32',
      shape: [values.length],
    };
  }
  return {
    loss_fn_inputs: inputs,
    model_input: { chunks: [{ tokens: Array.from(d.tokens), type: 'encoded_text' }] },
  };
}

/** The Loops loss is the summed loss, Tinker's metric `loss:sum` (loops-web also sends `loss`). */
export function forwardResultFromTinker(route: string, body: unknown): WireForwardResult {
  const out = body as Partial<ForwardBackwardOutput> & { loss?: number };
  if (!Array.isArray(out.loss_fn_outputs) || typeof out.metrics !== 'object' || !out.metrics)
    throw malformedError(route, 'a result without loss_fn_outputs and metrics');
  const logprobs = out.loss_fn_outputs.map((o) => {
    const lp = o?.logprobs;
    if (!lp || !Array.isArray(lp.data)) throw malformedError(route, 'an output without logprobs');
    return Float32Array.from(lp.data);
  });
  const loss = typeof out.loss === 'number' ? out.loss : out.metrics['loss:sum'];
  if (typeof loss !== 'number') throw malformedError(route, "a result without 'loss:sum'");
  return { loss, metrics: out.metrics, logprobs };
}

export function sampleResultFromTinker(
  route: string,
  body: unknown,
  policyVersion: number,
): WireSampleResult {
  const out = body as Partial<SampleResponse>;
  if (!Array.isArray(out.sequences)) throw malformedError(route, 'a result without sequences');
  return {
    sequences: out.sequences.map((s) => ({
      tokens: s.tokens,
      logprobs: s.logprobs ?? [],
      stop_reason: s.stop_reason,
    })),
    policy_version: out.policy_version ?? policyVersion,
    prompt_logprobs: out.prompt_logprobs ?? null,
    topk_prompt_logprobs: out.topk_prompt_logprobs ?? null,
  };
}

export function samplingParamsToTinker(p: SamplingParamsWire): TinkerSamplingParams {
  const out: TinkerSamplingParams = { temperature: p.temperature, top_k: p.top_k, top_p: p.top_p };
  if (p.max_tokens !== null) out.max_tokens = p.max_tokens;
  if (p.seed !== null) out.seed = p.seed;
  if (p.stop !== null) out.stop = (typeof p.stop === 'string' ? p.stop : [...p.stop]) as never;
  return out;
}

export function adamToTinker(a: AdamWire): TinkerAdamParams {
  return {
    learning_rate: a.learning_rate,
    beta1: a.beta1,
    beta2: a.beta2,
    eps: a.eps,
    weight_decay: a.weight_decay,
    grad_clip_norm: a.grad_clip_norm,
  };
}

export interface ParsedPath {
  readonly runId: string;
  readonly kind: 'weights' | 'sampler_weights';
  readonly name: string;
}

const PATH = /^(?:tinker:\/\/|idb:\/\/loops:)([^/\s]+)\/(weights|sampler_weights)\/([^/\s]+)$/;

/** The parts of a `tinker://` (or engine `idb://loops:`) checkpoint path; null when it is neither. */
export function parseCheckpointPath(path: string): ParsedPath | null {
  const m = PATH.exec(path);
  if (!m) return null;
  return { runId: m[1]!, kind: m[2] as ParsedPath['kind'], name: m[3]! };
}

/** A Tinker checkpoint as the Loops `Checkpoint`; loops-web fills the fields Tinker lacks. */
export function checkpointFromTinker(c: TinkerCheckpoint): Checkpoint {
  const parsed = parseCheckpointPath(c.tinker_path);
  return {
    id: c.tinker_path,
    checkpoint_id: parsed?.name ?? c.checkpoint_id,
    checkpoint_type: 'lora',
    target: c.checkpoint_type === 'training' ? 'trainer' : 'sampler',
    path: c.tinker_path,
    base_model: c.base_model ?? '',
    lora_adapter_config: c.lora_adapter_config ?? { r: 0, lora_alpha: 0, target_modules: [] },
    size_bytes: c.size_bytes ?? 0,
    created_at: c.time,
    run_id: c.run_id ?? parsed?.runId ?? '',
    step: c.step ?? 0,
  };
}
