/**
 * A student's reward function, `(prompt, completion) => number`, run inside QuickJS compiled to
 * WebAssembly (quickjs-emscripten). The code sees ECMAScript and nothing else: no `fetch`, no
 * `XMLHttpRequest`, no `importScripts`, no DOM, no engine, not even the host worker's globals. Each
 * call has a deadline (QuickJS's interrupt handler stops a loop that runs past it), the runtime a
 * memory and a stack limit. Why an interpreter and not `eval` in a worker: the app's
 * Content-Security-Policy is `script-src 'self' 'wasm-unsafe-eval'`, which forbids `eval` and
 * `new Function` everywhere, and an allow-list (an empty global scope) is safer than deleting
 * globals from a worker. WebAssembly is what that policy allows.
 *
 * This module runs wherever it is given the QuickJS module: in the reward worker
 * (reward.worker.ts) in the lab, in Node in the unit tests. Errors name the line of the student's
 * code and what to fix.
 */
import { shouldInterruptAfterDeadline } from 'quickjs-emscripten-core';
import type { QuickJSContext, QuickJSHandle, QuickJSWASMModule } from 'quickjs-emscripten-core';

export interface SandboxLimits {
  /** Most milliseconds one call may run. */
  readonly perCallMs: number;
  /** Most bytes the code may allocate. */
  readonly memoryBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = Object.freeze({
  perCallMs: 200,
  memoryBytes: 32 * 2 ** 20,
});

/** File name the student's code is evaluated under (it appears in stack traces). */
const FILE = 'reward.js';

/** The student's code failed: `line` is the line of their code, when QuickJS says. */
export class CodeRewardError extends Error {
  override readonly name = 'CodeRewardError';
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
  }
}

interface Dumped {
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
  readonly lineNumber?: number;
}

export class RewardSandbox {
  private constructor(
    private readonly context: QuickJSContext,
    private readonly fn: QuickJSHandle,
    private readonly limits: SandboxLimits,
  ) {}

  /** Evaluates `source` (a function expression); throws `CodeRewardError` when it is not one. */
  static create(
    quickjs: QuickJSWASMModule,
    source: string,
    limits: SandboxLimits = DEFAULT_LIMITS,
  ): RewardSandbox {
    const runtime = quickjs.newRuntime();
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(512 * 1024);
    const context = runtime.newContext();
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.perCallMs * 5));
    // The parentheses make `function f(…) {…}` an expression; the line numbers stay the student's.
    const result = context.evalCode(`(${source}\n)`, FILE);
    if (result.error) {
      const error = failure(context, result.error, 'Your reward code does not run');
      context.dispose();
      runtime.dispose();
      throw error;
    }
    if (context.typeof(result.value) !== 'function') {
      const kind = context.typeof(result.value);
      result.value.dispose();
      context.dispose();
      runtime.dispose();
      throw new CodeRewardError(
        `Your reward code is a ${kind}, not a function; write (prompt, completion) => number.`,
        null,
      );
    }
    return new RewardSandbox(context, result.value, limits);
  }

  /** The reward of each completion of `prompt`; throws `CodeRewardError` naming the completion. */
  score(prompt: string, completions: readonly string[]): number[] {
    return completions.map((completion, i) => this.call(prompt, completion, i + 1));
  }

  dispose(): void {
    const runtime = this.context.runtime;
    this.fn.dispose();
    this.context.dispose();
    runtime.dispose();
  }

  private call(prompt: string, completion: string, which: number): number {
    const ctx = this.context;
    const args = [ctx.newString(prompt), ctx.newString(completion)];
    const started = Date.now();
    ctx.runtime.setInterruptHandler(shouldInterruptAfterDeadline(started + this.limits.perCallMs));
    const result = ctx.callFunction(this.fn, ctx.undefined, ...args);
    for (const a of args) a.dispose();
    if (result.error) {
      const dumped = ctx.dump(result.error) as Dumped;
      const line = lineOf(dumped);
      result.error.dispose();
      if (dumped.name === 'InternalError' && dumped.message === 'interrupted') {
        throw new CodeRewardError(
          `Your reward code ran past its ${this.limits.perCallMs} ms limit on completion ${which}` +
            `${line ? ` (it was at line ${line})` : ''}; a loop that never ends? It was stopped.`,
          line,
        );
      }
      throw new CodeRewardError(
        `Your reward code threw on completion ${which}${line ? `, line ${line}` : ''}: ` +
          `${dumped.name ?? 'Error'}: ${dumped.message ?? String(dumped)}`,
        line,
      );
    }
    const value: unknown = ctx.dump(result.value);
    result.value.dispose();
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new CodeRewardError(
        `Your reward code returned ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))} for completion ` +
          `${which}; it must return a finite number.`,
        null,
      );
    }
    return value;
  }
}

function failure(ctx: QuickJSContext, handle: QuickJSHandle, what: string): CodeRewardError {
  const dumped = ctx.dump(handle) as Dumped;
  handle.dispose();
  const line = lineOf(dumped);
  return new CodeRewardError(
    `${what}${line ? ` (line ${line})` : ''}: ${dumped.name ?? 'Error'}: ${dumped.message ?? String(dumped)}`,
    line,
  );
}

/** The line in the student's code: QuickJS's `lineNumber`, or the first `reward.js:<line>`. */
function lineOf(dumped: Dumped): number | null {
  if (typeof dumped.lineNumber === 'number') return dumped.lineNumber;
  const match = /reward\.js:(\d+)/.exec(dumped.stack ?? '');
  return match ? Number(match[1]) : null;
}
