/**
 * Rewards written as code, on the page's side: starts the reward worker (reward.worker.ts) with the
 * student's source and turns it into a `GroupReward` for the RL step. Each request has a watchdog:
 * if the worker has not answered within the per-call limit times the calls plus a grace second,
 * the worker is ended (nothing the code does can outlive that) and the step fails with a message.
 * The worker is a same-origin module file, as the CSP's `worker-src 'self'` requires.
 */
import type { GroupReward } from '../recipes/rl-step';
import { CodeRewardError, DEFAULT_LIMITS, type SandboxLimits } from './reward-sandbox';

export type RewardRequest =
  | {
      readonly id: number;
      readonly type: 'init';
      readonly source: string;
      readonly limits: SandboxLimits;
    }
  | {
      readonly id: number;
      readonly type: 'score';
      readonly prompt: string;
      readonly completions: readonly string[];
    };

export type RewardResponse =
  | { readonly id: number; readonly rewards: number[] }
  | {
      readonly id: number;
      readonly error: { readonly message: string; readonly line: number | null };
    };

/** Grace on top of the per-call limits before the page ends the worker. */
const GRACE_MS = 1500;

export class CodeReward {
  private worker: Worker | null;
  private next = 1;

  private constructor(private readonly limits: SandboxLimits) {
    this.worker = new Worker(new URL('./reward.worker.ts', import.meta.url), {
      type: 'module',
      name: 'reward-sandbox',
    });
  }

  /** Loads `source` in a fresh worker; rejects with `CodeRewardError` when it is not a function. */
  static async start(source: string, limits: SandboxLimits = DEFAULT_LIMITS): Promise<CodeReward> {
    const reward = new CodeReward(limits);
    try {
      // The first request also compiles QuickJS (a few hundred ms): a generous deadline.
      await reward.request({ type: 'init', source, limits }, 10_000);
    } catch (error) {
      reward.close();
      throw error;
    }
    return reward;
  }

  /** The RL step's reward: the group's completions scored in the worker. */
  readonly score: GroupReward = (prompt, completions) =>
    this.request(
      { type: 'score', prompt, completions },
      this.limits.perCallMs * (completions.length + 1) + GRACE_MS,
    );

  /** False once the worker was ended (closed, or stopped by the watchdog). */
  get alive(): boolean {
    return this.worker !== null;
  }

  close(): void {
    this.worker?.terminate();
    this.worker = null;
  }

  private request(
    body:
      | Omit<Extract<RewardRequest, { type: 'init' }>, 'id'>
      | Omit<Extract<RewardRequest, { type: 'score' }>, 'id'>,
    deadlineMs: number,
  ): Promise<number[]> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new CodeRewardError('The reward worker was stopped.', null));
    const id = this.next++;
    return new Promise<number[]>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.removeEventListener('message', onMessage);
        worker.removeEventListener('error', onError);
      };
      const onMessage = (event: MessageEvent<RewardResponse>) => {
        if (event.data.id !== id) return;
        done();
        if ('error' in event.data)
          reject(new CodeRewardError(event.data.error.message, event.data.error.line));
        else resolve(event.data.rewards);
      };
      const onError = (event: ErrorEvent) => {
        done();
        this.close();
        reject(
          new CodeRewardError(
            `The reward worker failed: ${event.message || 'it could not start'}.`,
            null,
          ),
        );
      };
      const timer = setTimeout(() => {
        done();
        this.close();
        reject(
          new CodeRewardError(
            `Your reward code did not answer within ${(deadlineMs / 1000).toFixed(1)} s; its worker was stopped.`,
            null,
          ),
        );
      }, deadlineMs);
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', onError);
      worker.postMessage({ ...body, id });
    });
  }
}
