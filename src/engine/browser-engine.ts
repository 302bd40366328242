/**
 * Browser (worker) side: an engine whose shipped models are fetched from the app's own origin,
 * `<baseUrl>/models/<name>/…`, with the manifest at `<baseUrl>/models/models.json`.
 */
import { Engine } from './engine';
import { parseManifest } from './model-registry';

export function createBrowserEngine(baseUrl: string): Engine {
  const root = baseUrl.replace(/\/+$/, '');
  return new Engine({
    shipped: { baseUrl: root },
    readManifest: async () => {
      const response = await fetch(`${root}/models/models.json`);
      return response.ok ? parseManifest(await response.json()) : [];
    },
  });
}
