// Worker-thread entry for the Node fault tests: the thread has no vitest transform, so register
// tsx first, then start the engine (engine-thread.ts).
import { register } from 'tsx/esm/api';

register();
await import('./engine-thread.ts');
