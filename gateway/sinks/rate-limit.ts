/**
 * Rate limit for repetitive log lines: the first occurrence of a key is
 * logged at once, later ones at most once per interval with how many were
 * held back, so a long outage cannot flood the log yet nothing goes unreported.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /** `null`: hold the line back; a number: log now, mentioning that many held-back repeats. */
  take(key: string): number | null {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry === undefined) {
      this.last.set(key, { at: now, held: 0 });
      return 0;
    }
    if (now - entry.at >= this.intervalMs) {
      const held = entry.held;
      entry.at = now;
      entry.held = 0;
      return held;
    }
    entry.held++;
    return null;
  }

  /** forgets a key: its next occurrence is logged at once (a new streak) */
  reset(key: string): void {
    this.last.delete(key);
  }
}

/** Points per second over a sliding window of whole seconds. */
export class RateWindow {
  private readonly counts: number[] = [];
  private readonly seconds: number[] = [];

  constructor(
    private readonly windowS: number,
    private readonly now: () => number,
  ) {}

  add(n: number): void {
    const s = Math.floor(this.now() / 1000);
    const last = this.seconds.length - 1;
    if (last >= 0 && this.seconds[last] === s) this.counts[last]! += n;
    else {
      this.seconds.push(s);
      this.counts.push(n);
    }
    this.trim(s);
  }

  /** per second, over the window (the current second included) */
  rate(): number {
    const s = Math.floor(this.now() / 1000);
    this.trim(s);
    let sum = 0;
    for (const c of this.counts) sum += c;
    return sum / this.windowS;
  }

  private trim(s: number): void {
    while (this.seconds.length > 0 && this.seconds[0]! <= s - this.windowS) {
      this.seconds.shift();
      this.counts.shift();
    }
  }
}
