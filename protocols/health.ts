/**
 * The bookkeeping every driver shares: connection state, counters, last
 * error, and the one path by which Samples leave a driver.
 *
 * Counter meanings (the same for every protocol):
 * - requests:   requests sent to the device (Modbus reads; OPC UA service calls)
 * - errors:     failures of any kind: failed connection attempts, failed
 *               requests (timeouts included), per-tag decode errors
 * - timeouts:   requests that got no answer in time (also counted in errors)
 * - reconnects: connection attempts after the first one
 * - overruns:   poll cycles skipped because the previous one was still running
 * - samples:    Samples emitted, of any quality
 *
 * Besides the counters: errors by kind (`fail(err, kind)`) and, for drivers
 * that measure them, request round trips in a latency histogram
 * (`recordLatency`).
 */
import { describeError } from './errors.js';
import type {
  ConnectionState,
  DriverContext,
  DriverCounters,
  DriverStatus,
  LatencyHistogramSnapshot,
  Sample,
} from './types.js';

/** Upper bounds of the round-trip histogram's buckets, ms. */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
]);

/** Observations in fixed buckets: constant memory and O(buckets) per observation, whatever the rate. */
export class LatencyHistogram {
  /** per bucket, not cumulative; the last slot holds observations above the last bound */
  private readonly perBucket: Float64Array;
  private n = 0;
  private total = 0;

  constructor(readonly buckets: readonly number[] = LATENCY_BUCKETS_MS) {
    this.perBucket = new Float64Array(buckets.length + 1);
  }

  observe(ms: number): void {
    if (!(ms >= 0)) return; // NaN or negative: a clock problem, not a latency
    const b = this.buckets;
    let i = 0;
    while (i < b.length && ms > b[i]!) i++;
    this.perBucket[i]!++;
    this.n++;
    this.total += ms;
  }

  get count(): number {
    return this.n;
  }

  /** the q-quantile (0…1), see `histogramQuantile`; null without observations */
  quantile(q: number): number | null {
    return histogramQuantile(this.snapshot(), q);
  }

  snapshot(): LatencyHistogramSnapshot {
    const counts: number[] = new Array(this.buckets.length);
    let running = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      running += this.perBucket[i]!;
      counts[i] = running;
    }
    return { buckets: this.buckets, counts, count: this.n, sum: this.total };
  }
}

/**
 * The q-quantile (0…1) of a histogram snapshot (or of the difference of two),
 * by linear interpolation inside the bucket that holds it, as Prometheus'
 * histogram_quantile does; null without observations. Beyond the last
 * bucket it answers that bucket's bound: the histogram knows no more.
 */
export function histogramQuantile(h: LatencyHistogramSnapshot, q: number): number | null {
  if (h.count <= 0) return null;
  const rank = Math.min(1, Math.max(0, q)) * h.count;
  let below = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    const upTo = h.counts[i]!;
    if (upTo >= rank && upTo > below) {
      const lo = i === 0 ? 0 : h.buckets[i - 1]!;
      const hi = h.buckets[i]!;
      return lo + ((hi - lo) * (rank - below)) / (upTo - below);
    }
    below = upTo;
  }
  return h.buckets[h.buckets.length - 1] ?? null;
}

export interface DriverHealthOptions {
  /** show a round-trip histogram in the status from the start (it appears with the first `recordLatency` otherwise) */
  latency?: boolean;
}

export class DriverHealth {
  state: ConnectionState = 'idle';
  lastGoodTs: number | null = null;
  lastError: string | null = null;
  readonly counters: DriverCounters = { requests: 0, errors: 0, timeouts: 0, reconnects: 0, overruns: 0, samples: 0 };
  /** every tag was last emitted as disconnected: nothing new to say until something else is emitted */
  private disconnectedMarked = false;
  private readonly errorsByKind = new Map<string, number>();
  private latency: LatencyHistogram | null;

  constructor(
    readonly deviceId: string,
    readonly protocol: string,
    readonly endpoint: string,
    private readonly ctx: DriverContext,
    options: DriverHealthOptions = {},
  ) {
    this.latency = options.latency ? new LatencyHistogram() : null;
  }

  /**
   * Records an error: counts it, under `kind` too (`timeout`, `exception-2`,
   * `decode`, …; `other` when not given), and keeps its text as `lastError`.
   */
  fail(err: unknown, kind = 'other'): string {
    const text = describeError(err);
    this.counters.errors++;
    this.errorsByKind.set(kind, (this.errorsByKind.get(kind) ?? 0) + 1);
    this.lastError = text;
    return text;
  }

  /** one request's round trip, ms (answers only: a timeout is not a latency) */
  recordLatency(ms: number): void {
    if (this.latency === null) this.latency = new LatencyHistogram();
    this.latency.observe(ms);
  }

  /** the round-trip histogram itself, for quantiles; null until the first round trip (or the `latency` option) */
  get latencyHistogram(): LatencyHistogram | null {
    return this.latency;
  }

  /**
   * Emits every tag as `bad` / `disconnected`, once per outage: again only
   * after some other Sample went out in between (a link that connects and
   * drops before any read has nothing new to report).
   */
  markDisconnected(tagIds: Iterable<string>): void {
    if (this.disconnectedMarked) return;
    this.emit(badSamples(tagIds, this.ctx.now(), 'disconnected'));
    this.disconnectedMarked = true;
  }

  /** hands Samples to the pipeline; never throws */
  emit(samples: readonly Sample[]): void {
    if (samples.length === 0) return;
    this.disconnectedMarked = false;
    this.counters.samples += samples.length;
    for (const s of samples) {
      if (s.quality === 'good' && (this.lastGoodTs === null || s.ts > this.lastGoodTs)) this.lastGoodTs = s.ts;
    }
    try {
      this.ctx.emit(samples);
    } catch (err) {
      try {
        this.ctx.log.error(
          { deviceId: this.deviceId, err: describeError(err) },
          'the pipeline rejected a batch of samples',
        );
      } catch {
        // nothing left to report to
      }
    }
  }

  snapshot(): DriverStatus {
    return {
      deviceId: this.deviceId,
      protocol: this.protocol,
      endpoint: this.endpoint,
      state: this.state,
      lastGoodTs: this.lastGoodTs,
      lastError: this.lastError,
      counters: { ...this.counters },
      errorsByKind: Object.fromEntries(this.errorsByKind),
      ...(this.latency ? { latencyMs: this.latency.snapshot() } : {}),
    };
  }
}

/** A bad Sample for each tag id, all with the same reason and time. */
export function badSamples(tagIds: Iterable<string>, ts: number, reason: string): Sample[] {
  const out: Sample[] = [];
  for (const tagId of tagIds) out.push({ tagId, ts, value: null, quality: 'bad', reason });
  return out;
}
