/**
 * Rate limit for repetitive log lines: the first occurrence of a key is logged
 * at once, later ones at most once per interval with how many were held back,
 * so a misbehaving device cannot flood the log yet nothing goes unreported.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    /** distinct keys remembered at most; beyond it the oldest are forgotten */
    private readonly maxKeys = 1000,
  ) {}

  /** `null`: hold the line back; a number: log now, mentioning that many held-back repeats. */
  take(key: string): number | null {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry === undefined) {
      if (this.last.size >= this.maxKeys) {
        const oldest = this.last.keys().next();
        if (!oldest.done) this.last.delete(oldest.value);
      }
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
}
