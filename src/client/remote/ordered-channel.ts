/**
 * Order on the wire, as the Tinker protocol defines it: every op on one model carries `seq_id`
 * 1, 2, 3, … in the order the page called it, and is submitted only after the previous op's
 * submission was answered (the SDK's `_take_turn`, tinker 0.24.1
 * lib/public_interfaces/training_client.py), so a service that runs ops in arrival order and one
 * that runs them in `seq_id` order both run them in call order. A submission that fails does not
 * hold up the ones after it. Results are then polled concurrently (poll.ts).
 */
import type { UntypedAPIFuture } from '../../protocol/tinker-wire';
import { malformedError } from './errors';
import type { TinkerHttp } from './http';
import { retrieveResult } from './poll';

export class OrderedChannel {
  private tail: Promise<unknown> = Promise.resolve();

  /** `nextSeq`: the seq_id of the next op (1 after create_model; 2 after a first load_weights). */
  constructor(
    private readonly http: TinkerHttp,
    private nextSeq = 1,
  ) {}

  /**
   * Takes the next seq_id now (call order), submits `body(seq)` to `route` in turn, and resolves
   * with the op's result body. `seq` false: an op without seq_id (unload_model), still in turn.
   */
  run(
    route: string,
    body: (seqId: number | undefined) => unknown,
    seq = true,
  ): Promise<Record<string, unknown>> {
    return this.submit(route, body, seq).then((id) => retrieveResult(this.http, id, route));
  }

  /** Like `run`, but resolves once the service has the op (its request id), without its result. */
  submit(
    route: string,
    body: (seqId: number | undefined) => unknown,
    seq = true,
    retrySeconds?: number,
  ): Promise<string> {
    const seqId = seq ? this.nextSeq++ : undefined;
    const submitted = this.tail.then(() =>
      this.http.call<UntypedAPIFuture>('POST', route, body(seqId), { retrySeconds }),
    );
    this.tail = submitted.catch(() => undefined);
    return submitted.then((future) => requestIdOf(future, route));
  }
}

/** The request id of an untyped future (SkyRL sends it as a string, some services as a number). */
export function requestIdOf(future: unknown, route: string): string {
  const id = (future as Partial<UntypedAPIFuture> | null)?.request_id as unknown;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  throw malformedError(route, 'an answer without a request_id to poll');
}
