/**
 * Training routes, the ops on a model: forward, forward_backward, optim_step, save_weights,
 * save_weights_for_sampler, load_weights and loops-web's init_trainer_server (making, listing and
 * dropping models is routes-models.ts). Every op on a model is a future run in its seq_id turn
 * (TinkerService.ordered); its arguments are checked with the same checks the page runs at call
 * time (src/client/validate.ts), so a bad batch from a Python script fails its own future with the
 * same message a bad call in the browser throws. tinker 0.24.1: resources/{models,training,
 * weights}.py, types/{create_model,forward_backward,optim_step,save_weights*,load_weights}_*.py.
 */
import { resolveAdamParams } from '../core/adam-params';
import { ValidationError } from '../errors/loops-errors';
import { checkBatch } from '../client/validate';
import type {
  ForwardBackwardRequest,
  ForwardRequest,
  LoadWeightsRequest,
  LoopsInitTrainerServerRequest,
  OptimStepRequest,
  SaveWeightsForSamplerRequest,
  SaveWeightsRequest,
  TinkerForwardBackwardInput,
} from '../protocol/tinker-wire';
import { HttpError, api, type Route, type ServerRequest } from './http-server';
import { toEnginePath, toTinkerPath } from './tinker/paths';
import { forwardOutput } from './tinker/translate';
import type { ModelRecord, TinkerService } from './tinker-service';

export function trainingRoutes(service: TinkerService): Route[] {
  const { engine } = service;
  const forward = (backward: boolean) => async (req: ServerRequest) => {
    const b = req.body as ForwardBackwardRequest & ForwardRequest;
    const model = service.model(b.model_id);
    const input = backward ? b.forward_backward_input : b.forward_input;
    return service.ordered(model.modelId, b.seq_id, req.digest, async () => {
      const { wire, config } = checkInput(input, model);
      const result = await engine.forwardBackward(
        model.modelId,
        wire,
        input.loss_fn,
        config,
        backward,
      );
      return forwardOutput(result);
    });
  };
  return [
    {
      method: 'POST',
      pattern: api('forward_backward'),
      schema: 'forward_backward',
      handle: forward(true),
    },
    { method: 'POST', pattern: api('forward'), schema: 'forward', handle: forward(false) },
    {
      method: 'POST',
      pattern: api('optim_step'),
      schema: 'optim_step',
      handle: async (req) => {
        const b = req.body as OptimStepRequest;
        const model = service.model(b.model_id);
        return service.ordered(model.modelId, b.seq_id, req.digest, async () => {
          const metrics = await engine.optimStep(model.modelId, resolveAdamParams(b.adam_params));
          model.policyVersion = metrics.step ?? model.policyVersion + 1;
          return { metrics };
        });
      },
    },
    {
      method: 'POST',
      pattern: api('save_weights'),
      schema: 'save_weights',
      handle: async (req) => {
        const b = req.body as SaveWeightsRequest;
        const model = service.model(b.model_id);
        return service.ordered(model.modelId, b.seq_id, req.digest, async () => {
          const path = await engine.saveState(model.modelId, b.path ?? `seq-${b.seq_id ?? 0}`);
          return { path: toTinkerPath(path), type: 'save_weights' };
        });
      },
    },
    {
      method: 'POST',
      pattern: api('save_weights_for_sampler'),
      schema: 'save_weights_for_sampler',
      handle: async (req) => saveForSampler(service, req),
    },
    {
      method: 'POST',
      pattern: api('load_weights'),
      schema: 'load_weights',
      handle: async (req) => {
        const b = req.body as LoadWeightsRequest;
        if (b.model_id === undefined)
          throw new HttpError(
            400,
            'load_weights needs model_id: create the model with create_model first (this server does not create models by loading).',
          );
        const model = service.model(b.model_id);
        return service.ordered(model.modelId, b.seq_id, req.digest, async () => {
          const r = await engine.loadState(model.modelId, toEnginePath(b.path), b.optimizer);
          model.policyVersion = r.policy_version;
          return {
            path: toTinkerPath(r.path),
            model_id: model.modelId,
            type: 'load_weights',
            policy_version: r.policy_version,
            lora_rank: r.lora_rank,
          };
        });
      },
    },
    {
      method: 'POST',
      pattern: api('loops_web/init_trainer_server'),
      schema: 'loops_web/init_trainer_server',
      handle: async (req) => {
        const b = req.body as LoopsInitTrainerServerRequest;
        const model = service.model(b.model_id);
        return service.ordered(model.modelId, b.seq_id, req.digest, async () => {
          const r = await engine.initTrainerServer(model.modelId, b.lora_rank);
          model.loraRank = r.lora_rank;
          model.policyVersion = r.policy_version;
          return r;
        });
      },
    },
  ];
}

async function saveForSampler(service: TinkerService, req: ServerRequest) {
  const b = req.body as SaveWeightsForSamplerRequest;
  const model = service.model(b.model_id);
  return service.ordered(model.modelId, b.seq_id, req.digest, async () => {
    if (b.path !== undefined) {
      const path = await service.engine.saveWeightsForSampler(model.modelId, b.path);
      return {
        path: toTinkerPath(path),
        type: 'save_weights_for_sampler',
        policy_version: model.policyVersion,
      };
    }
    // No name: an unsaved snapshot with its own sampling session (the SDK's
    // save_weights_and_get_sampling_client without a name).
    const info = await service.engine.createSampler({
      kind: 'run',
      runId: model.modelId,
      name: null,
    });
    service.addSampler({
      id: info.samplerId,
      sessionId: model.sessionId,
      baseModel: info.baseModel,
      modelPath: null,
      policyVersion: info.policyVersion,
      vocabSize: info.vocabSize,
      maxPositions: info.maxPositions,
      eosTokenIds: info.eosTokenIds,
    });
    return {
      sampling_session_id: info.samplerId,
      type: 'save_weights_for_sampler',
      policy_version: info.policyVersion,
    };
  });
}

function checkInput(input: TinkerForwardBackwardInput, model: ModelRecord) {
  for (const [i, d] of input.data.entries())
    for (const [key, td] of Object.entries(d.loss_fn_inputs))
      if (td.sparse_crow_indices || td.sparse_col_indices)
        throw new ValidationError(
          `Datum ${i}: ${key} is a sparse (CSR) tensor; this server takes dense data only.`,
        );
  return checkBatch(input.data, input.loss_fn, input.loss_fn_config ?? null, {
    vocabSize: model.vocabSize,
    maxSeqLen: model.maxSeqLen,
  });
}
