/**
 * How a remote service's failures reach the page: as `RemoteOpError`s (so `instanceof` works as it
 * does for an engine in a Worker), with the protocol's error category and the HTTP status kept.
 * A failure that `loops-web serve` reports with its engine's error class (`UnknownCheckpointError`,
 * `ValidationError`, a `RemoteOpError` with its `cause_class`, …) comes back as that same class,
 * exactly as over a Worker. Messages never
 * contain request headers, so the API key cannot leak through an error.
 */
import {
  RemoteOpError,
  fromWireError,
  type LoopsError,
  type WireError,
} from '../../errors/loops-errors';

/** The protocol's `RequestErrorCategory` (`user`: the request was wrong; `server`: the service failed). */
export type RemoteErrorCategory = 'user' | 'server' | 'unknown';

/** A remote op failed: the service answered with an error (or stopped answering). */
export class RemoteServiceError extends RemoteOpError {
  constructor(
    message: string,
    causeClass: string,
    /** The protocol's error category. */
    readonly category: RemoteErrorCategory,
    /** The HTTP status of the answer; null when there was none (connection refused, reset). */
    readonly status: number | null,
  ) {
    super(message, causeClass);
  }
}

/** The Python SDK's exception class for an HTTP status (tinker/_exceptions.py), as `cause_class`. */
function sdkClassFor(status: number): string {
  const byStatus: Record<number, string> = {
    400: 'BadRequestError',
    401: 'AuthenticationError',
    403: 'PermissionDeniedError',
    404: 'NotFoundError',
    409: 'ConflictError',
    422: 'UnprocessableEntityError',
    429: 'RateLimitError',
  };
  return byStatus[status] ?? (status >= 500 ? 'InternalServerError' : 'APIStatusError');
}

const FIXES: Record<number, string> = {
  401: 'check the api_key given to ServiceClient',
  403: 'the api_key is not allowed to do this',
  404: 'the service does not know this route or id; check base_url and that the run is still open',
  413: 'the request is larger than the service accepts; send smaller batches',
  415: 'the service does not accept this content type',
};

/** An error answer (4xx/5xx) to `route`, with the service's own words (`detail`) when it gave any. */
export function httpError(route: string, status: number, body: unknown): LoopsError {
  const detail = detailOf(body);
  const engine = engineError(body, detail);
  if (engine) return engine;
  const fix = FIXES[status];
  return new RemoteServiceError(
    `${route} failed with HTTP ${status}${detail ? `: ${detail}` : ''}${fix ? ` (${fix})` : ''}.`,
    sdkClassFor(status),
    status >= 500 ? 'server' : 'user',
    status,
  );
}

/** A failed op, as retrieve_future reports it (`RequestFailedResponse`). */
export function failedOpError(route: string, body: Record<string, unknown>): LoopsError {
  const message = typeof body.error === 'string' ? body.error : 'the op failed';
  const engine = engineError(body, message);
  if (engine) return engine;
  const category = (['user', 'server'] as const).find((c) => c === body.category) ?? 'unknown';
  return new RemoteServiceError(`${route}: ${message}`, 'RequestFailedError', category, 200);
}

/** The service did not answer for `seconds` (refused, reset, or timed out every try). */
export function unreachableError(
  baseUrl: string,
  route: string,
  seconds: number,
  cause: unknown,
): RemoteServiceError {
  const why =
    cause instanceof Error
      ? (cause.cause as Error | undefined)?.message || cause.message
      : String(cause);
  return new RemoteServiceError(
    `the service at ${baseUrl} did not answer ${route} for ${seconds.toFixed(1)} s (${why}); ` +
      'check that it is running, then create a new ServiceClient and resume from your last save_state.',
    'APIConnectionError',
    'unknown',
    null,
  );
}

/** An answer that is not the JSON the protocol defines for `route`. */
export function malformedError(route: string, what: string): RemoteServiceError {
  return new RemoteServiceError(
    `${route}: the service answered ${what}, which is not the Tinker protocol's JSON; check that base_url points at a Tinker-compatible service.`,
    'APIResponseValidationError',
    'server',
    200,
  );
}

/** A Loops-only op asked of a Tinker service that is not loops-web. */
export function unsupportedError(method: string): RemoteServiceError {
  return new RemoteServiceError(
    `${method} is a Loops extension that this Tinker service does not offer; it works with loops-web serve and the in-browser engine.`,
    'NotSupportedByService',
    'user',
    null,
  );
}

/** The ServiceClient was closed while the op was in flight. */
export function closedError(): RemoteOpError {
  return new RemoteOpError(
    'the ServiceClient was closed; create a new one to continue.',
    'EngineClosedError',
  );
}

/**
 * The engine's own error when loops-web serve named it (`error_class`, and `cause_class` for a
 * `RemoteOpError` such as a lost GPU device); null for any other answer.
 */
function engineError(body: unknown, message: string): LoopsError | null {
  const b = (body ?? {}) as { error_class?: unknown; cause_class?: unknown };
  if (typeof b.error_class !== 'string' || !message) return null;
  const wire: WireError = {
    error_class: b.error_class,
    message,
    ...(typeof b.cause_class === 'string' ? { cause_class: b.cause_class } : {}),
  };
  return fromWireError(wire);
}

/** True when a loops-web serve answer names the engine's error (see `engineError`). */
export function namesEngineError(body: unknown): boolean {
  return typeof (body as { error_class?: unknown } | null)?.error_class === 'string';
}

function detailOf(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 500);
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  const d = b.detail ?? b.error ?? b.message;
  if (typeof d === 'string') return d;
  return d === undefined ? '' : JSON.stringify(d).slice(0, 500);
}
