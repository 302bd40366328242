/**
 * The lab's service worker (production builds; vite-plugin-pwa's injectManifest puts the precache
 * list in `self.__WB_MANIFEST`). Two jobs:
 *
 * 1. Offline: precaches the app shell, the engine worker with its wasm files, the shipped models
 *    (public/models) and the demo datasets (public/datasets), so a lab loads with no network after
 *    one visit. Model files are also answered for HEAD (the engine asks whether a file exists with
 *    HEAD and probes optional ones such as model.safetensors.index.json), from the caches, and a
 *    shipped-model file the precache lacks is absent (404) offline: the precache lists every file
 *    under public/models.
 * 2. Headers for static hosts that cannot set them: every response it serves carries the
 *    isolation headers and the Content-Security-Policy (workers/security-headers.ts), so from the
 *    second load on the page and its workers are cross-origin isolated (wasm threads) and under
 *    the policy even on a host that sends neither. The first visit, before this worker controls
 *    the page, gets only what the host sends. A host that can set headers should send them itself
 *    (docs/PERFORMANCE.md, "Serving the lab"); this worker then repeats them unchanged.
 *
 * Hub downloads (other origins) are not touched: the engine keeps them in Cache Storage itself.
 */
/// <reference lib="webworker" />
import { clientsClaim } from 'workbox-core';
import {
  addPlugins,
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  precacheAndRoute,
} from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { securityHeaders } from './security-headers';

declare const self: ServiceWorkerGlobalScope & {
  __WB_MANIFEST: (string | { url: string; revision: string | null })[];
};
/** Extra connect-src origins the build was made with (LOOPS_CONNECT_SRC; vite.config.ts). */
declare const __LOOPS_CONNECT_SRC__: string[];

const HEADERS = securityHeaders({ connect: __LOOPS_CONNECT_SRC__ });

/** `response` with the isolation and policy headers set (opaque responses cannot be changed). */
function withHeaders(response: Response): Response {
  if (response.type === 'opaque' || response.type === 'opaqueredirect') return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(HEADERS)) headers.set(name, value);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

/** A model file: a cached copy, else the network, else 404 when offline. */
async function modelFile({ request }: { request: Request }): Promise<Response> {
  const hit = await caches.match(request.url, { ignoreSearch: true });
  if (hit) {
    return withHeaders(
      request.method === 'HEAD' ? new Response(null, { headers: hit.headers }) : hit,
    );
  }
  try {
    return withHeaders(await fetch(request));
  } catch {
    return withHeaders(new Response(null, { status: 404, statusText: 'Not in the offline cache' }));
  }
}

self.skipWaiting();
clientsClaim();
addPlugins([{ handlerWillRespond: async ({ response }) => withHeaders(response) }]);
// Model and dataset files are fetched with their plain URLs; no cache-busting query.
precacheAndRoute(self.__WB_MANIFEST, { ignoreURLParametersMatching: [/.*/] });
cleanupOutdatedCaches();
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html')));
for (const method of ['HEAD', 'GET'] as const) {
  registerRoute(
    ({ url, sameOrigin }) => sameOrigin && url.pathname.includes('/models/'),
    modelFile,
    method,
  );
}
