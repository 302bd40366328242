/**
 * Service-level routes: health (the engine's), the SDK's client-config handshake (every proto/JWT flag off: this
 * server speaks the JSON protocol with API keys), telemetry (accepted, dropped), capabilities,
 * sessions and heartbeats, retrieve_future, and loops-web's model facts and engine memory.
 * tinker 0.24.1: resources/service.py, resources/futures.py, types/client_config_response.py.
 */
import type { GetServerCapabilitiesResponse } from '../protocol/tinker-wire';
import { HttpError, api, errorBody, type Route } from './http-server';
import type { TinkerService } from './tinker-service';

export function serviceRoutes(service: TinkerService): Route[] {
  const { engine } = service;
  return [
    {
      // The engine's health (Loops' health()): 503 with its error once it cannot run ops, as
      // after a lost GPU device; a load balancer's probe reads the status alone.
      method: 'GET',
      pattern: api('healthz'),
      auth: false,
      handle: async () => {
        try {
          await engine.health();
        } catch (error) {
          return { status: 503, body: errorBody(error) };
        }
        return { status: 'ok' };
      },
    },
    {
      method: 'POST',
      pattern: api('client/config'),
      schema: 'client_config',
      handle: async () => ({
        pjwt_auth_enabled: false,
        credential_default_source: 'api_key',
        parallel_fwdbwd_chunks: false,
        proto_write_fwdbwd: false,
        proto_compress_fwdbwd: false,
        fwd_via_fwdbwd: false,
        sample_no_retries: false,
        create_model_via_load_weights: false,
        // httpx's own transport: the SDK then needs no pyqwest to talk to this server.
        use_pyqwest_transport: false,
      }),
    },
    {
      method: 'POST',
      pattern: api('telemetry'),
      schema: 'telemetry',
      handle: async () => ({ status: 'accepted' }),
    },
    {
      method: 'GET',
      pattern: api('get_server_capabilities'),
      handle: async (): Promise<GetServerCapabilitiesResponse> => {
        const caps = await engine.capabilities();
        return {
          supported_models: caps.supported_models.map((m) => ({ ...m })),
          loops_web: {
            version: service.options.version,
            backend: caps.backend,
            adapter: caps.adapter,
          },
        };
      },
    },
    {
      method: 'POST',
      pattern: api('create_session'),
      schema: 'create_session',
      handle: async () => ({ type: 'create_session', session_id: service.openSession() }),
    },
    {
      method: 'POST',
      pattern: api('session_heartbeat'),
      schema: 'session_heartbeat',
      handle: async (req) => {
        service.session((req.body as { session_id: string }).session_id);
        return { type: 'session_heartbeat' };
      },
    },
    {
      method: 'POST',
      pattern: api('retrieve_future'),
      schema: 'retrieve_future',
      handle: async (req) => {
        const id = (req.body as { request_id: string }).request_id;
        const answer = await service.futures.retrieve(id);
        if (answer === null)
          throw new HttpError(
            404,
            `future ${id} not found (it is unknown, or its result expired).`,
          );
        return answer as object;
      },
    },
    {
      method: 'POST',
      pattern: api('loops_web/model_facts'),
      schema: 'loops_web/model_facts',
      handle: async (req) =>
        service.modelFactsWire((req.body as { base_model: string }).base_model),
    },
    { method: 'GET', pattern: api('loops_web/memory'), handle: async () => engine.memory() },
  ];
}
