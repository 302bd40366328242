/**
 * Engine results as the Tinker protocol's response bodies (tinker 0.24.1, types/*.py), with the
 * fields loops-web adds (responses ignore fields they do not know, so the Python SDK reads them
 * unchanged): the summed `loss`, `policy_version`, and the Loops checkpoint metadata.
 */
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../model/weight-names';
import type {
  ForwardBackwardOutput,
  SampleResponse,
  TinkerCheckpoint,
  WeightsInfoResponse,
} from '../../protocol/tinker-wire';
import type { Checkpoint, WireForwardResult, WireSampleResult } from '../../protocol/wire-types';
import { toTinkerPath } from './paths';

export function forwardOutput(result: WireForwardResult): ForwardBackwardOutput {
  return {
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: result.logprobs.map((lp) => ({
      logprobs: { data: Array.from(lp), dtype: 'float32', shape: [lp.length] },
    })),
    metrics: result.metrics,
    loss: result.loss,
  };
}

export function sampleResponse(result: WireSampleResult): SampleResponse {
  return {
    sequences: result.sequences.map((s) => ({
      stop_reason: s.stop_reason,
      tokens: s.tokens,
      logprobs: s.logprobs,
    })),
    type: 'sample',
    prompt_logprobs: result.prompt_logprobs,
    topk_prompt_logprobs: result.topk_prompt_logprobs,
    prompt_cache_hit_tokens: 0,
    policy_version: result.policy_version,
  };
}

export function tinkerCheckpoint(meta: Checkpoint): TinkerCheckpoint {
  const kind = meta.target === 'trainer' ? 'weights' : 'sampler_weights';
  return {
    checkpoint_id: `${kind}/${meta.checkpoint_id}`,
    checkpoint_type: meta.target === 'trainer' ? 'training' : 'sampler',
    time: meta.created_at,
    tinker_path: toTinkerPath(meta.path),
    size_bytes: meta.size_bytes,
    public: false,
    expires_at: null,
    base_model: meta.base_model,
    lora_adapter_config: {
      r: meta.lora_adapter_config.r,
      lora_alpha: meta.lora_adapter_config.lora_alpha,
      target_modules: [...meta.lora_adapter_config.target_modules],
    },
    step: meta.step,
    run_id: meta.run_id,
  };
}

const attention = new Set<string>(Object.values(ATTENTION_PROJECTIONS).flat());
const mlp = new Set<string>(Object.values(MLP_PROJECTIONS).flat());

/** What `create_training_client_from_state` needs to make a model of the checkpoint's shape. */
export function weightsInfo(meta: Checkpoint): WeightsInfoResponse {
  const targets = meta.lora_adapter_config.target_modules;
  return {
    base_model: meta.base_model,
    is_lora: true,
    lora_rank: meta.lora_adapter_config.r,
    train_unembed: targets.includes('lm_head'),
    train_mlp: targets.some((t) => mlp.has(t)),
    train_attn: targets.some((t) => attention.has(t)),
  };
}
