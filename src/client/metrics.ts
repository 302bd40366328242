/**
 * Per-step training metrics on the page: listeners get each record as it arrives, and the history
 * can be read back or downloaded as JSONL. `WandbConfig` names the run; nothing leaves the device.
 */
export interface MetricRecord {
  /** Optimiser step the record belongs to (the policy version after it). */
  readonly step: number;
  readonly time: string;
  readonly run_id: string;
  readonly metrics: Readonly<Record<string, number>>;
}

export type MetricListener = (record: MetricRecord) => void;

export class MetricsLog {
  private readonly records: MetricRecord[] = [];
  private readonly listeners = new Set<MetricListener>();
  /** forward_backward metrics since the last optim_step, summed per key. */
  private pending: Record<string, number> = {};

  constructor(
    readonly runId: string,
    readonly project: string | null,
    readonly name: string | null,
  ) {}

  /** Adds forward_backward metrics (summed until the next step). */
  accumulate(metrics: Readonly<Record<string, number>>): void {
    for (const [key, value] of Object.entries(metrics))
      this.pending[key] = (this.pending[key] ?? 0) + value;
  }

  /** Closes a step: one record with the optimiser's metrics and the accumulated ones. */
  step(step: number, optimMetrics: Readonly<Record<string, number>>): MetricRecord {
    const record: MetricRecord = {
      step,
      time: new Date().toISOString(),
      run_id: this.runId,
      metrics: { ...this.pending, ...optimMetrics },
    };
    this.pending = {};
    this.records.push(record);
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (error) {
        console.error('a metrics listener threw', error);
      }
    }
    return record;
  }

  subscribe(listener: MetricListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get history(): readonly MetricRecord[] {
    return this.records;
  }

  toJSONL(): string {
    return (
      this.records.map((r) => JSON.stringify(r)).join('\n') + (this.records.length ? '\n' : '')
    );
  }
}
