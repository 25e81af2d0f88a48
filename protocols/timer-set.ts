/**
 * Every timer a driver owns, so `stop()` can clear them all and leave no
 * handles. Callbacks are guarded: an exception inside one is reported through
 * `onError`, never thrown out of the timer (and a returned promise's
 * rejection is caught the same way).
 */

type Callback = () => unknown;

export class TimerSet {
  private readonly timeouts = new Set<NodeJS.Timeout>();
  private readonly intervals = new Set<NodeJS.Timeout>();

  constructor(private readonly onError: (err: unknown) => void) {}

  timeout(ms: number, fn: Callback): NodeJS.Timeout {
    const handle = setTimeout(
      () => {
        this.timeouts.delete(handle);
        this.run(fn);
      },
      Math.max(0, ms),
    );
    this.timeouts.add(handle);
    return handle;
  }

  interval(ms: number, fn: Callback): NodeJS.Timeout {
    const handle = setInterval(() => this.run(fn), Math.max(1, ms));
    this.intervals.add(handle);
    return handle;
  }

  clear(handle: NodeJS.Timeout | undefined | null): void {
    if (!handle) return;
    if (this.timeouts.delete(handle)) clearTimeout(handle);
    if (this.intervals.delete(handle)) clearInterval(handle);
  }

  clearAll(): void {
    for (const h of this.timeouts) clearTimeout(h);
    for (const h of this.intervals) clearInterval(h);
    this.timeouts.clear();
    this.intervals.clear();
  }

  get size(): number {
    return this.timeouts.size + this.intervals.size;
  }

  private run(fn: Callback): void {
    try {
      const result = fn();
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(undefined, (err: unknown) => this.report(err));
      }
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError(err);
    } catch {
      // the error handler itself failed; swallowing is the only safe choice in a timer
    }
  }
}
