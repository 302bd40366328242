/**
 * The engine's remote interface: what the page may call on the engine worker (or in-process).
 * Types only; everything that crosses is plain, structured-cloneable data.
 */
import type { BackendReport, BackendRequest, BackendOptions } from '../runtime/backend';
import type { SelfCheckInput, SelfCheckResult } from '../runtime/self-check';

export type { BackendReport, BackendRequest, BackendOptions, SelfCheckInput, SelfCheckResult };

export interface EngineApi {
  /** Chooses the backend; resolves with what is in use and why. */
  init(backend: BackendRequest, options?: BackendOptions): Promise<BackendReport>;
  /** The current backend report (null before `init`). */
  backendReport(): Promise<BackendReport | null>;
  /** Matmul + gradient on the current backend, for end-to-end checks. */
  selfCheck(input: SelfCheckInput): Promise<SelfCheckResult>;
}
