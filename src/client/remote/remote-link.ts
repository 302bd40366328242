/**
 * The `remote` placement: an engine link whose engine is a Tinker-compatible service at `base_url`
 * (remote-engine.ts). Nothing is transferred or proxied: requests are JSON over `fetch`. Closing
 * the link aborts every request in flight, so pending futures reject at once instead of waiting.
 */
import { ValidationError } from '../../errors/loops-errors';
import type { EngineLink } from '../engine-link';
import { DEFAULT_TUNING, TinkerHttp, type RemoteTuning } from './http';
import { RemoteEngine } from './remote-engine';

export interface RemoteOptions {
  /** The service's root, for example `http://127.0.0.1:8000` (the SDK's `base_url`). */
  readonly base_url?: unknown;
  /** Sent as `X-API-Key`; kept only inside the link. */
  readonly api_key?: unknown;
  /** Where tokenizers are read from when the service does not serve them. */
  readonly hub_url: string;
}

export function remoteLink(options: RemoteOptions, tuning: Partial<RemoteTuning> = {}): EngineLink {
  const baseUrl = checkBaseUrl(options.base_url);
  const key = options.api_key;
  if (key !== undefined && key !== null && (typeof key !== 'string' || key === ''))
    throw new ValidationError(
      'api_key must be a non-empty string (or left out for a service without keys).',
    );
  const http = new TinkerHttp(baseUrl, (key as string | undefined) ?? null, {
    ...DEFAULT_TUNING,
    ...tuning,
  });
  const engine = new RemoteEngine(http, options.hub_url);
  return {
    engine,
    callback: (fn) => fn,
    transfer: (value) => value,
    close() {
      engine.stopHeartbeat();
      http.close();
    },
  };
}

function checkBaseUrl(value: unknown): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^\s/]+/.test(value))
    throw new ValidationError(
      `engine 'remote' needs base_url, the service's http(s) URL (for example 'http://127.0.0.1:8000'), got ${value === undefined ? 'nothing' : JSON.stringify(value)}.`,
    );
  return value.replace(/\/+$/, '');
}
