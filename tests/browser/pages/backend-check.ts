// Harness: start the real engine worker, select a backend, run the self-check there and compare
// it with the float64 reference computed here on the page.
import { startWorkerEngine } from '../../../src/client/engine-link';
import type { BackendRequest } from '../../../src/protocol/engine-api';
import { maxRelError, referenceSelfCheck } from '../../reference/self-check';
import { seededArray as seeded } from '../../helpers/seeded';

async function runBackendCheck(backend: BackendRequest) {
  const link = startWorkerEngine();
  try {
    const report = await link.engine.init(backend);
    const [m, k, n] = [16, 24, 8];
    const x = seeded(m * k, 1);
    const w = seeded(k * n, 2);
    const got = await link.engine.selfCheck({ m, k, n, x, w });
    const ref = referenceSelfCheck(m, k, n, x, w);
    return {
      report,
      computedOn: got.backend,
      leakedTensors: got.leakedTensors,
      errors: {
        product: maxRelError(got.product, ref.product),
        value: Math.abs(got.value - ref.value) / Math.abs(ref.value),
        gradX: maxRelError(got.gradX, ref.gradX),
        gradW: maxRelError(got.gradW, ref.gradW),
      },
    };
  } finally {
    link.terminate();
  }
}

async function initError(backend: string) {
  const link = startWorkerEngine();
  try {
    await link.engine.init(backend as BackendRequest);
    return { threw: false };
  } catch (error) {
    const e = error as Error & { error_class?: string };
    return { threw: true, name: e.constructor.name, errorClass: e.error_class, message: e.message };
  } finally {
    link.terminate();
  }
}

Object.assign(window, { runBackendCheck, initError });
document.body.dataset.ready = 'true';
