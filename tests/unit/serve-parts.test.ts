// The parts of loops-web serve and the remote placement that need no engine: seq_id order, futures
// with long polls, the checkpoint archive format (tar.gz written by the server, read by the client),
// the on-disk checkpoint store, and JSON that keeps the sign of zero.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { UnknownCheckpointError, ValidationError } from '../../src/errors/loops-errors';
import { stringifyJson } from '../../src/client/remote/json';
import { readTar } from '../../src/client/remote/tar';
import { FileCheckpointStore } from '../../src/server/file-checkpoint-store';
import { FutureStore } from '../../src/server/futures';
import { SeqGate } from '../../src/server/seq-gate';
import { tarGz } from '../../src/server/tinker/tar-writer';
import type { Checkpoint } from '../../src/protocol/wire-types';

describe('SeqGate', () => {
  it('starts ops in seq_id order, whatever order they arrive in', () => {
    const gate = new SeqGate(60_000);
    gate.open('m');
    const ran: number[] = [];
    for (const seq of [3, 1, 4, 2]) gate.admit('m', seq, `d${seq}`, `r${seq}`, () => ran.push(seq));
    expect(ran).toEqual([1, 2, 3, 4]);
  });

  it('recognises a resend, refuses a reused seq_id, and gives up a gap after gapMs', () => {
    vi.useFakeTimers();
    try {
      const gate = new SeqGate(500);
      gate.open('m');
      const ran: number[] = [];
      gate.admit('m', 1, 'a', 'r1', () => ran.push(1));
      expect(gate.replay('m', 1, 'a')).toBe('r1');
      expect(() => gate.replay('m', 1, 'b')).toThrow(/already used/);
      gate.admit('m', 3, 'c', 'r3', () => ran.push(3));
      expect(ran).toEqual([1]);
      vi.advanceTimersByTime(499);
      expect(ran).toEqual([1]);
      vi.advanceTimersByTime(1);
      expect(ran).toEqual([1, 3]);
      gate.admit('m', 2, 'b', 'r2', () => ran.push(2)); // late: its slot was given up, it runs now
      expect(ran).toEqual([1, 3, 2]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs what still waits when the model closes, so no future is left pending', () => {
    const gate = new SeqGate(60_000);
    gate.open('m');
    const ran: number[] = [];
    gate.admit('m', 2, 'b', 'r2', () => ran.push(2));
    gate.close('m');
    expect(ran).toEqual([2]);
  });
});

describe('FutureStore', () => {
  it('answers try_again after the long poll, then the result; failures carry the class', async () => {
    const store = new FutureStore({ longPollMs: 20, keepMs: 60_000, maxKept: 100 });
    let finish!: (v: unknown) => void;
    const id = store.add(new Promise((resolve) => (finish = resolve)));
    expect(await store.retrieve(id)).toEqual({
      type: 'try_again',
      request_id: id,
      queue_state: 'active',
    });
    finish({ metrics: { step: 1 } });
    expect(await store.retrieve(id)).toEqual({ metrics: { step: 1 } });
    const failed = store.add(Promise.reject(new UnknownCheckpointError('no checkpoint x')));
    expect(await store.retrieve(failed)).toEqual({
      error: 'no checkpoint x',
      category: 'user',
      error_class: 'UnknownCheckpointError',
    });
    const crashed = store.add(Promise.reject(new Error('boom')));
    expect(await store.retrieve(crashed)).toMatchObject({
      category: 'server',
      error_class: 'Error',
    });
    expect(await store.retrieve('nope')).toBeNull();
  });

  it('a waiting retrieve returns as soon as the op finishes', async () => {
    const store = new FutureStore({ longPollMs: 60_000, keepMs: 60_000, maxKept: 100 });
    let finish!: (v: unknown) => void;
    const id = store.add(new Promise((resolve) => (finish = resolve)));
    const answer = store.retrieve(id);
    finish({ ok: 1 });
    expect(await answer).toEqual({ ok: 1 });
  });
});

describe('checkpoint archives', () => {
  it('a tar.gz written by the server reads back file for file', () => {
    const files = [
      { name: 'adapter_config.json', bytes: new TextEncoder().encode('{"r": 4}') },
      {
        name: 'adapter_model.safetensors',
        bytes: Uint8Array.from({ length: 1300 }, (_, i) => i % 251),
      },
      { name: 'empty.bin', bytes: new Uint8Array(0) },
    ];
    const back = readTar(tarGz(files));
    expect(back.map((f) => f.name)).toEqual(files.map((f) => f.name));
    back.forEach((f, i) => expect(f.bytes).toEqual(files[i]!.bytes));
  });

  it('a damaged archive is refused, not misread', () => {
    const broken = tarGz([{ name: 'a', bytes: new Uint8Array(2000) }]);
    expect(() => readTar(broken.subarray(0, broken.length - 30))).toThrow();
    // An entry that claims more bytes than the archive holds.
    const plain = new Uint8Array(1024);
    plain.set(new TextEncoder().encode('a'), 0);
    plain.set(new TextEncoder().encode('00000004000\0'), 124);
    expect(() => readTar(plain)).toThrow(/runs past its end/);
  });
});

const meta = (path: string, name: string, created: string): Checkpoint => ({
  id: `id-${name}`,
  checkpoint_id: name,
  checkpoint_type: 'lora',
  target: path.includes('/weights/') ? 'trainer' : 'sampler',
  path,
  base_model: 'm',
  lora_adapter_config: { r: 2, lora_alpha: 32, target_modules: ['q_proj'] },
  size_bytes: 3,
  created_at: created,
  run_id: 'run1',
  step: 0,
});

describe('FileCheckpointStore', () => {
  it('keeps checkpoints on disk: put, get by path or id, list oldest first, replace, delete', async () => {
    const root = mkdtempSync(join(tmpdir(), 'loops-ckpt-'));
    const store = new FileCheckpointStore(root);
    const a = 'idb://loops:run1/weights/a';
    const b = 'idb://loops:run1/sampler_weights/b';
    await store.put({
      meta: meta(b, 'b', '2026-01-02T00:00:00Z'),
      files: { 'x.bin': Uint8Array.of(1) },
    });
    await store.put({
      meta: meta(a, 'a', '2026-01-01T00:00:00Z'),
      files: { 'x.bin': Uint8Array.of(2) },
    });
    expect((await store.list('run1')).map((m) => m.checkpoint_id)).toEqual(['a', 'b']);
    expect((await store.get('id-b')).files['x.bin']).toEqual(Uint8Array.of(1));
    await store.put({
      meta: meta(a, 'a', '2026-01-03T00:00:00Z'),
      files: { 'y.bin': Uint8Array.of(3) },
    });
    expect(Object.keys((await new FileCheckpointStore(root).get(a)).files)).toEqual(['y.bin']);
    await store.delete(a);
    await expect(store.get(a)).rejects.toBeInstanceOf(UnknownCheckpointError);
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
  });

  it('never builds a path from anything but a parsed checkpoint path', async () => {
    const store = new FileCheckpointStore(mkdtempSync(join(tmpdir(), 'loops-ckpt-')));
    await expect(store.get('idb://loops:../../etc/weights/passwd')).rejects.toBeInstanceOf(
      UnknownCheckpointError,
    );
    await expect(
      store.put({ meta: meta('idb://loops:run1/weights/../../x', 'x', ''), files: {} }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('stringifyJson', () => {
  it('keeps −0 (JSON.stringify writes it as 0)', () => {
    const text = stringifyJson({ lp: [-0, 0, -1.5], s: 'a' });
    expect(text).toBe('{"lp":[-0.0,0,-1.5],"s":"a"}');
    expect(Object.is((JSON.parse(text) as { lp: number[] }).lp[0], -0)).toBe(true);
  });
});

describe('loops-web serve flags', () => {
  it('read the key from LOOPS_API_KEY, and refuse bad values with the flag named', async () => {
    const { parseServeArgs } = await import('../../src/server/cli');
    const o = parseServeArgs(
      [
        '--port',
        '0',
        '--checkpoint-dir',
        'memory',
        '--allow-origin',
        'http://a',
        '--allow-origin',
        'http://b',
      ],
      { LOOPS_API_KEY: 'tml-env' },
    );
    expect(o).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      apiKey: 'tml-env',
      checkpointDir: null,
      allowOrigins: ['http://a', 'http://b'],
      maxBodyBytes: 64 * 1024 * 1024,
    });
    expect(parseServeArgs([], { XDG_CACHE_HOME: '/c' }).checkpointDir).toBe(
      '/c/loops-web/checkpoints',
    );
    expect(() => parseServeArgs(['--port', '70000'], {})).toThrow(/--port 70000/);
    expect(() => parseServeArgs(['--backend', 'gpu'], {})).toThrow(/--backend gpu must be one of/);
    expect(() => parseServeArgs(['--verbose'], {})).toThrow(/verbose/);
  });
});
