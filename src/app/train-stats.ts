/**
 * Speed figures of a training session: step time, tokens per second and the time left. Step times
 * are smoothed with an exponential moving average (weight `alpha` on the newest step) so the ETA
 * does not jump with every step; the first step seeds the average (it includes warm-up, so the
 * estimate starts high and settles).
 */
export interface SpeedReport {
  /** Milliseconds of the newest step. */
  readonly stepMs: number;
  /** Input tokens per second, over the smoothed step time. */
  readonly tokensPerSecond: number;
  /** Seconds left for the remaining steps at the smoothed step time. */
  readonly etaSeconds: number;
}

export class SpeedMeter {
  private avgMs: number | null = null;
  private avgTokens: number | null = null;

  constructor(private readonly alpha = 0.3) {}

  /** Records a step of `ms` milliseconds over `tokens` input tokens, `remaining` steps to go. */
  record(ms: number, tokens: number, remaining: number): SpeedReport {
    this.avgMs = this.avgMs === null ? ms : this.alpha * ms + (1 - this.alpha) * this.avgMs;
    this.avgTokens =
      this.avgTokens === null ? tokens : this.alpha * tokens + (1 - this.alpha) * this.avgTokens;
    return {
      stepMs: ms,
      tokensPerSecond: this.avgMs > 0 ? (this.avgTokens * 1000) / this.avgMs : 0,
      etaSeconds: (Math.max(0, remaining) * this.avgMs) / 1000,
    };
  }
}

/** "1 h 02 min", "3 min 05 s", "42 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Bytes in binary units with three significant figures: "512 B", "1.50 KiB", "270 MiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value.toPrecision(3)} ${units[unit]}`;
}
