// `loops-web serve` at the HTTP level, with raw requests as any Tinker client (or a hostile one)
// would send them: bounded bodies, clear 4xx answers naming the problem, the API key, CORS only for
// listed origins, listening beyond this machine only with a key, and seq_id order (an op that
// arrives early waits its turn; a resend gets its first future; a reused seq_id is refused).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve';
import { FIXTURE_CONFIG, FIXTURE_MODEL, writeFixtureModels } from '../helpers/fixture-model-dir';
import { makeDatum } from '../helpers/training-data';

const KEY = 'tml-http-test';
const ORIGIN = 'http://lab.example';
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({
    port: 0,
    apiKey: KEY,
    modelsDir: writeFixtureModels(),
    backend: 'cpu',
    maxBodyBytes: 64 * 1024,
    allowOrigins: [ORIGIN],
    gapMs: 300,
    log: () => undefined,
  });
});
afterAll(() => server.close());

async function call(
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${server.url}/api/v1/${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY, ...headers },
    body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {}, headers: res.headers };
}

async function result(requestId: unknown): Promise<Record<string, unknown>> {
  for (;;) {
    const r = await call('retrieve_future', { request_id: requestId });
    if (r.json.type !== 'try_again') return r.json;
  }
}

const tinkerDatum = (seed: number) => JSON.parse(JSON.stringify(makeDatum(seed))) as unknown;

describe('loops-web serve over HTTP', () => {
  it('answers bad requests with clear 4xx', async () => {
    expect((await call('healthz', undefined, { 'X-API-Key': '' })).status).toBe(200);
    const noKey = await call('get_server_capabilities', undefined, { 'X-API-Key': 'wrong' });
    expect(noKey).toMatchObject({ status: 401, json: { detail: /X-API-Key/ } });
    expect((await call('no_such_route', {})).status).toBe(404);
    expect(await call('create_session', '{"tags": [')).toMatchObject({
      status: 400,
      json: { detail: /not valid JSON/ },
    });
    const proto = await call('forward_backward', 'x', { 'Content-Type': 'application/x-protobuf' });
    expect(proto).toMatchObject({ status: 415, json: { detail: /JSON form/ } });
    const missing = await call('create_model', { session_id: 's', base_model: FIXTURE_MODEL });
    expect(missing).toMatchObject({
      status: 422,
      json: { detail: 'create_model: model_seq_id is required' },
    });
    const wrongType = await call('optim_step', {
      adam_params: { learning_rate: 'fast' },
      model_id: 'm',
    });
    expect(wrongType.json.detail).toBe('optim_step: adam_params.learning_rate must be number');
    const big = await call('create_session', {
      tags: ['x'.repeat(70_000)],
      user_metadata: {},
      sdk_version: '0',
    });
    expect(big).toMatchObject({ status: 413, json: { detail: /--max-body-mb/ } });
    const lost = await call('retrieve_future', { request_id: 'nope' });
    expect(lost).toMatchObject({ status: 404, json: { detail: /future nope not found/ } });
  });

  it('answers CORS only for the listed origins', async () => {
    const pre = await fetch(`${server.url}/api/v1/create_session`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Headers': 'x-api-key' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-API-Key/);
    const other = await call('healthz', undefined, { Origin: 'http://evil.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses to listen beyond this machine without a key', async () => {
    await expect(startServer({ port: 0, host: '0.0.0.0', apiKey: null })).rejects.toThrow(
      /without an API key/,
    );
  });

  it('scores a prompt that fills the context when asample asks for prompt_logprobs', async () => {
    // compute_logprobs is a 1-token asample with prompt_logprobs (Tinker's sampling_client.py).
    const session = await call('create_session', {
      tags: [],
      user_metadata: {},
      sdk_version: '0.24.1',
      type: 'create_session',
    });
    const created = await call('create_sampling_session', {
      session_id: session.json.session_id,
      sampling_session_seq_id: 0,
      base_model: FIXTURE_MODEL,
    });
    const samplingSessionId = created.json.sampling_session_id;
    const T = FIXTURE_CONFIG.max_position_embeddings; // 128: no room to generate after it
    const sample = async (tokens: number[], seq: number, prompt_logprobs: boolean) =>
      result(
        (
          await call('asample', {
            sampling_session_id: samplingSessionId,
            seq_id: seq,
            prompt: { chunks: [{ tokens, type: 'encoded_text' }] },
            num_samples: 1,
            sampling_params: { max_tokens: 1, temperature: 1 },
            prompt_logprobs,
          })
        ).json.request_id,
      );
    const full = Array.from({ length: T }, (_, i) => 5 + i);
    const scored = await sample(full, 0, true);
    expect(scored.sequences).toEqual([{ tokens: [], logprobs: [], stop_reason: 'length' }]);
    expect(scored.prompt_logprobs).toHaveLength(T);
    expect(await sample(full, 1, false)).toMatchObject({
      error_class: 'ValidationError',
      error: /leaving no room to generate/,
    });
    expect(await sample([...full, 5], 2, true)).toMatchObject({
      error_class: 'ValidationError',
      error: `prompt has ${T + 1} tokens; the model's context is ${T}. Shorten it.`,
    });
  });

  it('runs a model’s ops in seq_id order, resends get their future, reuse is refused', async () => {
    const session = await call('create_session', {
      tags: [],
      user_metadata: {},
      sdk_version: '0.24.1',
      type: 'create_session',
    });
    const create = {
      session_id: session.json.session_id,
      model_seq_id: 0,
      base_model: FIXTURE_MODEL,
      lora_config: { rank: 2, seed: 3 },
      type: 'create_model',
    };
    const created = await call('create_model', create);
    expect((await call('create_model', create)).json.request_id).toBe(created.json.request_id);
    const modelId = (await result(created.json.request_id)).model_id as string;
    const fb = (seq: number, seed: number) => ({
      forward_backward_input: { data: [tinkerDatum(seed)], loss_fn: 'cross_entropy' },
      model_id: modelId,
      seq_id: seq,
    });
    // optim_step (seq 2) arrives before forward_backward (seq 1): it must wait, or it would step
    // on an empty gradient and report grad_norm 0.
    const step = await call('optim_step', {
      adam_params: { learning_rate: 0.01 },
      model_id: modelId,
      seq_id: 2,
      type: 'optim_step',
    });
    const first = await call('forward_backward', fb(1, 1));
    const resend = await call('forward_backward', fb(1, 1));
    expect(resend.json.request_id).toBe(first.json.request_id);
    expect((await call('forward_backward', fb(1, 2))).status).toBe(409);
    expect(
      ((await result(step.json.request_id)).metrics as Record<string, number>).grad_norm,
    ).toBeGreaterThan(0);
    expect((await result(first.json.request_id)).loss).toBeGreaterThan(0);
    // seq 3 never comes: seq 4 runs once the gap is given up (gapMs), instead of waiting forever.
    const late = await call('forward_backward', fb(4, 1));
    expect((await result(late.json.request_id)).loss).toBeGreaterThan(0);
    // A failed op is a RequestFailedResponse with the engine's class.
    const bad = await call('load_weights', {
      model_id: modelId,
      seq_id: 5,
      path: 'tinker://nosuchrun/weights/x',
      optimizer: false,
      type: 'load_weights',
    });
    expect(await result(bad.json.request_id)).toMatchObject({
      category: 'user',
      error_class: 'UnknownCheckpointError',
    });
  });
});
