/**
 * Pause, resume and stop for a loop that checks between its steps (train-loop.ts for SFT,
 * rl-session.ts for RL): a pause or stop asked for during a step takes effect when the step ends;
 * a paused loop waits without polling until Resume or Stop.
 */
export type GateState = 'running' | 'paused';

export class PauseGate {
  private pauseRequested = false;
  private stopRequested = false;
  private wake: (() => void) | null = null;

  /** `onState` hears 'paused' when the loop starts waiting and 'running' when it goes on. */
  constructor(private readonly onState: (state: GateState) => void) {}

  /** Asks the loop to wait after the step in flight. */
  pause(): void {
    this.pauseRequested = true;
  }

  resume(): void {
    this.pauseRequested = false;
    this.wake?.();
  }

  /** Asks the loop to end after the step in flight (or at once when paused). */
  stop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  /** Between steps: waits while paused; true when the loop must stop. */
  async shouldStop(): Promise<boolean> {
    if (this.pauseRequested && !this.stopRequested) {
      this.onState('paused');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
      if (!this.stopRequested) this.onState('running');
    }
    return this.stopRequested;
  }
}
