// The request schemas (src/server/tinker/schemas.ts) against bodies the Tinker Python SDK 0.24.1
// itself produced (tests/fixtures/tinker-sdk-bodies.json, written by scripts/tinker-sdk-bodies.py
// from the SDK's own types): every SDK body passes, and each kind of drift fails with the field
// named — a missing required field, a field the protocol does not define, a wrong dtype, a wrong
// `type` tag.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkRequestBody } from '../../src/server/tinker/check-body';
import { REQUEST_SCHEMAS } from '../../src/server/tinker/schemas';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/tinker-sdk-bodies.json', import.meta.url), 'utf8'),
) as { sdk_version: string; bodies: Record<string, Record<string, unknown>> };
const clone = <T>(v: T): T => structuredClone(v);

describe('Tinker request schemas', () => {
  it('come from SDK 0.24.1 and cover every body it sends here', () => {
    expect(fixture.sdk_version).toBe('0.24.1');
    for (const route of Object.keys(fixture.bodies)) expect(REQUEST_SCHEMAS).toHaveProperty(route);
  });

  it.each(Object.entries(fixture.bodies))('accept the SDK’s %s body', (route, body) => {
    expect(checkRequestBody(route, body)).toBeNull();
  });

  it('refuse drift, naming the field', () => {
    const b = fixture.bodies;
    const noSeq = clone(b.create_model!);
    delete noSeq.model_seq_id;
    expect(checkRequestBody('create_model', noSeq)).toBe('model_seq_id is required');

    const extra = { ...clone(b.optim_step!), lr: 0.1 };
    expect(checkRequestBody('optim_step', extra)).toMatch(/does not define: lr/);

    const fb = clone(b.forward_backward!) as {
      forward_backward_input: { data: { loss_fn_inputs: Record<string, { dtype: string }> }[] };
    };
    fb.forward_backward_input.data[0]!.loss_fn_inputs.target_tokens!.dtype = 'int32';
    expect(checkRequestBody('forward_backward', fb)).toMatch(
      /loss_fn_inputs\.target_tokens\.dtype must be one of "int64", "float32"/,
    );

    const tag = { ...clone(b.asample!), type: 'sample_v2' };
    expect(checkRequestBody('asample', tag)).toBe('type must be "sample"');

    const rank = clone(b.create_model!) as { lora_config: { rank: unknown } };
    rank.lora_config.rank = '8';
    expect(checkRequestBody('create_model', rank)).toBe('lora_config.rank must be integer');

    const renamed = clone(b.forward!) as Record<string, unknown>;
    renamed.forward_backward_input = renamed.forward_input;
    delete renamed.forward_input;
    expect(checkRequestBody('forward', renamed)).toBe('forward_input is required');
  });
});
