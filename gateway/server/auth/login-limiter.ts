/**
 * Failed sign-ins per key (a client address, a username) in a sliding
 * window. A key with `limit` failures in the window is refused until the
 * oldest of them leaves it. Attempts are counted when they start, before
 * the password is checked, so parallel guesses cannot slip past the limit;
 * a success gives its attempt back.
 *
 * Memory is bounded: at most `maxKeys` keys, each with at most `limit`
 * times; when full, expired keys go first, then the oldest.
 */
export interface LimiterOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxKeys?: number;
}

export class FailureLimiter {
  private readonly keys = new Map<string, number[]>();
  private readonly maxKeys: number;

  constructor(private readonly opts: LimiterOptions) {
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /** ms until the key may try again; 0 when it may now */
  retryAfterMs(key: string, now: number): number {
    const times = this.live(key, now);
    if (times.length < this.opts.limit) return 0;
    return Math.max(1, times[times.length - this.opts.limit]! + this.opts.windowMs - now);
  }

  /** counts an attempt (a failure until `forgive` says otherwise) */
  record(key: string, now: number): void {
    const times = this.live(key, now);
    times.push(now);
    if (times.length > this.opts.limit) times.splice(0, times.length - this.opts.limit);
    this.keys.delete(key);
    this.keys.set(key, times);
    if (this.keys.size > this.maxKeys) this.evict(now);
  }

  /** takes back the newest attempt of the key (it succeeded) */
  forgive(key: string): void {
    const times = this.keys.get(key);
    if (!times) return;
    times.pop();
    if (times.length === 0) this.keys.delete(key);
  }

  reset(key: string): void {
    this.keys.delete(key);
  }

  get size(): number {
    return this.keys.size;
  }

  private live(key: string, now: number): number[] {
    const times = this.keys.get(key);
    if (!times) return [];
    const from = now - this.opts.windowMs;
    while (times.length > 0 && times[0]! <= from) times.shift();
    if (times.length === 0) this.keys.delete(key);
    return times;
  }

  private evict(now: number): void {
    for (const key of [...this.keys.keys()]) this.live(key, now);
    for (const key of this.keys.keys()) {
      if (this.keys.size <= this.maxKeys) break;
      this.keys.delete(key);
    }
  }
}
