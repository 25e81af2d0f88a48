/**
 * The alarm condition of a sink with an outbox, the same for every sink: the
 * outbox cannot be opened, commits to it fail (entries held in memory), or
 * it reached its quota and drops its oldest entries.
 */
import type { SinkAlarm } from './influx/influx-sink.js';

export interface OutboxAlarmInput {
  readonly openError: { readonly at: number; readonly message: string } | null;
  readonly commitError: { readonly since: number; readonly message: string } | null;
  readonly quotaSince: number | null;
  /** entries held in memory, and at most how many */
  readonly staged: number;
  readonly maxStaged: number;
  /** the outbox's size now, and its quota */
  readonly bytes: number;
  readonly quotaMb: number;
  readonly dropped: number;
  readonly lastError: string | null;
  /** how the sink names itself, its entries and its receiver: `InfluxDB`, `points`, `InfluxDB` */
  readonly sink: string;
  readonly entries: string;
  readonly receiver: string;
}

export function outboxAlarm(a: OutboxAlarmInput): SinkAlarm {
  if (a.openError !== null) return { active: true, since: a.openError.at, message: a.openError.message };
  if (a.commitError !== null) {
    return {
      active: true,
      since: a.commitError.since,
      message: `${a.commitError.message}; ${a.staged} ${a.entries} are held in memory, beyond ${a.maxStaged} the oldest are dropped`,
    };
  }
  if (a.quotaSince !== null) {
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    return {
      active: true,
      since: a.quotaSince,
      message:
        `the ${a.sink} outbox reached its quota (${mb(a.bytes)} of ${a.quotaMb} MiB): ` +
        `${a.dropped} oldest ${a.entries} dropped so far` +
        (a.lastError === null ? '' : `; ${a.receiver}: ${a.lastError}`),
    };
  }
  return { active: false, since: null, message: null };
}
