/**
 * Waiting for an op's result: `POST /api/v1/retrieve_future {request_id}` until the service has it,
 * with the Python SDK's rules (tinker 0.24.1, src/tinker/lib/api_future_impl.py `_result_async`):
 *   200 `{type: "try_again"}`   → ask again (the service is still working; it may hold each ask open)
 *   200 `{error, category}`     → the op failed: its typed error (errors.ts `failedOpError`)
 *   200 anything else           → the result
 *   408, 5xx                    → ask again at once (here after a short pause, so a broken service
 *                                 is not hammered)
 *   429, no answer              → ask again after min(2ⁿ, 30) s
 *   400                         → ask again up to 3 times (a proxy may inject one), then fail
 *   410                         → the service lost the op: fail
 *   other 4xx                   → fail
 * Unlike the SDK, which retries a dead connection forever, a service that answers nothing (or only
 * 5xx) for `retrySeconds` fails the op with an `APIConnectionError`, so nothing waits forever on a
 * killed server. A try_again loop runs until the result comes or the client closes; the caller's
 * `future.result(timeout)` bounds how long anyone waits for it.
 */
import {
  RemoteServiceError,
  failedOpError,
  httpError,
  malformedError,
  unreachableError,
} from './errors';
import { NoAnswer, describeText, type TinkerHttp } from './http';

const MAX_BAD_REQUEST_RETRIES = 3;
/** The SDK's per-ask HTTP timeout for retrieve_future. */
const RETRIEVE_TIMEOUT_SECONDS = 45;

/** The result body of the op `requestId` (submitted on `route`, named in errors). */
export async function retrieveResult(
  http: TinkerHttp,
  requestId: string,
  route: string,
): Promise<Record<string, unknown>> {
  let badRequests = 0;
  let backoffs = 0;
  let quickRetries = 0;
  let failingSince: number | null = null;
  let lastFailure: unknown = null;
  const failing = (failure: unknown): number => {
    failingSince ??= Date.now();
    lastFailure = failure;
    return (Date.now() - failingSince) / 1000;
  };
  for (;;) {
    let answer;
    try {
      answer = await http.send(
        'POST',
        'retrieve_future',
        { request_id: requestId, allow_metadata_only: false },
        { timeoutSeconds: RETRIEVE_TIMEOUT_SECONDS },
      );
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
      const elapsed = failing(error);
      if (elapsed >= http.tuning.retrySeconds)
        throw unreachableError(http.baseUrl, route, elapsed, lastFailure);
      await http.sleep(Math.min(2 ** backoffs++, 30, http.tuning.retrySeconds - elapsed));
      continue;
    }
    const { status, body } = answer;
    if (status === 200) {
      failingSince = null;
      backoffs = 0;
      if (!answer.json || !body || typeof body !== 'object' || Array.isArray(body))
        throw malformedError(route, describeText(answer.json ? JSON.stringify(body) : body));
      const result = body as Record<string, unknown>;
      if (result.type === 'try_again' || result.status === 'complete_metadata') {
        await http.sleep(Math.min(0.01 * 2 ** quickRetries++, http.tuning.maxPollPauseSeconds));
        continue;
      }
      if ('error' in result) throw failedOpError(route, result);
      return result;
    }
    if (status === 408 || status >= 500) {
      if (status !== 408) {
        const elapsed = failing(httpError(route, status, body));
        if (elapsed >= http.tuning.retrySeconds) throw httpError(route, status, body);
      }
      await http.sleep(Math.min(0.01 * 2 ** quickRetries++, http.tuning.maxPollPauseSeconds));
      continue;
    }
    if (status === 429) {
      await http.sleep(answer.retryAfterSeconds ?? Math.min(2 ** backoffs++, 30));
      continue;
    }
    if (status === 400 && badRequests < MAX_BAD_REQUEST_RETRIES) {
      badRequests++;
      continue;
    }
    if (status === 410) {
      throw new RemoteServiceError(
        `${route}: the service no longer has this op (HTTP 410); submit it again.`,
        'RetryableException',
        'server',
        410,
      );
    }
    throw httpError(route, status, body);
  }
}
