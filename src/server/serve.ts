/**
 * `loops-web serve`: the Node engine behind the Tinker REST routes, so the `remote` placement (and
 * Python scripts written for Tinker, SDK ≤ 0.24.1) can train on it over HTTP. It listens on
 * 127.0.0.1 unless told otherwise, and refuses to listen elsewhere without an API key.
 */
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { createNodeEngine } from '../engine/node-engine';
import type { BackendRequest } from '../protocol/engine-api';
import type { CheckpointStore } from '../storage/checkpoint-store';
import { MemoryCheckpointStore } from '../storage/checkpoint-store';
import { FileCheckpointStore } from './file-checkpoint-store';
import { DEFAULT_FUTURE_OPTIONS, type FutureStoreOptions } from './futures';
import { createHttpServer } from './http-server';
import { checkpointRoutes } from './routes-checkpoints';
import { modelRoutes } from './routes-models';
import { samplingRoutes } from './routes-sampling';
import { serviceRoutes } from './routes-service';
import { trainingRoutes } from './routes-training';
import { TinkerService } from './tinker-service';

export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. Default 8000. */
  readonly port: number;
  /** Interface to listen on. Default 127.0.0.1 (this machine only). */
  readonly host: string;
  /** Required as X-API-Key when set; required to listen beyond this machine. */
  readonly apiKey: string | null;
  /** Shipped models folder (default: the package's public/models). */
  readonly modelsDir: string | undefined;
  /** Where checkpoints are kept; null: in memory (lost when the server stops). */
  readonly checkpointDir: string | null;
  readonly backend: BackendRequest;
  readonly hubUrl: string;
  readonly maxBodyBytes: number;
  readonly allowOrigins: readonly string[];
  readonly futures: FutureStoreOptions;
  readonly gapMs: number;
  readonly sessionTimeoutMs: number;
  readonly log: (line: string) => void;
}

export const DEFAULT_SERVE_OPTIONS: ServeOptions = Object.freeze({
  port: 8000,
  host: '127.0.0.1',
  apiKey: null,
  modelsDir: undefined,
  checkpointDir: null,
  backend: 'auto',
  hubUrl: 'https://huggingface.co',
  maxBodyBytes: 64 * 1024 * 1024,
  allowOrigins: [],
  futures: DEFAULT_FUTURE_OPTIONS,
  gapMs: 30_000,
  sessionTimeoutMs: 5 * 60_000,
  log: (line: string) => console.error(line),
});

export interface RunningServer {
  /** `http://host:port`, the base_url to give clients. */
  readonly url: string;
  readonly backend: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startServer(partial: Partial<ServeOptions> = {}): Promise<RunningServer> {
  const options = { ...DEFAULT_SERVE_OPTIONS, ...partial };
  if (!LOOPBACK.has(options.host) && !options.apiKey)
    throw new Error(
      `refusing to listen on ${options.host} without an API key: anyone who can reach it could train on this machine. Give --api-key (or LOOPS_API_KEY), or keep the default host 127.0.0.1.`,
    );
  const store: CheckpointStore = options.checkpointDir
    ? new FileCheckpointStore(options.checkpointDir)
    : new MemoryCheckpointStore();
  const engine = createNodeEngine({ modelsDir: options.modelsDir, store });
  const report = await engine.init(options.backend);
  const service = new TinkerService(engine, {
    hubUrl: options.hubUrl,
    futures: options.futures,
    gapMs: options.gapMs,
    sessionTimeoutMs: options.sessionTimeoutMs,
    version: PACKAGE_VERSION,
  });
  const server = createHttpServer(
    [
      ...serviceRoutes(service),
      ...modelRoutes(service),
      ...trainingRoutes(service),
      ...samplingRoutes(service),
      ...checkpointRoutes(service),
    ],
    options,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = isIP(address.address) === 6 ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    backend: report.backend,
    async close() {
      service.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.shutdown();
    },
  };
}

/** This package's version (package.json), reported in get_server_capabilities. */
export const PACKAGE_VERSION = '0.1.0';
