/**
 * What the server needs from the rest of the gateway. The composition root
 * (gateway/main.ts) hands in objects that satisfy these shapes; the server
 * knows nothing about drivers, the pipeline or the store's internals.
 */
import type { PlantConfig } from '../../config/schema.js';
import type {
  AlarmActionResult,
  AlarmChange,
  AlarmMode,
  AlarmStateName,
  AlarmStatistics,
  AlarmView,
} from '../core/alarms/index.js';
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

/** A northbound sink (InfluxDB, …): what it holds back, what it delivered and what it had to drop. */
export interface SinkHealth {
  readonly name: string;
  /** points waiting to be sent */
  readonly backlog: number;
  /** the current failure; null while sending works */
  readonly lastError: string | null;
  /** `running`, `failed` (could not start: see lastError), `stopped`, … */
  readonly state?: string;
  /** the backlog's size on disk as its quota counts it */
  readonly backlogBytes?: number;
  /** how long the oldest waiting point has waited, ms; null when none waits */
  readonly oldestAgeMs?: number | null;
  /** points delivered since the start */
  readonly sent?: number;
  /** points delivered per second, recent */
  readonly sendRate?: number;
  /** failed attempts since the start */
  readonly failures?: number;
  /** points dropped, oldest first, because the backlog reached its quota */
  readonly dropped?: number;
  /** points the receiver refused as bad and that were dropped */
  readonly rejected?: number;
  /** a condition for a system alarm (quota reached, outbox unusable) */
  readonly alarm?: { readonly active: boolean; readonly since: number | null; readonly message: string | null };
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
  readonly sinks: readonly SinkHealth[];
  readonly pipeline: { readonly samplesIn: number; readonly rejected: number };
  /** the alarm service: alarms configured, active, unacknowledged, store problems */
  readonly alarms?: {
    readonly ready: boolean;
    readonly alarms: number;
    readonly active: number;
    readonly unacknowledged: number;
    readonly hidden: number;
    readonly recorded: number;
    readonly storeErrors: number;
    readonly droppedEdges: number;
    readonly errors: number;
    readonly lastError: string | null;
    readonly orphans: readonly string[];
  };
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

/**
 * The plant's alarms and the operator actions on them (the AlarmService
 * fits). An action names the signed-in user; it answers with the alarm
 * after it, or a refusal with its stable code.
 */
export interface AlarmSource {
  /** false while the alarms are restored after a start */
  ready(): boolean;
  /** every configured alarm, in configuration order (empty before it is ready) */
  list(): readonly AlarmView[];
  get(alarmId: string): AlarmView | null;
  acknowledge(alarmId: string, user: string, comment?: string | null): AlarmActionResult;
  shelve(alarmId: string, user: string, reason: string, durationMs: number): AlarmActionResult;
  unshelve(alarmId: string, user: string, comment?: string | null): AlarmActionResult;
  reset(alarmId: string, user: string, comment?: string | null): AlarmActionResult;
  removeFromService(alarmId: string, user: string, reason: string): AlarmActionResult;
  returnToService(alarmId: string, user: string, comment?: string | null): AlarmActionResult;
  /** alarm system performance over [from, to), by 10-minute windows */
  stats(from: number, to: number): AlarmStatistics;
  /** hears every change right after it is recorded; returns the unsubscribe */
  subscribe(listener: (change: AlarmChange) => void): () => void;
}

/** One stored line of the alarm audit trail. */
export interface AlarmAuditRecord {
  readonly id: number;
  readonly ts: number;
  readonly alarmId: string;
  readonly activation: number;
  readonly action: string;
  readonly user: string | null;
  readonly comment: string | null;
  readonly from: { readonly state: AlarmStateName; readonly modes: readonly AlarmMode[] };
  readonly to: { readonly state: AlarmStateName; readonly modes: readonly AlarmMode[] };
  readonly result: string;
  readonly value?: unknown;
  readonly until?: number;
}

/** The append-only alarm audit trail (the AlarmStore fits). Times are inclusive. */
export interface AlarmAuditSource {
  auditTrail(query: {
    readonly from: number;
    readonly to: number;
    readonly alarmId?: string;
    readonly limit?: number;
    /** only lines recorded after this one: the next page */
    readonly afterId?: number;
    readonly newestFirst?: boolean;
    /** only these actions; empty or absent: all */
    readonly actions?: readonly string[];
    /** only what this user did (without case) */
    readonly user?: string;
    /** lines whose alarm id, user or comment contains this text (without case), or whose alarm is in `textAlarmIds` */
    readonly text?: string;
    readonly textAlarmIds?: readonly string[];
  }): readonly AlarmAuditRecord[];
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
  /** the alarms; without them the alarm routes answer 503 and the live hub refuses to follow alarms */
  readonly alarms?: AlarmSource;
  /** the alarm audit trail (the alarm store); without it the audit routes answer 503 */
  readonly alarmAudit?: AlarmAuditSource;
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
