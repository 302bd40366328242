// The Node engine in a worker thread, exposed through comlink on a port the test sends: a real
// thread that can really die. Fault hooks: crash (an uncaught error ends the thread) and exit.
import 'fake-indexeddb/auto';
import { parentPort, workerData } from 'node:worker_threads';
import { expose } from 'comlink';
import { createNodeEngine } from '../../../src/engine/node-engine';
import { installErrorTransfer } from '../../../src/errors/comlink-errors';

installErrorTransfer();
const engine = createNodeEngine({ modelsDir: (workerData as { modelsDir: string }).modelsDir });
const hooks = {
  crash(): void {
    setTimeout(() => {
      throw new Error('simulated engine crash');
    }, 0);
  },
  exit(): void {
    setTimeout(() => process.exit(3), 0);
  },
};
parentPort!.once('message', ({ port }: { port: MessagePort }) =>
  expose(Object.assign(engine, hooks), port as unknown as Parameters<typeof expose>[1]),
);
