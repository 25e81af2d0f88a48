/**
 * A device that fails every 100 ms must not write ten lines a second. Each
 * kind of message logs at most once per window; what was held back is
 * counted and reported on the next line of that kind (`suppressed: n`).
 * No timers: the clock is read on each call, so there is nothing to stop.
 */
import type { Log } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RateLimitedLogOptions {
  /** at most one line per kind per window, ms (default 30 000) */
  windowMs?: number;
  now?: () => number;
  /** fields added to every line, e.g. `{ deviceId }` */
  bindings?: Record<string, unknown>;
}

interface KindState {
  lastLoggedAt: number;
  suppressed: number;
}

export class RateLimitedLog {
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly bindings: Record<string, unknown>;
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly log: Log,
    options: RateLimitedLogOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.bindings = options.bindings ?? {};
  }

  /** logs unless a line of this kind went out within the window; returns whether it logged */
  write(level: LogLevel, kind: string, obj: object, msg: string): boolean {
    const t = this.now();
    const state = this.kinds.get(kind);
    if (state && t - state.lastLoggedAt < this.windowMs) {
      state.suppressed++;
      return false;
    }
    const suppressed = state?.suppressed ?? 0;
    this.kinds.set(kind, { lastLoggedAt: t, suppressed: 0 });
    const line = suppressed > 0 ? { ...this.bindings, kind, ...obj, suppressed } : { ...this.bindings, kind, ...obj };
    try {
      this.log[level](line, msg);
    } catch {
      // a broken logger must not take a driver down
    }
    return true;
  }

  warn(kind: string, obj: object, msg: string): boolean {
    return this.write('warn', kind, obj, msg);
  }

  error(kind: string, obj: object, msg: string): boolean {
    return this.write('error', kind, obj, msg);
  }

  info(kind: string, obj: object, msg: string): boolean {
    return this.write('info', kind, obj, msg);
  }

  /** lines of this kind held back since the last one written */
  suppressedCount(kind: string): number {
    return this.kinds.get(kind)?.suppressed ?? 0;
  }

  /**
   * Forget a kind, so its next occurrence logs at once (e.g. after a
   * recovery). Returns how many lines were held back, for the caller to report.
   */
  reset(kind: string): number {
    const suppressed = this.kinds.get(kind)?.suppressed ?? 0;
    this.kinds.delete(kind);
    return suppressed;
  }
}
