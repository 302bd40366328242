/**
 * Model routes: create_model (a future), unload_model (in its model's seq_id turn), get_info,
 * weights_info (a checkpoint's LoRA config, read before a model of its shape is made) and
 * training_runs. The ops on a model are routes-training.ts. tinker 0.24.1:
 * resources/{models,weights}.py, types/{create_model,get_info,weights_info}_*.py.
 */
import type { CreateModelRequest } from '../protocol/tinker-wire';
import { HttpError, api, type Route, type ServerRequest } from './http-server';
import { enginePath, parseAnyPath } from './tinker/paths';
import { weightsInfo } from './tinker/translate';
import type { ModelRecord, TinkerService } from './tinker-service';

export function modelRoutes(service: TinkerService): Route[] {
  const { engine } = service;
  return [
    {
      method: 'POST',
      pattern: api('create_model'),
      schema: 'create_model',
      handle: async (req) => createModel(service, req),
    },
    {
      method: 'POST',
      pattern: api('unload_model'),
      schema: 'unload_model',
      handle: async (req) => {
        const model = service.model((req.body as { model_id: string }).model_id);
        return service.ordered(model.modelId, undefined, req.digest, async () => {
          await service.dropModel(model.modelId);
          return { model_id: model.modelId, type: 'unload_model' };
        });
      },
    },
    {
      method: 'POST',
      pattern: api('get_info'),
      schema: 'get_info',
      handle: async (req) => {
        const model = service.model((req.body as { model_id: string }).model_id);
        return {
          type: 'get_info',
          model_data: { model_name: model.baseModel, tokenizer_id: model.baseModel },
          model_id: model.modelId,
          is_lora: true,
          lora_rank: model.loraRank,
          model_name: model.baseModel,
        };
      },
    },
    {
      method: 'POST',
      pattern: api('weights_info'),
      schema: 'weights_info',
      handle: async (req) => {
        const path = (req.body as { tinker_path: string }).tinker_path;
        const ref = parseAnyPath(path);
        if (!ref || ref.kind !== 'weights')
          throw new HttpError(
            400,
            `${JSON.stringify(path)} is not a training checkpoint path; expected tinker://<run_id>/weights/<name>.`,
          );
        const meta = (await engine.listCheckpoints(ref.runId)).find(
          (m) => m.path === enginePath(ref),
        );
        if (!meta)
          throw new HttpError(
            404,
            `no checkpoint ${path}; list the saved ones with list_checkpoints().`,
            'UnknownCheckpointError',
          );
        return weightsInfo(meta);
      },
    },
    {
      method: 'GET',
      pattern: api('training_runs'),
      handle: async () => {
        const runs = [...service.models.values()].map(trainingRun);
        return {
          training_runs: runs,
          cursor: { offset: 0, limit: runs.length, total_count: runs.length },
        };
      },
    },
    {
      method: 'GET',
      pattern: api('training_runs/([^/]+)'),
      handle: async (req) => trainingRun(service.model(req.params[0]!)),
    },
  ];
}

async function createModel(service: TinkerService, req: ServerRequest) {
  const b = req.body as CreateModelRequest;
  const lora = b.lora_config ?? { rank: 32 };
  if (lora.rank < 1)
    throw new HttpError(422, `create_model: lora_config.rank is ${lora.rank}; it must be ≥ 1.`);
  const requestId = service.createOnce(b.session_id, b.model_seq_id, () =>
    service.futures.add(
      (async () => {
        const info = await service.engine.createRun({
          baseModel: b.base_model,
          rank: lora.rank,
          seed: lora.seed ?? null,
          trainMlp: lora.train_mlp ?? true,
          trainAttn: lora.train_attn ?? true,
          trainUnembed: lora.train_unembed ?? true,
          loraAlpha: null,
          maxSeqLen: null,
          hubUrl: service.options.hubUrl,
          fromState: null,
        });
        service.addModel({
          modelId: info.runId,
          sessionId: b.session_id,
          baseModel: info.baseModel,
          loraRank: info.loraRank,
          vocabSize: info.vocabSize,
          maxSeqLen: info.maxSeqLen,
          policyVersion: info.policyVersion,
          createdAt: new Date().toISOString(),
        });
        return { model_id: info.runId, type: 'create_model' };
      })(),
    ),
  );
  return { request_id: requestId };
}

function trainingRun(m: ModelRecord) {
  return {
    training_run_id: m.modelId,
    base_model: m.baseModel,
    model_owner: 'local',
    is_lora: true,
    corrupted: false,
    lora_rank: m.loraRank,
    last_request_time: m.createdAt,
    last_checkpoint: null,
    last_sampler_checkpoint: null,
    user_metadata: null,
  };
}
