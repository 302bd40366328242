/**
 * Offline use: registers the service worker vite-plugin-pwa generates (production builds only),
 * which precaches the app, the wasm binaries, the shipped models and the demo datasets, so a lab
 * with no network loads everything after one visit. Downloaded hub models are kept by the engine
 * in Cache Storage, independently of this.
 */
/// <reference types="vite-plugin-pwa/vanillajs" />
import { registerSW } from 'virtual:pwa-register';
import { showOffline } from './engine-status';

export function initOffline(): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return;
  registerSW({
    immediate: true,
    onOfflineReady: () => showOffline('Ready to work offline'),
    onRegisteredSW: (_url, registration) => {
      if (registration?.active && navigator.serviceWorker.controller)
        showOffline(navigator.onLine ? 'Ready to work offline' : 'Offline: running from the cache');
    },
  });
}
