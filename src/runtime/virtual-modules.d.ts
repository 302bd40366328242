// Modules that Vite plugins of this repo provide (scripts/vite/).

declare module 'virtual:wasm-pthread-worker' {
  /** URL of the wasm backend's same-origin pthread script (scripts/vite/wasm-pthread.ts). */
  const url: string;
  export default url;
}
