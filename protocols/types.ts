/**
 * The one port every protocol driver sits behind. Downstream of a driver,
 * nothing sees protocol types: only Samples and a status snapshot.
 */

export type Quality = 'good' | 'bad' | 'uncertain' | 'stale';

export type SampleValue = number | boolean | string | null;

export interface Sample {
  readonly tagId: string;
  /** ms since epoch: device time when the device gives one, receive time otherwise */
  readonly ts: number;
  /** raw decoded value; the pipeline applies scale and offset */
  readonly value: SampleValue;
  readonly quality: Quality;
  /** short reason for a quality other than good: `timeout`, `disconnected`, `exception 2`, `decode error` */
  readonly reason?: string;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'stopped';

export interface DriverCounters {
  requests: number;
  errors: number;
  timeouts: number;
  reconnects: number;
  overruns: number;
  samples: number;
}

/**
 * A latency histogram in the shape /metrics exports: `counts[i]` is the
 * number of observations ≤ `buckets[i]` ms (cumulative, Prometheus `le`);
 * `count` includes the ones above the last bucket (`+Inf`).
 */
export interface LatencyHistogramSnapshot {
  readonly buckets: readonly number[];
  readonly counts: readonly number[];
  readonly count: number;
  /** ms */
  readonly sum: number;
}

export interface DriverStatus {
  readonly deviceId: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly state: ConnectionState;
  readonly lastGoodTs: number | null;
  readonly lastError: string | null;
  readonly counters: Readonly<DriverCounters>;
  /** request → answer round trips, ms; present for drivers that measure them (Modbus) */
  readonly latencyMs?: LatencyHistogramSnapshot;
  /**
   * `counters.errors` split by kind; the values add up to `errors`. Kinds:
   * `connect`, `disconnected`, `timeout`, `exception-N` (Modbus exception N),
   * `protocol` (a malformed answer), `decode`, `internal`; `other` for errors
   * recorded without a kind.
   */
  readonly errorsByKind?: Readonly<Record<string, number>>;
}

/** Minimal structured logger (pino-compatible). */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DriverContext {
  /** hand a batch of Samples to the pipeline; never throws */
  emit(samples: readonly Sample[]): void;
  log: Log;
  now(): number;
}

/**
 * A driver owns one device: its connection, scheduler and backoff.
 * The constructor does nothing; `start()` returns once the first connection
 * attempt is scheduled and never rejects because the device is unreachable
 * (that shows as quality and status). `stop()` closes everything it opened.
 */
export interface Driver {
  readonly deviceId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): DriverStatus;
}
