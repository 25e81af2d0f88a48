/**
 * What the server needs from the rest of the gateway. The composition root
 * (gateway/main.ts) hands in objects that satisfy these shapes; the server
 * knows nothing about drivers, the pipeline or the store's internals.
 */
import type { PlantConfig } from '../../config/schema.js';
import type { EntityRef, MachineStatus, MetricsRecord, WindowSpec } from '../core/index.js';
import type { BaselineResponse } from './contract.js';

export type LiveQuality = 'good' | 'bad' | 'uncertain' | 'stale';

/** The latest value of one tag, in engineering units. */
export interface LiveValue {
  readonly tagId: string;
  readonly value: number | boolean | string | null;
  readonly quality: LiveQuality;
  /** sample time (device time when given), ms since epoch */
  readonly ts: number;
  /** when the gateway received it, ms since epoch */
  readonly receivedAt: number;
  readonly reason?: string;
}

export interface LiveSource {
  /** latest value of every tag that has reported at least once */
  snapshot(): LiveValue[];
  /** called with each batch of changed values; returns an unsubscribe function */
  subscribe(listener: (changes: readonly LiveValue[]) => void): () => void;
}

export interface DeviceHealth {
  readonly id: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly state: string;
  readonly lastGoodTs: number | null;
  readonly lastError: string | null;
  readonly counters: Readonly<Record<string, number>>;
  /** failures by kind (`timeout`, `exception-2`, `decode`, …); their sum is `counters.errors` */
  readonly errorsByKind?: Readonly<Record<string, number>>;
  /** round-trip latency histogram, for devices that time requests (polling protocols) */
  readonly latencyMs?: {
    /** upper bounds in ms, ascending */
    readonly buckets: readonly number[];
    /** cumulative: observations ≤ each bound (as Prometheus counts them) */
    readonly counts: readonly number[];
    /** every observation, including those above the last bound */
    readonly count: number;
    /** ms */
    readonly sum: number;
  };
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly startedAt: number;
  readonly now: number;
  readonly devices: readonly DeviceHealth[];
  readonly store: {
    readonly path: string;
    readonly samplesWritten: number;
    readonly pendingRows: number;
    readonly dropped: number;
    readonly lastError: string | null;
  };
  readonly sinks: readonly { readonly name: string; readonly backlog: number; readonly lastError: string | null }[];
  readonly pipeline: { readonly samplesIn: number; readonly rejected: number };
  /** the metrics core: whether it is rebuilt and serving, and its failures */
  readonly metrics?: {
    readonly ready: boolean;
    readonly rebuild: { readonly origin: number | null; readonly samples: number; readonly durationMs: number | null };
    readonly samples: number;
    readonly minutesPersisted: number;
    readonly events: number;
    readonly errors: number;
    readonly lastError: string | null;
  };
}

export interface HistoryPoint {
  readonly ts: number;
  readonly value: number | boolean | string | null;
  readonly quality: LiveQuality;
}

export interface HistorySource {
  history(tagId: string, fromMs: number, toMs: number, maxPoints: number): HistoryPoint[];
}

/**
 * Live OEE, energy and carbon. Throws nothing for a known entity; the server
 * checks ids against the plant before asking.
 */
export interface MetricsSource {
  /** false while metrics are being rebuilt from the store after a start */
  ready(): boolean;
  /** metrics of a machine or line over a window as of `now`; null when the window does not exist */
  snapshot(entity: EntityRef, window: WindowSpec, now: number): MetricsRecord | null;
  /** a machine's state now; null before its first reading or while rebuilding */
  machineStatus(machineId: string): MachineStatus | null;
  /** the line's energy baseline over `days` days before now; null while rebuilding */
  baseline?(lineId: string, days: number, now: number): Omit<BaselineResponse, 'serverTime'> | null;
}

/** A stored sample as the exports read it. */
export interface ExportSampleRow {
  readonly tagId: string;
  readonly ts: number;
  readonly value: number | boolean | string | null;
  readonly quality: LiveQuality;
  readonly reason?: string;
}

/** One tag's minute rollup: aggregates of its good numeric samples; `count` counts numeric samples of any quality. */
export interface ExportRollupRow {
  readonly tagId: string;
  readonly minuteTs: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly avg: number | null;
  readonly last: number | null;
  readonly count: number;
  readonly goodCount: number;
}

/**
 * Stored history read in pages for the CSV exports (the SQLite store fits).
 * Times are inclusive. Each page is read at once and nothing stays open
 * between pages, so an export may wait for a slow client between them.
 */
export interface ExportSource {
  /** raw samples of the tags, merged in time order (ties by tag id) */
  rawSamplePages(
    tagIds: readonly string[],
    fromMs: number,
    toMs: number,
    pageRows?: number,
  ): Iterable<readonly ExportSampleRow[]>;
  /** minute rollups of the tags whose minute starts in the range, merged in time order (ties by tag id) */
  rollupPages(
    tagIds: readonly string[],
    fromMs: number,
    toMs: number,
    pageRows?: number,
  ): Iterable<readonly ExportRollupRow[]>;
  /** the persisted per-minute metrics (`Accumulator` JSON) of one machine or line, oldest first */
  metricsPages(
    entityType: string,
    entityId: string,
    fromMs: number,
    toMs: number,
    pageRows?: number,
  ): Iterable<readonly { readonly minuteTs: number; readonly payload: unknown }[]>;
}

export interface ServerDeps {
  readonly config: PlantConfig;
  readonly live: LiveSource;
  readonly health: () => HealthReport;
  readonly history: HistorySource;
  /** live metrics; without it the metrics routes answer 503 */
  readonly metrics?: MetricsSource;
  /** stored history for the CSV exports (the store); without it the export routes answer 503 */
  readonly exports?: ExportSource;
  /** folder with the built dashboard (index.html and assets) */
  readonly dashboardDir: string;
  readonly log: {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
  /** demo mode: shows a banner on the dashboard */
  readonly demo?: boolean;
  /**
   * The pipeline reports on change: an unchanged value is re-sent at least this
   * often (its heartbeat). The dashboard waits three of these, or three
   * expected intervals if longer, before it fades a value. Omit when every
   * reading is forwarded.
   */
  readonly liveHeartbeatMs?: number;
}
