/**
 * Browser (worker) side: an engine whose shipped models are fetched from the app's own origin,
 * `<baseUrl>/models/<name>/…`, with the manifest at `<baseUrl>/models/models.json`.
 */
import type { EngineExitNotice } from '../protocol/engine-api';
import { Engine } from './engine';
import { parseManifest } from './model-registry';

export function createBrowserEngine(baseUrl: string): Engine {
  announceExit();
  const root = baseUrl.replace(/\/+$/, '');
  return new Engine({
    shipped: { baseUrl: root },
    readManifest: async () => {
      const response = await fetch(`${root}/models/models.json`);
      return response.ok ? parseManifest(await response.json()) : [];
    },
  });
}

/**
 * In a worker, `self.close()` first tells the page (an `EngineExitNotice`), so pending calls fail
 * at once instead of hanging: browsers fire no event when a worker ends itself.
 */
function announceExit(): void {
  const scope = globalThis as unknown as {
    close?: () => void;
    postMessage?: (message: EngineExitNotice) => void;
    WorkerGlobalScope?: unknown;
  };
  if (!scope.WorkerGlobalScope || !scope.close || !scope.postMessage) return;
  const close = scope.close.bind(scope);
  const post = scope.postMessage.bind(scope);
  scope.close = () => {
    post({ loopsEngineExit: 'the engine worker closed itself' });
    close();
  };
}
