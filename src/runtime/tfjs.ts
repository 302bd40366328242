/**
 * TF.js as the browser builds bundle it: what `@tensorflow/tfjs` registers and exports, less the
 * parts this engine never uses (layers, converter, data and the webgl backend: about half the
 * engine worker's bytes). vite.config.ts and vite.lib.config.ts alias `@tensorflow/tfjs` to this
 * module; Node (tests, benchmarks, `loops-web/node`) keeps the package itself.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
