/**
 * Checks a request body against its route's JSON Schema (schemas.ts) with Ajv, and turns the first
 * violation into one sentence that names the field and what it must be. Used by `loops-web serve`
 * on every body, and by the tests on every body the remote placement sends.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { REQUEST_SCHEMAS } from './schemas';

const ajv = new Ajv({ allErrors: false, strict: true });
const compiled = new Map<string, ValidateFunction>();

function validator(route: string): ValidateFunction | null {
  let fn = compiled.get(route);
  if (!fn) {
    const schema = REQUEST_SCHEMAS[route];
    if (!schema) return null;
    fn = ajv.compile(schema);
    compiled.set(route, fn);
  }
  return fn;
}

/** True when `route` has a request schema. */
export function hasRequestSchema(route: string): boolean {
  return route in REQUEST_SCHEMAS;
}

/**
 * Null when `body` is a valid request of `route` (the path after /api/v1/), else the reason:
 * for example `lora_config.rank must be integer`.
 */
export function checkRequestBody(route: string, body: unknown): string | null {
  const fn = validator(route);
  if (!fn) return `no request schema for route ${route}`;
  if (fn(body)) return null;
  return describeError(fn.errors?.[0]);
}

function describeError(error: ErrorObject | undefined): string {
  if (!error) return 'the body does not match the request schema';
  const at = error.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'the body';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${at === 'the body' ? '' : `${at}.`}${String(params.missingProperty)} is required`;
    case 'additionalProperty':
    case 'additionalProperties':
      return `${at} has a field the protocol does not define: ${String(params.additionalProperty)}`;
    case 'const':
      return `${at} must be ${JSON.stringify(params.allowedValue)}`;
    case 'enum':
      return `${at} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at} ${error.message ?? 'is invalid'}`;
  }
}
