/**
 * Every timer a driver owns, so `stop()` can clear them all and leave no
 * handles. Callbacks are guarded: an exception inside one is reported through
 * `onError`, never thrown out of the timer (and a returned promise's
 * rejection is caught the same way).
 */

type Callback = () => unknown;

/** A repeating timer of a TimerSet; pass it to `clear`. */
export interface PeriodicTimer {
  readonly periodMs: number;
}

interface Periodic extends PeriodicTimer {
  timeout: NodeJS.Timeout | undefined;
}

export class TimerSet {
  private readonly timeouts = new Set<NodeJS.Timeout>();
  private readonly intervals = new Set<Periodic>();

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

  /**
   * Runs `fn` every `ms` on a fixed grid: a run that fires late shortens the
   * wait for the next one, so the rate holds under load (setInterval counts
   * each period from when the callback ran, and a busy event loop makes it
   * poll a little less often every period). A slot missed entirely (the loop
   * stalled for longer than a period) is skipped, not made up in a burst.
   */
  interval(ms: number, fn: Callback): PeriodicTimer {
    const periodMs = Math.max(1, ms);
    const p: Periodic = { periodMs, timeout: undefined };
    let due = performance.now() + periodMs;
    const fire = (): void => {
      this.run(fn);
      if (!this.intervals.has(p)) return;
      const now = performance.now();
      due += periodMs;
      if (due <= now) due += (Math.floor((now - due) / periodMs) + 1) * periodMs;
      // never longer than a period, whatever the clock did
      p.timeout = setTimeout(fire, Math.min(periodMs, due - now));
    };
    p.timeout = setTimeout(fire, periodMs);
    this.intervals.add(p);
    return p;
  }

  clear(handle: NodeJS.Timeout | PeriodicTimer | undefined | null): void {
    if (!handle) return;
    if (this.intervals.delete(handle as Periodic)) clearTimeout((handle as Periodic).timeout);
    else if (this.timeouts.delete(handle as NodeJS.Timeout)) clearTimeout(handle as NodeJS.Timeout);
  }

  clearAll(): void {
    for (const h of this.timeouts) clearTimeout(h);
    for (const p of this.intervals) clearTimeout(p.timeout);
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
