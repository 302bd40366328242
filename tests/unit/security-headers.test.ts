// The headers every server of the lab sends (workers/security-headers.ts): isolation that lets the
// wasm backend share memory between threads, and the Content-Security-Policy issue 16 specifies:
// default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self';
// connect-src 'self' <hub>; img-src 'self' data: blob:; object-src 'none'; plus connect-src
// blob: for the object URLs of checkpoint files the engine hands the page.
import { describe, expect, it } from 'vitest';
import {
  contentSecurityPolicy,
  HUB_ORIGINS,
  parseSources,
  securityHeaders,
} from '../../workers/security-headers';

/** directive name → its sources, from a policy string. */
function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(';').map((part) => {
      const [name = '', ...sources] = part.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

describe('securityHeaders', () => {
  it('isolates: COOP same-origin, COEP require-corp', () => {
    const headers = securityHeaders();
    expect(headers['Cross-Origin-Opener-Policy']).toBe('same-origin');
    expect(headers['Cross-Origin-Embedder-Policy']).toBe('require-corp');
    expect(headers['Content-Security-Policy']).toBe(contentSecurityPolicy());
  });
});

describe('contentSecurityPolicy', () => {
  it('has the directives the issue lists, and no eval, inline script or blob: worker', () => {
    const d = directives(contentSecurityPolicy());
    expect(d.get('default-src')).toEqual(["'self'"]);
    expect(d.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(d.get('worker-src')).toEqual(["'self'"]);
    // blob: too: get_checkpoint_archive_url returns object URLs (LOOPS_API.md) that pages fetch.
    expect(d.get('connect-src')).toEqual(["'self'", 'blob:', ...HUB_ORIGINS]);
    expect(d.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
    expect(d.get('object-src')).toEqual(["'none'"]);
    expect(d.get('style-src')).toEqual(["'self'"]);
  });

  it("lets the hub's resolve/ redirects through: huggingface.co and its CDN hosts", () => {
    const connect = directives(contentSecurityPolicy()).get('connect-src');
    expect(connect).toContain('https://huggingface.co');
    // resolve/main/<file> redirects to cdn-lfs*.huggingface.co or *.hf.co (Xet bridge), and a
    // policy checks every hop.
    expect(connect).toContain('https://*.huggingface.co');
    expect(connect).toContain('https://*.hf.co');
  });

  it('adds extra connect sources (a hub mirror) once each', () => {
    const extra = ['http://127.0.0.1:5174', 'http://127.0.0.1:5174'];
    const connect = directives(contentSecurityPolicy({ connect: extra })).get('connect-src');
    expect(connect?.filter((s) => s === 'http://127.0.0.1:5174')).toHaveLength(1);
  });

  it('dev server: its reload socket and injected <style> elements, nothing else', () => {
    const prod = directives(contentSecurityPolicy());
    const dev = directives(contentSecurityPolicy({ dev: true }));
    expect(dev.get('connect-src')).toEqual([...(prod.get('connect-src') ?? []), 'ws:']);
    expect(dev.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(dev.get('script-src')).toEqual(prod.get('script-src'));
  });
});

describe('parseSources', () => {
  it('splits on commas and spaces, drops empties', () => {
    expect(parseSources(' http://a:1, http://b:2  http://c ')).toEqual([
      'http://a:1',
      'http://b:2',
      'http://c',
    ]);
    expect(parseSources(undefined)).toEqual([]);
  });
});
