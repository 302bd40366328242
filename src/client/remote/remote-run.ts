/**
 * One training run on a remote service (a Tinker "model"): its ordered channel and the training ops
 * as protocol requests. `forward_backward` and `forward` send the batch as Tinker datums;
 * the second half of `forward_backward_custom` is, as in the Tinker SDK, a `cross_entropy`
 * forward_backward whose `weights` are the custom loss's −∂loss/∂lp (tinker 0.24.1,
 * lib/public_interfaces/training_client.py `forward_backward_custom`).
 */
import type { AdamWire, WireDatum, WireForwardResult } from '../../protocol/wire-types';
import type { LoadWeightsResponse, SaveWeightsResponse } from '../../protocol/tinker-wire';
import { malformedError, unsupportedError } from './errors';
import type { TinkerHttp } from './http';
import { OrderedChannel } from './ordered-channel';
import { adamToTinker, datumToTinker, forwardResultFromTinker } from './wire';

export class RemoteRun {
  private readonly channel: OrderedChannel;
  /** Optimiser steps as of the last result seen (the service's count when it sends one). */
  policyVersion: number;
  /** The adapter's rank as of the last op that set it (create, init_trainer_server, load). */
  loraRank = 0;

  constructor(
    http: TinkerHttp,
    readonly modelId: string,
    readonly baseModel: string,
    nextSeq: number,
    policyVersion: number,
    private readonly loops: boolean,
  ) {
    this.channel = new OrderedChannel(http, nextSeq);
    this.policyVersion = policyVersion;
  }

  async forwardBackward(
    data: readonly WireDatum[],
    lossFn: string,
    config: Record<string, number>,
    backward: boolean,
  ): Promise<WireForwardResult> {
    const route = backward ? 'forward_backward' : 'forward';
    const input = {
      data: data.map(datumToTinker),
      loss_fn: lossFn,
      ...(Object.keys(config).length ? { loss_fn_config: config } : {}),
    };
    const result = await this.channel.run(route, (seq_id) =>
      backward
        ? { forward_backward_input: input, model_id: this.modelId, seq_id }
        : { forward_input: input, model_id: this.modelId, seq_id },
    );
    return forwardResultFromTinker(route, result);
  }

  async backwardWeighted(
    data: readonly WireDatum[],
    weights: readonly Float32Array[],
  ): Promise<void> {
    const weighted = data.map((d, i) => ({
      tokens: d.tokens,
      inputs: { target_tokens: d.inputs.target_tokens!, weights: weights[i]! },
    }));
    await this.forwardBackward(weighted, 'cross_entropy', {}, true);
  }

  async optimStep(adam: AdamWire): Promise<Record<string, number>> {
    const result = await this.channel.run('optim_step', (seq_id) => ({
      adam_params: adamToTinker(adam),
      model_id: this.modelId,
      seq_id,
      type: 'optim_step',
    }));
    const metrics = (result.metrics ?? {}) as Record<string, number>;
    this.policyVersion = metrics.step ?? this.policyVersion + 1;
    return { ...metrics, step: this.policyVersion };
  }

  async saveState(name: string): Promise<string> {
    const result = await this.channel.run('save_weights', (seq_id) => ({
      model_id: this.modelId,
      path: name,
      seq_id,
      type: 'save_weights',
    }));
    return pathOf('save_weights', result as Partial<SaveWeightsResponse>);
  }

  async saveWeightsForSampler(name: string): Promise<string> {
    const result = await this.saveForSampler(name, undefined);
    return pathOf('save_weights_for_sampler', result);
  }

  /** Saves sampler weights under `name`, or (name null) an unnamed snapshot with its own session. */
  saveForSampler(
    name: string | null,
    samplingSessionSeqId: number | undefined,
  ): Promise<Record<string, unknown>> {
    return this.channel.run('save_weights_for_sampler', (seq_id) => ({
      model_id: this.modelId,
      ...(name !== null ? { path: name } : { sampling_session_seq_id: samplingSessionSeqId }),
      seq_id,
      type: 'save_weights_for_sampler',
    }));
  }

  async loadState(
    path: string,
    withOptimizer: boolean,
  ): Promise<{ path: string; policy_version: number; lora_rank: number }> {
    const result = (await this.channel.run('load_weights', (seq_id) => ({
      model_id: this.modelId,
      seq_id,
      path,
      optimizer: withOptimizer,
      type: 'load_weights',
    }))) as Partial<LoadWeightsResponse> & { lora_rank?: number };
    // loops-web says which step the run is at now; another service does not, and a load without
    // the optimizer starts the step count over.
    this.policyVersion = result.policy_version ?? (withOptimizer ? this.policyVersion : 0);
    // loops-web says which rank the checkpoint brought (load_state may change it); another
    // service keeps the run's.
    this.loraRank = result.lora_rank ?? this.loraRank;
    return {
      path: result.path ?? path,
      policy_version: this.policyVersion,
      lora_rank: this.loraRank,
    };
  }

  async initTrainerServer(rank: number): Promise<{ lora_rank: number; policy_version: number }> {
    if (!this.loops) throw unsupportedError('init_trainer_server');
    const result = await this.channel.run('loops_web/init_trainer_server', (seq_id) => ({
      model_id: this.modelId,
      lora_rank: rank,
      seq_id,
    }));
    this.policyVersion = (result.policy_version as number | undefined) ?? 0;
    this.loraRank = rank;
    return { lora_rank: rank, policy_version: this.policyVersion };
  }

  /**
   * Frees the run on the service, after every op submitted before. `wait` false (the client is
   * closing): hand the service the request, within a few seconds, and do not wait for the result.
   */
  async close(wait = true): Promise<void> {
    const body = () => ({ model_id: this.modelId, type: 'unload_model' });
    if (wait) await this.channel.run('unload_model', body, false);
    else await this.channel.submit('unload_model', body, false, 2);
  }
}

function pathOf(route: string, result: { path?: unknown }): string {
  if (typeof result.path !== 'string') throw malformedError(route, 'a result without a path');
  return result.path;
}
