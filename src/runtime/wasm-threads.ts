/**
 * Threads for the wasm backend: how many XNNPACK runs on, which of the package's three binaries
 * (threaded-SIMD, SIMD, plain) it loads, and why it runs fewer threads than the machine has cores.
 *
 * The threaded binary needs SharedArrayBuffer, which browsers give only to cross-origin isolated
 * contexts (COOP same-origin + COEP require-corp, workers/security-headers.ts). TF.js then starts a
 * pool of Emscripten pthread workers; 4.22 makes them from `blob:` URLs, which a
 * Content-Security-Policy with `worker-src 'self'` refuses, and a refused pthread leaves XNNPACK
 * waiting forever. So the engine hands TF.js a same-origin pthread script instead
 * (`redirectPthreadWorkers`, the script built by scripts/vite/wasm-pthread.ts), and the policy
 * needs no `blob:`.
 *
 * The thread count (XNNPACK counts the calling thread, the engine worker, as one of them): what the
 * caller asked for, else every core up to 4 and one fewer above that, leaving a core for the page
 * and the browser (docs/PERFORMANCE.md says what was and was not measured). Leaves starting the
 * backend to runtime/backend.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

export type WasmBinary = 'threaded-simd' | 'simd' | 'plain';

/** What the wasm backend runs on, in plain data (it crosses the worker boundary). */
export interface WasmThreadsReport {
  /** Threads XNNPACK computes on, the engine's own included (1: single-threaded). */
  readonly threads: number;
  readonly binary: WasmBinary;
  /** `crossOriginIsolated` where the engine runs: the precondition for more than one thread. */
  readonly crossOriginIsolated: boolean;
  /** Logical cores the browser reports (`navigator.hardwareConcurrency`); null in Node. */
  readonly cores: number | null;
  /** Why it runs one thread, or fewer than asked; null when it runs as planned. */
  readonly reason: string | null;
}

/** Thread count for `cores` logical cores when the caller did not choose one. */
export function defaultThreads(cores: number): number {
  const n = Math.max(1, Math.floor(cores));
  return n <= 4 ? n : n - 1;
}

/** Where the backend starts: `globalThis` plus whether TF.js runs under Node. */
export interface ThreadsScope {
  readonly isNode: boolean;
  readonly crossOriginIsolated?: boolean;
  readonly navigator?: { readonly hardwareConcurrency?: number };
}

/** This context, as planThreads reads it. */
export function currentScope(): ThreadsScope {
  const scope = globalThis as { crossOriginIsolated?: boolean; navigator?: Navigator };
  return {
    isNode: tf.env().getBool('IS_NODE'),
    crossOriginIsolated: scope.crossOriginIsolated,
    navigator: scope.navigator,
  };
}

interface ThreadsPlan {
  readonly threads: number;
  /** Set when threads cannot be used here; the binary is then SIMD or plain. */
  readonly blocked: string | null;
}

/** What to ask TF.js for, before the backend starts. `requested`: undefined = default. */
export function planThreads(requested: number | undefined, scope: ThreadsScope): ThreadsPlan {
  const cores = scope.navigator?.hardwareConcurrency ?? 1;
  const threads = requested ?? defaultThreads(cores);
  if (scope.isNode) {
    return { threads: 1, blocked: "TF.js's wasm backend runs one thread in Node" };
  }
  if (scope.crossOriginIsolated !== true) {
    return {
      threads: 1,
      blocked:
        'the page is not cross-origin isolated, so SharedArrayBuffer and the threaded wasm binary ' +
        'are unavailable; serve it with Cross-Origin-Opener-Policy: same-origin and ' +
        'Cross-Origin-Embedder-Policy: require-corp',
    };
  }
  return { threads, blocked: null };
}

/**
 * Tells TF.js the thread count; call before `tf.setBackend('wasm')` starts it and call the returned
 * function once it has started.
 *
 * TF.js 4.22's C++ caps the count at `navigator.hardwareConcurrency / 2` (it assumes two logical
 * cores per physical one; tfjs-backend-wasm/src/cc/backend.cc, `init_with_threads_count`) and at 8
 * (its pthread pool). On a 2-core machine that is one thread whatever is asked. So while the
 * module starts, this context reports twice the wanted count as its cores (the cap is read from
 * `navigator` then, once); the returned function puts the real value back.
 */
export function requestThreads(plan: ThreadsPlan): () => void {
  // With threads blocked, also keep TF.js off the threaded binary (its own probe may still pass
  // in a context that has SharedArrayBuffer for other reasons).
  if (plan.blocked) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setThreadsCount(plan.threads);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (plan.blocked || !nav) return () => undefined;
  const cores = 2 * Math.min(plan.threads, MAX_THREADS);
  Object.defineProperty(nav, 'hardwareConcurrency', { value: cores, configurable: true });
  return () => {
    delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}

/** TF.js 4.22's pthread pool, the most threads its XNNPACK will run. */
export const MAX_THREADS = 8;

/** What the started backend runs on. */
export async function threadsReport(
  plan: ThreadsPlan,
  requested: number | undefined,
  scope: ThreadsScope,
): Promise<WasmThreadsReport> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const shared = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
  const binary: WasmBinary = simd && shared ? 'threaded-simd' : simd ? 'simd' : 'plain';
  const threads = getThreadsCount();
  let reason = plan.blocked;
  if (!reason && binary !== 'threaded-simd') {
    reason = simd
      ? 'this browser cannot share wasm memory between workers'
      : 'this browser has no wasm SIMD';
  }
  if (!reason && threads < plan.threads) {
    reason =
      plan.threads > MAX_THREADS
        ? `${plan.threads} threads were planned; TF.js's wasm backend runs at most ${MAX_THREADS}`
        : `${plan.threads} threads were planned; XNNPACK started ${threads}`;
  }
  if (!reason && requested === 1) reason = 'one thread was asked for';
  return {
    threads,
    binary,
    crossOriginIsolated: scope.crossOriginIsolated === true,
    cores: scope.isNode ? null : (scope.navigator?.hardwareConcurrency ?? null),
    reason,
  };
}

let redirectedTo: string | null = null;

/**
 * From now on, a `blob:` Worker made in this context (TF.js's pthread workers: the engine makes no
 * others) starts from `url`, a same-origin classic script with the same code. Idempotent; the
 * last URL wins.
 */
export function redirectPthreadWorkers(url: string): void {
  const scope = globalThis as { Worker?: typeof Worker };
  if (!scope.Worker) return;
  if (redirectedTo === null) {
    const Original = scope.Worker;
    scope.Worker = class extends Original {
      constructor(script: string | URL, options?: WorkerOptions) {
        const isBlob = String(script).startsWith('blob:');
        super(isBlob && redirectedTo ? redirectedTo : script, options);
      }
    };
  }
  redirectedTo = url;
}
