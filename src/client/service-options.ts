/**
 * What `new ServiceClient(options)` accepts: the options (Loops names), their checks, and the
 * placements an engine can be started in ('worker', 'remote'; the Node entry registers
 * 'in-process'). The client itself is service-client.ts.
 */
import { ValidationError } from '../errors/loops-errors';
import type { BackendRequest } from '../protocol/engine-api';
import { parseArgs } from './args';
import { workerLink, type EngineLink } from './engine-link';
import { remoteLink, type RemoteOptions } from './remote/remote-link';

export type Placement = 'worker' | 'in-process' | 'remote' | (string & {});

export interface ServiceClientOptions {
  /** Where the engine runs; default 'worker' where Worker exists, else 'in-process'. */
  engine?: Placement;
  /** With engine 'remote': the Tinker-compatible service's URL, e.g. 'http://127.0.0.1:8000'. */
  base_url?: string;
  /** With engine 'remote': the service's key, sent as X-API-Key; never logged or stored. */
  api_key?: string;
  /** 'auto': a hardware WebGPU adapter, else wasm, else cpu. */
  backend?: BackendRequest;
  /** Where Hugging Face repo ids are fetched from. */
  hub_url?: string;
  /** IndexedDB database name for checkpoints. */
  storage_namespace?: string;
  /**
   * Threads for the wasm backend (it needs a cross-origin isolated page for more than one);
   * default: every core up to 4, one fewer above. `backend()` reports what it got.
   */
  wasm_threads?: number;
  /**
   * On webgpu: run the model on our own WebGPU kernels (default true) or on TF.js's stock ops
   * (false), e.g. to work around a kernel bug or to compare the two. Other backends ignore it.
   */
  gpu_kernels?: boolean;
  /**
   * On webgpu: plan as if the adapter offered at most these buffer limits (bytes), e.g.
   * `{ maxStorageBufferBindingSize: 128 * 2 ** 20 }` to emulate a 128 MiB-binding adapter:
   * vocab tables are split and models refused against them. `backend()` reports them.
   */
  gpu_limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number };
  /** Accepted and ignored for Loops compatibility. */
  training_project_id?: unknown;
  reuse_from_session_id?: unknown;
  availability_model?: unknown;
}

const OPTION_NAMES = [
  'engine',
  'backend',
  'hub_url',
  'storage_namespace',
  'base_url',
  'api_key',
  'wasm_threads',
  'gpu_kernels',
  'gpu_limits',
];
const IGNORED_OPTIONS = ['training_project_id', 'reuse_from_session_id', 'availability_model'];

/** How a placement starts its engine; `options` carries base_url, api_key and hub_url. */
export type PlacementStart = (options: RemoteOptions) => EngineLink;

const placements = new Map<string, PlacementStart>([
  ['worker', () => workerLink()],
  ['remote', (options) => remoteLink(options)],
]);

/** Registers how to start an engine for a placement name (the Node entry registers 'in-process'). */
export function registerPlacement(name: string, start: PlacementStart): void {
  placements.set(name, start);
}

/** The options, checked: unknown names and out-of-range values throw, with the fix. */
export function checkServiceOptions(options: ServiceClientOptions): ServiceClientOptions {
  const opts = parseArgs(
    'ServiceClient',
    OPTION_NAMES,
    [options],
    IGNORED_OPTIONS,
  ) as ServiceClientOptions;
  const threads = opts.wasm_threads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 256)) {
    throw new ValidationError(
      `wasm_threads is ${String(threads)}; it must be an integer from 1 to 256, or left out for the default.`,
    );
  }
  if (opts.gpu_kernels !== undefined && typeof opts.gpu_kernels !== 'boolean') {
    throw new ValidationError(
      `gpu_kernels is ${String(opts.gpu_kernels)}; it must be true or false, or left out (true).`,
    );
  }
  return opts;
}

/** How to start the engine for `engine` (default 'worker' where Worker exists, else 'in-process'). */
export function placementStart(engine: Placement | undefined): PlacementStart {
  const placement = engine ?? (typeof Worker !== 'undefined' ? 'worker' : 'in-process');
  const start = placements.get(placement);
  if (!start) {
    throw new ValidationError(
      `engine '${placement}' is not available here; use ${[...placements.keys()].join(' or ')} (in Node, import from 'loops-web/node' for 'in-process').`,
    );
  }
  return start;
}
