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
 */
import { describeError } from './errors.js';
import type { ConnectionState, DriverContext, DriverCounters, DriverStatus, Sample } from './types.js';

export class DriverHealth {
  state: ConnectionState = 'idle';
  lastGoodTs: number | null = null;
  lastError: string | null = null;
  readonly counters: DriverCounters = { requests: 0, errors: 0, timeouts: 0, reconnects: 0, overruns: 0, samples: 0 };
  /** every tag was last emitted as disconnected: nothing new to say until something else is emitted */
  private disconnectedMarked = false;

  constructor(
    readonly deviceId: string,
    readonly protocol: string,
    readonly endpoint: string,
    private readonly ctx: DriverContext,
  ) {}

  /** records an error: counts it and keeps its text as `lastError` */
  fail(err: unknown): string {
    const text = describeError(err);
    this.counters.errors++;
    this.lastError = text;
    return text;
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
    };
  }
}

/** A bad Sample for each tag id, all with the same reason and time. */
export function badSamples(tagIds: Iterable<string>, ts: number, reason: string): Sample[] {
  const out: Sample[] = [];
  for (const tagId of tagIds) out.push({ tagId, ts, value: null, quality: 'bad', reason });
  return out;
}
