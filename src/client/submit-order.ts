/**
 * Keeps one TrainingClient's submissions in call order when an op is submitted in two halves.
 * `forward_backward_custom` sends a forward, runs the user's loss on the page, then sends the
 * backward; any op called meanwhile (the documented `forward_backward_custom(...)` then
 * `optim_step(...)` without an await) must reach the engine after that backward, or it would run
 * on a gradient buffer the custom loss has not filled yet. While such an op is held, later calls
 * are queued here, in order, and sent once every op before them has been sent. With nothing held
 * (the usual case) a call is sent at once, as before.
 */
export class SubmitOrder {
  /** Settles once every op called so far has been sent; null when all have been. Never rejects. */
  private gate: Promise<void> | null = null;

  /** Calls `send` now, or (while an earlier op is held) once every earlier op has been sent. */
  submit<T>(send: () => Promise<T>): Promise<T> {
    const gate = this.gate;
    if (!gate) return send();
    let result: Promise<T> | undefined;
    const sent = gate.then(() => {
      try {
        result = send();
      } catch (error) {
        result = Promise.reject(error);
      }
    });
    this.advance(sent);
    return sent.then(() => result as Promise<T>);
  }

  /** Holds every later call until `released` settles (it must never reject). */
  hold(released: Promise<void>): void {
    const gate = this.gate;
    this.advance(gate ? gate.then(() => released) : released);
  }

  /** Settles once every op called so far has been sent to the engine. */
  whenSent(): Promise<void> {
    return this.gate ?? Promise.resolve();
  }

  private advance(next: Promise<void>): void {
    this.gate = next;
    void next.then(() => {
      if (this.gate === next) this.gate = null;
    });
  }
}
