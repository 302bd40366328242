/**
 * The response headers every place that serves the lab sends: cross-origin isolation (so the wasm
 * backend may use SharedArrayBuffer and run its threaded-SIMD binary) and the Content-Security-Policy.
 * One definition, used by the Vite dev server and `vite preview` (vite.config.ts), by the service
 * worker that adds them for static hosts that cannot (workers/service-worker.ts), by the build's
 * `<meta>` policy, and by the tests that check them. Plain data, no DOM and no Node: it runs in all
 * three places.
 *
 * Isolation (https://web.dev/articles/coop-coep): `Cross-Origin-Opener-Policy: same-origin` plus
 * `Cross-Origin-Embedder-Policy: require-corp`. `require-corp` rather than `credentialless`: every
 * cross-origin request the engine makes is a CORS `fetch` (hub files), which both policies let
 * through when the server answers with CORS headers, as the Hugging Face hub and its CDNs do;
 * `credentialless` only differs for no-CORS loads (a cross-origin `<img>` without
 * Cross-Origin-Resource-Policy), which the lab does not make, and Safari does not implement it.
 */

export const COOP = 'same-origin';
export const COEP = 'require-corp';

/**
 * Where the lab fetches Hugging Face repos from: the hub, and the CDN hosts its `resolve/` URLs
 * redirect to (a CSP checks every hop of a redirect against connect-src).
 */
export const HUB_ORIGINS: readonly string[] = [
  'https://huggingface.co',
  'https://*.huggingface.co',
  'https://*.hf.co',
];

export interface PolicyOptions {
  /** Extra connect-src sources (a hub mirror's origin); the hub's are always in. */
  readonly connect?: readonly string[];
  /**
   * The Vite dev server: its reload socket (ws:) and the `<style>` elements it injects for CSS
   * imported from modules need `connect-src ws:` and `style-src 'unsafe-inline'`; production
   * builds ship CSS as files and need neither.
   */
  readonly dev?: boolean;
}

/**
 * The Content-Security-Policy: scripts and workers only from the app's origin, WebAssembly
 * compilation allowed ('wasm-unsafe-eval', not 'unsafe-eval': nothing evaluates strings), network
 * to the app, the hub and the engine's own object URLs (checkpoint files), images from the app and data:/blob: URLs (the loss chart's exports), no
 * plugins, no `<base>` and no form posts elsewhere.
 */
export function contentSecurityPolicy(options: PolicyOptions = {}): string {
  // blob: for the object URLs `get_checkpoint_archive_url` hands out, which pages fetch.
  const connect = ["'self'", 'blob:', ...HUB_ORIGINS, ...(options.connect ?? [])];
  if (options.dev) connect.push('ws:');
  const style = options.dev ? ["'self'", "'unsafe-inline'"] : ["'self'"];
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self'",
    `connect-src ${unique(connect).join(' ')}`,
    "img-src 'self' data: blob:",
    `style-src ${style.join(' ')}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

/** The headers a host should send with every response of the app (documents and workers alike). */
export function securityHeaders(options: PolicyOptions = {}): Record<string, string> {
  return {
    'Cross-Origin-Opener-Policy': COOP,
    'Cross-Origin-Embedder-Policy': COEP,
    'Content-Security-Policy': contentSecurityPolicy(options),
  };
}

/**
 * Extra connect-src origins from a comma- or space-separated list (the `LOOPS_CONNECT_SRC`
 * environment variable of the build and servers: a local hub mirror, the tests' hub fixture).
 */
export function parseSources(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter(Boolean);
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
