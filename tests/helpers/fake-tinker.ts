// A scripted Tinker service on 127.0.0.1 for fault tests of the remote placement: it answers the
// session and model routes as loops-web serve would (with the fixture model's facts), and every
// retrieve_future with whatever the test scripted for that request, one answer per ask (the last
// one repeats). Every request is logged with its body, so tests can count asks and check bodies.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FIXTURE_CONFIG, FIXTURE_MODEL } from './fixture-model-dir';

const TOKENIZER_DIR = join(import.meta.dirname, '../../public/models/_tokenizer');

/** One scripted answer: a status, a body (JSON unless a string), optional headers. */
export interface Scripted {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface FakeTinker {
  readonly url: string;
  /** `${method} ${route}` and the parsed body of every request, in order. */
  readonly log: { route: string; body: unknown; headers: IncomingMessage['headers'] }[];
  /** Answers for retrieve_future of `requestId`, in order; the last repeats. */
  script(requestId: string, answers: Scripted[]): void;
  /** Answers for a route itself (e.g. 'POST forward_backward'), in order; the last repeats. */
  scriptRoute(route: string, answers: Scripted[]): void;
  asks(requestId: string): number;
  close(): Promise<void>;
}

export const ok = (body: unknown): Scripted => ({ status: 200, body });
export const tryAgain = (id: string): Scripted =>
  ok({ type: 'try_again', request_id: id, queue_state: 'active' });

/** A forward_backward result for `n` positions with `loss`. */
export const fbResult = (n: number, loss: number): Scripted =>
  ok({
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: [{ logprobs: { data: new Array(n).fill(-1), dtype: 'float32', shape: [n] } }],
    metrics: { 'loss:sum': loss },
  });

export async function startFakeTinker(): Promise<FakeTinker> {
  const log: FakeTinker['log'] = [];
  const scripts = new Map<string, Scripted[]>();
  const routes = new Map<string, Scripted[]>();
  const asks = new Map<string, number>();
  let next = 1;
  const facts = {
    base_model: FIXTURE_MODEL,
    vocab_size: FIXTURE_CONFIG.vocab_size,
    max_positions: FIXTURE_CONFIG.max_position_embeddings,
    eos_token_ids: [FIXTURE_CONFIG.eos_token_id],
    tokenizer_json: JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8')),
    tokenizer_config: JSON.parse(
      readFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8'),
    ),
  };
  const take = (list: Scripted[]): Scripted => (list.length > 1 ? list.shift()! : list[0]!);
  const answer = (route: string, body: Record<string, unknown>): Scripted => {
    const scripted = routes.get(route);
    if (scripted) return take(scripted);
    switch (route) {
      case 'GET get_server_capabilities':
        return ok({
          supported_models: [{ model_name: FIXTURE_MODEL, max_context_length: 128 }],
          loops_web: { version: 'fake', backend: 'cpu', adapter: null },
        });
      case 'POST create_session':
        return ok({ type: 'create_session', session_id: 'session-fake' });
      case 'POST session_heartbeat':
        return ok({ type: 'session_heartbeat' });
      case 'POST loops_web/model_facts':
        return ok(facts);
      case 'POST retrieve_future': {
        const id = String(body.request_id);
        asks.set(id, (asks.get(id) ?? 0) + 1);
        if (id === 'create') return ok({ model_id: 'model-fake', type: 'create_model' });
        const list = scripts.get(id);
        return list ? take(list) : tryAgain(id);
      }
      case 'POST create_model':
        return ok({ request_id: 'create' });
      default:
        return ok({ request_id: `op-${next++}`, model_id: 'model-fake' });
    }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const body = (text ? JSON.parse(text) : null) as Record<string, unknown>;
      const route = `${req.method} ${(req.url ?? '').replace(/^\/api\/v1\//, '')}`;
      log.push({ route, body, headers: req.headers });
      const a = answer(route, body ?? {});
      const raw = typeof a.body === 'string' ? a.body : JSON.stringify(a.body ?? null);
      res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
      res.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    script: (id, answers) => void scripts.set(id, [...answers]),
    scriptRoute: (route, answers) => void routes.set(route, [...answers]),
    asks: (id) => asks.get(id) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
