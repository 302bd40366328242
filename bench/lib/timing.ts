/**
 * Wall-clock timing for benchmarks: one timed call, and the median of repeated calls after
 * warm-ups (the first call of a TF.js graph pays for kernel setup and first allocations, so it is
 * never a sample). The median, not the mean, because this machine is shared and one slow outlier
 * should not move the figure. Callers make their work synchronous or await its data themselves.
 */

/** Milliseconds `fn` took, with its result. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** The median of `samples` (mean of the middle two for an even count); NaN when empty. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface RepeatOptions {
  /** Untimed calls first. */
  readonly warmup: number;
  /** Timed calls. */
  readonly reps: number;
}

/** Runs `fn` `warmup` times untimed, then `reps` times timed; returns every timed sample (ms). */
export async function repeat(
  fn: (rep: number) => Promise<unknown> | unknown,
  { warmup, reps }: RepeatOptions,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) samples.push((await timed(() => fn(i))).ms);
  return samples;
}
