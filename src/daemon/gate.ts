// Work in flight (HTTP responses, stdio requests, tool calls), counted so shutdown can wait for
// it to finish instead of closing the index under a write. Entering twice for the same piece
// of work (its response and its tool call) is harmless: idle means every count is back to 0.

export class InflightGate {
  #n = 0;
  #waiters = new Set<() => void>();

  get size(): number {
    return this.#n;
  }

  /** Count one piece of work; call the returned function once when it is done. */
  enter(): () => void {
    this.#n++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#n--;
      if (this.#n === 0) for (const w of [...this.#waiters]) w();
    };
  }

  /** Resolves true once nothing is in flight, or false after timeoutMs. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#n === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(onIdle);
        resolve(ok);
      };
      const onIdle = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.#waiters.add(onIdle);
    });
  }
}
