import { describe, expect, it } from 'vitest';
import {
  LoopsError,
  RemoteOpError,
  UnsupportedModelError,
  ValidationError,
  fromWireError,
  toWireError,
} from '../../src/errors/loops-errors';

describe('wire errors', () => {
  it('rebuild a Loops class as itself', () => {
    const back = fromWireError(
      toWireError(new UnsupportedModelError('no such architecture: Mamba')),
    );
    expect(back).toBeInstanceOf(UnsupportedModelError);
    expect(back).toBeInstanceOf(LoopsError);
    expect(back.message).toBe('no such architecture: Mamba');
    expect(back.name).toBe('UnsupportedModelError');
  });

  it('turn a foreign error into a RemoteOpError that names its class', () => {
    const back = fromWireError(toWireError(new RangeError('buffer too large')));
    expect(back).toBeInstanceOf(RemoteOpError);
    expect((back as RemoteOpError).cause_class).toBe('RangeError');
    expect(back).not.toBeInstanceOf(ValidationError);
  });

  it('keep a RemoteOpError cause', () => {
    const back = fromWireError(toWireError(new RemoteOpError('device lost', 'DeviceLostError')));
    expect(back).toBeInstanceOf(RemoteOpError);
    expect((back as RemoteOpError).cause_class).toBe('DeviceLostError');
  });

  it('carry thrown non-errors as text', () => {
    expect(fromWireError(toWireError('boom')).message).toBe('boom');
  });
});
