// Harness for tests/browser/reward-sandbox.spec.ts: the lab's code-reward client (a worker running
// QuickJS) driven from a page whose CSP forbids eval; reports rewards or the error message.
import { CodeReward } from '../../../src/app/code-reward';

interface Scored {
  rewards: number[] | null;
  error: string | null;
  ms: number;
}

async function score(source: string, prompt: string, completions: string[]): Promise<Scored> {
  const started = performance.now();
  let reward: CodeReward | null = null;
  try {
    reward = await CodeReward.start(source, { perCallMs: 150, memoryBytes: 16 * 2 ** 20 });
    const rewards = [...(await reward.score(prompt, completions))];
    return { rewards, error: null, ms: performance.now() - started };
  } catch (error) {
    return { rewards: null, error: (error as Error).message, ms: performance.now() - started };
  } finally {
    reward?.close();
  }
}

function pageMayEval(): boolean {
  try {
    return (0, eval)('1 + 1') === 2;
  } catch {
    return false;
  }
}

// Asked at load: code Playwright evaluates runs with the CSP's eval checks lifted (DevTools).
const evalAllowedAtLoad = pageMayEval();
Object.assign(window, { score, evalAllowedAtLoad });
document.body.dataset['ready'] = 'true';
