/**
 * The engine: the object the worker exposes (or the page holds in-process in Node). It owns the
 * backend choice; later it holds runs, samplers and the ordered op queue (shared/DESIGN.md).
 */
import {
  selectBackend,
  type BackendOptions,
  type BackendReport,
  type BackendRequest,
} from '../runtime/backend';
import { runSelfCheck, type SelfCheckInput, type SelfCheckResult } from '../runtime/self-check';
import type { EngineApi } from '../protocol/engine-api';

export class Engine implements EngineApi {
  private report: BackendReport | null = null;

  async init(backend: BackendRequest, options: BackendOptions = {}): Promise<BackendReport> {
    this.report = await selectBackend(backend, options);
    return this.report;
  }

  async backendReport(): Promise<BackendReport | null> {
    return this.report;
  }

  async selfCheck(input: SelfCheckInput): Promise<SelfCheckResult> {
    if (!this.report) throw new Error('engine.init(backend) must be called before selfCheck()');
    return runSelfCheck(input);
  }
}
