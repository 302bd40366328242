/**
 * `loops-web/node`: the same API in Node, with the engine in-process (TF.js cpu/wasm backends).
 * Shipped models resolve from the package's own `public/models` folder.
 */
import { inProcessLink, registerPlacement } from './client/service-client';
import { createNodeEngine } from './engine/node-engine';

registerPlacement('in-process', () => {
  const engine = createNodeEngine();
  return inProcessLink(engine);
});

export * from './index';
export { createNodeEngine } from './engine/node-engine';
