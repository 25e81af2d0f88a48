/**
 * Exponential reconnect delays with jitter, capped. Pure: the random source
 * is injected, so tests can pin it.
 *
 * Delay for attempt n (0-based): d = min(maxMs, initialMs × factor^n), then
 * drawn uniformly from [d × (1 − jitter), d]. Jitter only ever shortens a
 * delay, so the cap holds, and devices that failed together (a switch reboot)
 * spread out instead of reconnecting in lockstep.
 */

export interface BackoffOptions {
  /** first delay, ms (default 500) */
  initialMs?: number;
  /** longest delay, ms (default 30 000) */
  maxMs?: number;
  /** growth per attempt (default 2) */
  factor?: number;
  /** fraction of the delay that is randomised, 0 … 1 (default 0.5) */
  jitter?: number;
  /** uniform random number in [0, 1) (default Math.random) */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 } as const;

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private n = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(0, options.initialMs ?? DEFAULT_BACKOFF.initialMs);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? DEFAULT_BACKOFF.maxMs);
    this.factor = Math.max(1, options.factor ?? DEFAULT_BACKOFF.factor);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULT_BACKOFF.jitter));
    this.random = options.random ?? Math.random;
  }

  /** attempts taken since the last reset */
  get attempt(): number {
    return this.n;
  }

  /** the delay before the next attempt, ms; advances the attempt count */
  next(): number {
    // Math.pow overflows to Infinity for large n; min() brings it back to the cap.
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.n);
    this.n++;
    const r = Math.min(Math.max(this.random(), 0), 1);
    return Math.round(base * (1 - this.jitter * r));
  }

  /** back to the first delay, after a connection proved healthy */
  reset(): void {
    this.n = 0;
  }
}
