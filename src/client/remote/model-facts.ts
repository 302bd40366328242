/**
 * What the client needs about a remote base model to check calls and tokenize on the page: the
 * vocabulary size, the context length, the end-of-sequence ids and the tokenizer files. From
 * `loops-web serve` they come in one call (`POST /api/v1/loops_web/model_facts`). A Tinker service
 * has no such route (its SDK loads the tokenizer from Hugging Face by the model's name or
 * `tokenizer_id`), so for other services they are read from the hub: `config.json`,
 * `tokenizer.json` and `tokenizer_config.json` under `<hub_url>/<repo>/resolve/main/`. The API key
 * is never sent to the hub.
 */
import type { LoopsModelFacts } from '../../protocol/tinker-wire';
import type { ModelFacts } from '../../protocol/wire-types';
import { RemoteServiceError } from './errors';
import type { TinkerHttp } from './http';

export async function loopsModelFacts(http: TinkerHttp, baseModel: string): Promise<ModelFacts> {
  const f = await http.call<LoopsModelFacts>('POST', 'loops_web/model_facts', {
    base_model: baseModel,
  });
  return {
    baseModel: f.base_model,
    vocabSize: f.vocab_size,
    maxPositions: f.max_positions,
    eosTokenIds: f.eos_token_ids,
    tokenizer: { tokenizerJson: f.tokenizer_json, tokenizerConfig: f.tokenizer_config },
  };
}

/** Facts from the hub for a service that is not loops-web; `repo` names the tokenizer's repo. */
export async function hubModelFacts(
  hubUrl: string,
  baseModel: string,
  repo = baseModel,
): Promise<ModelFacts> {
  const [config, tokenizerJson, tokenizerConfig] = await Promise.all([
    hubJson(hubUrl, baseModel, 'config.json'),
    hubJson(hubUrl, repo, 'tokenizer.json'),
    hubJson(hubUrl, repo, 'tokenizer_config.json'),
  ]);
  const c = config as Record<string, unknown>;
  const eos = c.eos_token_id;
  const eosIds = Array.isArray(eos) ? eos : typeof eos === 'number' ? [eos] : [];
  const vocab = c.vocab_size;
  const positions = c.max_position_embeddings ?? c.n_positions;
  if (typeof vocab !== 'number' || typeof positions !== 'number')
    throw new RemoteServiceError(
      `${hubUrl}/${baseModel}/resolve/main/config.json lacks vocab_size or max_position_embeddings; the client cannot check calls for this model.`,
      'UnsupportedModelError',
      'user',
      null,
    );
  return {
    baseModel,
    vocabSize: vocab,
    maxPositions: positions,
    eosTokenIds: eosIds as number[],
    tokenizer: { tokenizerJson, tokenizerConfig },
  };
}

async function hubJson(hubUrl: string, repo: string, file: string): Promise<unknown> {
  const url = `${hubUrl}/${repo}/resolve/main/${file}`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new RemoteServiceError(
      `could not fetch ${url} (${(error as Error).message}); the remote service does not serve tokenizers, so the client reads them from hub_url.`,
      'NetworkError',
      'unknown',
      null,
    );
  }
  if (!response.ok)
    throw new RemoteServiceError(
      `${url} answered HTTP ${response.status}; the remote service does not serve tokenizers, so the client reads them from hub_url (set hub_url to a mirror that has ${repo}).`,
      'NetworkError',
      'user',
      response.status,
    );
  return response.json();
}
