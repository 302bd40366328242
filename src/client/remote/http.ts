/**
 * HTTP for the remote placement: JSON over `fetch` (browsers and Node alike), the `X-API-Key`
 * header, and the Tinker SDK's retry rules for submitting a request (tinker 0.24.1,
 * src/tinker/_base_client.py `_should_retry` / `_calculate_retry_timeout` and
 * lib/internal_client_holder.py `execute_with_retries`): 408, 409, 429 and 5xx answers and
 * connection failures are retried after `Retry-After` (when the service sends one, up to 60 s) or
 * min(0.5·2ⁿ, 10) s, until `retrySeconds` have passed; any other answer is final, and so is an
 * error answer in which loops-web serve names its engine's error (`error_class`). Polling results
 * has its own rules (poll.ts). The key lives in a private field: it is sent, never logged, never
 * put in an error message, never stored.
 */
import {
  closedError,
  httpError,
  malformedError,
  namesEngineError,
  unreachableError,
} from './errors';
import { stringifyJson } from './json';

export interface RemoteTuning {
  /** How long a request keeps being retried (service unreachable, 408/409/429/5xx); default 120 s. */
  readonly retrySeconds: number;
  /** Longest wait for one HTTP answer before it counts as a failed try; default 60 s (the SDK's). */
  readonly requestTimeoutSeconds: number;
  /** Session heartbeat period; default 10 s (the SDK's `SESSION_HEARTBEAT_PERIOD_SEC`). */
  readonly heartbeatSeconds: number;
  /** Cap on the pause between retrieve_future polls that answered try_again; default 1 s. */
  readonly maxPollPauseSeconds: number;
}

export const DEFAULT_TUNING: RemoteTuning = Object.freeze({
  retrySeconds: 120,
  requestTimeoutSeconds: 60,
  heartbeatSeconds: 10,
  maxPollPauseSeconds: 1,
});

/** One HTTP answer: the status and the parsed JSON body (or the text when it is not JSON). */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly json: boolean;
  readonly retryAfterSeconds: number | null;
  /** The `Location` of a redirect that was not followed (`redirect: 'manual'`). */
  readonly location: string | null;
}

/** Thrown by `send` when no answer came (refused, reset, timed out). */
export class NoAnswer extends Error {}

const RETRY_STATUS = (s: number) => s === 408 || s === 409 || s === 429 || s >= 500;

export class TinkerHttp {
  readonly #key: string | null;
  private readonly closer = new AbortController();

  constructor(
    readonly baseUrl: string,
    apiKey: string | null,
    readonly tuning: RemoteTuning,
  ) {
    this.#key = apiKey;
  }

  /** Aborts every request in flight and refuses new ones. */
  close(): void {
    this.closer.abort();
  }

  get closed(): boolean {
    return this.closer.signal.aborted;
  }

  /** One try: the answer, or `NoAnswer`. `route` is relative to /api/v1/ unless it is a full URL. */
  async send(
    method: 'GET' | 'POST' | 'DELETE',
    route: string,
    body?: unknown,
    options: { timeoutSeconds?: number } = {},
  ): Promise<Answer> {
    if (this.closed) throw closedError();
    const url = /^https?:\/\//.test(route) ? route : `${this.baseUrl}/api/v1/${route}`;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.#key) headers['X-API-Key'] = this.#key;
    const timeout = options.timeoutSeconds ?? this.tuning.requestTimeoutSeconds;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : stringifyJson(body),
        // Never follow a redirect: the key would go along to wherever it points.
        redirect: 'manual',
        signal: AbortSignal.any([this.closer.signal, AbortSignal.timeout(timeout * 1000)]),
      });
    } catch (error) {
      if (this.closed) throw closedError();
      throw new NoAnswer((error as Error).message, { cause: error });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (this.closed) throw closedError();
      throw new NoAnswer(`the answer broke off: ${(error as Error).message}`, { cause: error });
    }
    return {
      status: response.status,
      ...parseBody(text),
      retryAfterSeconds: retryAfter(response),
      location: response.headers.get('location'),
    };
  }

  /** `send` with the SDK's submit retries; resolves with the 2xx JSON body, else throws typed. */
  async call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    route: string,
    body?: unknown,
    options: { retrySeconds?: number } = {},
  ): Promise<T> {
    const budget = options.retrySeconds ?? this.tuning.retrySeconds;
    const start = Date.now();
    for (let attempt = 0; ; attempt++) {
      let answer: Answer | null = null;
      let failure: unknown = null;
      try {
        answer = await this.send(method, route, body);
      } catch (error) {
        if (!(error instanceof NoAnswer)) throw error;
        failure = error;
      }
      // An error answer that names the engine's error (loops-web serve's `error_class`) is the
      // engine's verdict on this request, a lost GPU device say: a resend gets the same.
      if (answer && (!RETRY_STATUS(answer.status) || namesEngineError(answer.body))) {
        if (answer.status >= 200 && answer.status < 300) {
          if (method === 'DELETE' || answer.status === 204) return undefined as T;
          if (!answer.json) throw malformedError(route, describeText(answer.body));
          return answer.body as T;
        }
        throw httpError(route, answer.status, answer.body);
      }
      const pause = answer?.retryAfterSeconds ?? Math.min(0.5 * 2 ** attempt, 10);
      const elapsed = (Date.now() - start) / 1000;
      if (elapsed + pause > budget) {
        if (answer) throw httpError(route, answer.status, answer.body);
        throw unreachableError(this.baseUrl, route, elapsed, failure);
      }
      await this.sleep(pause);
    }
  }

  /** Resolves after `seconds`, or rejects at once when the client closes. */
  sleep(seconds: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(closedError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(closedError());
      };
      const timer = setTimeout(() => {
        this.closer.signal.removeEventListener('abort', onAbort);
        resolve();
      }, seconds * 1000);
      this.closer.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function parseBody(text: string): { body: unknown; json: boolean } {
  if (text === '') return { body: null, json: false };
  try {
    return { body: JSON.parse(text) as unknown, json: true };
  } catch {
    return { body: text, json: false };
  }
}

/** `Retry-After` / `retry-after-ms` in seconds when in (0, 60], as the SDK honours them. */
function retryAfter(response: Response): number | null {
  const ms = Number(response.headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0 && ms <= 60_000) return ms / 1000;
  const s = Number(response.headers.get('retry-after'));
  if (Number.isFinite(s) && s > 0 && s <= 60) return s;
  return null;
}

export function describeText(body: unknown): string {
  if (body === null) return 'an empty body';
  const text = String(body);
  return `${JSON.stringify(text.slice(0, 80))}${text.length > 80 ? '…' : ''}`;
}
