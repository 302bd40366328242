/**
 * The HTTP layer of `loops-web serve` (node:http): routing, the `X-API-Key` check, bounded JSON
 * bodies checked against the protocol's schemas, CORS for the listed origins, and error answers in
 * one shape, `{detail, error_class?, cause_class?}` (FastAPI's `detail`, which Tinker services
 * use). What each route does is in the route modules; nothing here logs a header, so the key never
 * reaches a log.
 *   413  body over the limit        415  not JSON        400  JSON that does not parse
 *   422  JSON that is not the route's request (the field and the reason are named)
 *   401  missing or wrong key       404  no such route or id
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import { LoopsError, RemoteOpError, toWireError } from '../errors/loops-errors';
import { stringifyJson } from '../client/remote/json';
import { checkRequestBody, hasRequestSchema } from './tinker/check-body';

export interface ServerRequest {
  readonly method: string;
  readonly path: string;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** sha256 of the raw body (to recognise a resent request). */
  readonly digest: string;
  /** `http://host:port` as the client reached the server (for URLs in answers). */
  readonly origin: string;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly bytes?: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The pattern of a route under /api/v1/ (`path` is a regular expression source). */
export const api = (path: string): RegExp => new RegExp(`^/api/v1/${path}$`);

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errorClass?: string,
  ) {
    super(detail);
  }
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Matched against the path; capture groups become `params`. */
  readonly pattern: RegExp;
  /** The request schema's name (schemas.ts) when the body is checked. */
  readonly schema?: string;
  /** False for routes that carry their own authorisation (archive downloads by token). */
  readonly auth?: boolean;
  readonly handle: (req: ServerRequest) => Promise<Reply | object>;
}

export interface HttpOptions {
  readonly apiKey: string | null;
  readonly maxBodyBytes: number;
  /** Origins allowed to call from a browser ('*' for any); empty: none. */
  readonly allowOrigins: readonly string[];
  readonly log: (line: string) => void;
}

const CORS_HEADERS = [
  'Content-Type',
  'X-API-Key',
  'X-Tinker-Request-Iteration',
  'X-Tinker-Request-Type',
  'X-Tinker-Create-Promise-Roundtrip-Time',
  'X-Tinker-Sampling-Backpressure',
].join(', ');

export function createHttpServer(routes: readonly Route[], options: HttpOptions): Server {
  const key = options.apiKey ? Buffer.from(options.apiKey) : null;
  return createServer((req, res) => {
    handle(req, res, routes, options, key).catch((error: unknown) => {
      options.log(`loops-web serve: ${req.method} ${pathOf(req)} failed: ${String(error)}`);
      send(res, 500, { detail: 'internal error' });
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: readonly Route[],
  options: HttpOptions,
  key: Buffer | null,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const origin = req.headers.origin;
  if (origin && (options.allowOrigins.includes('*') || options.allowOrigins.includes(origin))) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
  }
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE');
    res.setHeader('Access-Control-Allow-Headers', CORS_HEADERS);
    res.setHeader('Access-Control-Max-Age', '600');
    return send(res, 204);
  }
  const matches = routes.filter((r) => r.pattern.test(url.pathname));
  const route = matches.find((r) => r.method === req.method);
  if (!route) {
    req.resume();
    const status = matches.length ? 405 : 404;
    return send(res, status, { detail: `no route ${req.method} ${url.pathname}` });
  }
  if (route.auth !== false && key && !keyMatches(req.headers['x-api-key'], key)) {
    req.resume();
    return send(res, 401, { detail: 'missing or wrong X-API-Key header' });
  }
  try {
    const { body, digest } = await readBody(req, route, options.maxBodyBytes);
    const params = route.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent);
    const host = req.headers.host ?? 'localhost';
    const reply = await route.handle({
      method: req.method!,
      path: url.pathname,
      params,
      query: url.searchParams,
      body,
      digest,
      origin: `http://${host}`,
    });
    if ('status' in reply && typeof reply.status === 'number')
      return sendReply(res, reply as Reply);
    return send(res, 200, reply);
  } catch (error) {
    const [status, body] = errorAnswer(error);
    if (status >= 500)
      options.log(`loops-web serve: ${route.method} ${url.pathname}: ${String(error)}`);
    return send(res, status, body);
  }
}

/** The key check, in constant time for keys of the right length. */
function keyMatches(given: string | string[] | undefined, key: Buffer): boolean {
  if (typeof given !== 'string') return false;
  const g = Buffer.from(given);
  return g.length === key.length && timingSafeEqual(g, key);
}

async function readBody(
  req: IncomingMessage,
  route: Route,
  max: number,
): Promise<{ body: unknown; digest: string }> {
  if (route.method !== 'POST') {
    req.resume();
    return { body: null, digest: '' };
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooBig = () =>
    new HttpError(
      413,
      `the body is larger than this server accepts (${max} bytes); send smaller batches, or start the server with a larger --max-body-mb.`,
    );
  if (declared > max) {
    req.resume();
    throw tooBig();
  }
  const type = String(req.headers['content-type'] ?? '');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooBig();
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  if (raw.length === 0 && !route.schema) return { body: {}, digest: '' };
  if (!type.includes('application/json'))
    throw new HttpError(
      415,
      `this server speaks the JSON form of the Tinker protocol (SDK ≤ 0.24.1); got Content-Type ${JSON.stringify(type)}.`,
    );
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (route.schema && hasRequestSchema(route.schema)) {
    const problem = checkRequestBody(route.schema, body);
    if (problem) throw new HttpError(422, `${route.schema}: ${problem}`);
  }
  return { body, digest: createHash('sha256').update(raw).digest('hex') };
}

/** A thrown error as [status, body]: the caller's mistakes are 4xx, the engine's failures 5xx. */
function errorAnswer(error: unknown): [number, object] {
  if (error instanceof HttpError)
    return [
      error.status,
      { detail: error.detail, ...(error.errorClass ? { error_class: error.errorClass } : {}) },
    ];
  const user = error instanceof LoopsError && !(error instanceof RemoteOpError);
  return [user ? 400 : 500, errorBody(error)];
}

/** An engine error as an answer's body: its message, class, and cause (`DeviceLostError`…). */
export function errorBody(error: unknown): {
  detail: string;
  error_class: string;
  cause_class?: string;
} {
  const wire = toWireError(error);
  return {
    detail: wire.message,
    error_class: wire.error_class,
    ...(wire.cause_class ? { cause_class: wire.cause_class } : {}),
  };
}

function sendReply(res: ServerResponse, reply: Reply): void {
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.bytes) {
    res.writeHead(reply.status, { 'Content-Length': reply.bytes.length });
    res.end(reply.bytes);
    return;
  }
  send(res, reply.status, reply.body);
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = stringifyJson(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://localhost').pathname;
}
