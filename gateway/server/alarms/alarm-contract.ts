/**
 * The alarms' part of the HTTP and WebSocket contract: what `/api/alarms…`
 * answers and what the live hub sends about alarms. `contract.ts`
 * re-exports all of it, so the dashboard still imports that one file.
 */
import type {
  AlarmMode,
  AlarmPriority,
  AlarmRefusalCode,
  AlarmStateName,
  AlarmStatistics,
} from '../../core/alarms/index.js';

export type { AlarmMode, AlarmPriority, AlarmRefusalCode, AlarmStateName, AlarmStatistics };

export const ALARM_PRIORITIES: readonly AlarmPriority[] = ['high', 'medium', 'low'];

/** An alarm's state and modes, as the audit trail shows them before and after a change. */
export interface AlarmStatusView {
  readonly state: AlarmStateName;
  readonly modes: readonly AlarmMode[];
}

/** One configured alarm as operators see it: its rule's description and where its lifecycle stands. */
export interface AlarmItem {
  /** the rule's id */
  readonly id: string;
  /** the rule's kind: `high`, `low`, `machine-state`, `device-comm-lost`, … */
  readonly kind: string;
  readonly priority: AlarmPriority;
  /** the rule's text; `zh-Hant` null when the config gives only English */
  readonly message: { readonly en: string; readonly 'zh-Hant': string | null };
  /** the rule's line, else the line of its machine */
  readonly line: string | null;
  readonly lineName: string | null;
  readonly machine: string | null;
  readonly machineName: string | null;
  /** what the rule watches: a tag, device, machine, `line:metric` or system signal id */
  readonly source: string;
  /** the limit the value is compared with (per second for a rate of change); null for other kinds */
  readonly limit: number | null;
  /** the watched tag's unit (per second for a rate of change); null when none */
  readonly unit: string | null;
  /** a latching alarm waits for a reset after it clears */
  readonly latching: boolean;
  readonly state: AlarmStateName;
  /** what hides it now: `shelved`, `suppressed`, `out-of-service` */
  readonly modes: readonly AlarmMode[];
  /** shelved, suppressed or out of service: still evaluated, not announced */
  readonly hidden: boolean;
  /** the evaluated condition now (after the delays); it leads `state` by at most a moment */
  readonly conditionActive: boolean;
  /** activations so far; the current (or last) one's number identifies the alarm event */
  readonly activation: number;
  /** when the current (or last) activation began, ms since epoch */
  readonly activeSince: number | null;
  /** when it cleared; null while active */
  readonly clearedAt: number | null;
  /** the alarm's last change of state, mode or acknowledgement */
  readonly since: number;
  /** the value when the current activation began (a rate of change: the rate) */
  readonly value: number | boolean | string | null;
  /** the latest value the rule looked at */
  readonly currentValue: number | boolean | string | null;
  readonly acknowledged: { readonly user: string; readonly at: number; readonly comment: string | null } | null;
  /** the shelf ends by itself at `until` */
  readonly shelved: {
    readonly user: string;
    readonly at: number;
    readonly until: number;
    readonly reason: string;
  } | null;
  /** by design: its machine is in a state the rule names */
  readonly suppressed: boolean;
  readonly outOfService: { readonly user: string; readonly at: number; readonly reason: string } | null;
  /** re-announcements of the current activation */
  readonly reAlarms: number;
}

/** GET /api/alarms: every configured alarm, in configuration order. */
export interface AlarmsResponse {
  readonly serverTime: number;
  /** false while the alarms are restored after a start (the list is then empty) */
  readonly ready: boolean;
  /** the site's IANA time zone, for showing times */
  readonly timezone: string;
  readonly alarms: readonly AlarmItem[];
}

/** One line of the append-only audit trail: a change, or an operator's attempt and its outcome. */
export interface AlarmAuditEntry {
  /** grows with every line recorded */
  readonly id: number;
  readonly ts: number;
  readonly alarmId: string;
  /** the alarm event it concerns */
  readonly activation: number;
  /** `acknowledge`, `shelve`, `unshelve`, `reset`, `remove-from-service`, `return-to-service`, `activate`, `clear`, … */
  readonly action: string;
  /** the signed-in user; null for the gateway's own changes */
  readonly user: string | null;
  readonly comment: string | null;
  readonly from: AlarmStatusView;
  readonly to: AlarmStatusView;
  /** `accepted`, or the refusal code of an attempt that did not apply */
  readonly result: string;
  /** activate / clear: the value that decided it */
  readonly value?: unknown;
  /** shelve: when the shelf ends */
  readonly until?: number;
}

/** GET /api/alarms/:id */
export interface AlarmDetailResponse {
  readonly serverTime: number;
  readonly timezone: string;
  readonly alarm: AlarmItem;
  /** its latest audit lines, newest first (at most ALARM_DETAIL_AUDIT_ROWS) */
  readonly audit: readonly AlarmAuditEntry[];
}

/** GET /api/alarms/audit?from&to&alarmId&limit */
export interface AlarmAuditResponse {
  readonly serverTime: number;
  readonly from: number;
  readonly to: number;
  readonly alarmId: string | null;
  /** the actions asked for; empty: all */
  readonly actions: readonly string[];
  readonly user: string | null;
  /** the search text, trimmed; null: no search */
  readonly search: string | null;
  readonly limit: number;
  /** more lines matched than `limit`: narrow the range, or download the CSV for all of them */
  readonly truncated: boolean;
  /** newest first */
  readonly entries: readonly AlarmAuditEntry[];
}

/** GET /api/alarms/stats?from&to: alarm system performance (EEMUA 191, ISA-18.2) over [from, to). */
export type AlarmStatsResponse = AlarmStatistics & {
  readonly serverTime: number;
  readonly timezone: string;
  /** the length of each `rate.perWindow` bucket, from `from` */
  readonly rateWindowMs: number;
};

/** POST /api/alarms/:id/acknowledge | unshelve | reset | return-to-service */
export interface AlarmCommentRequest {
  readonly comment?: string | null;
}

/** POST /api/alarms/:id/shelve */
export interface AlarmShelveRequest {
  /** required: it goes on record */
  readonly reason: string;
  /** the shelf ends by itself after this long (at most 24 h by default) */
  readonly durationMinutes: number;
}

/** POST /api/alarms/:id/out-of-service */
export interface AlarmOutOfServiceRequest {
  readonly reason: string;
}

/** What one change or operator action recorded, as listeners hear it. */
export interface AlarmChangeView {
  readonly action: string;
  readonly at: number;
  readonly activation: number;
  readonly user: string | null;
  readonly comment: string | null;
  readonly from: AlarmStatusView;
  readonly to: AlarmStatusView;
  readonly result: string;
  /** a new alarm, a re-alarm or an unacknowledged alarm shown again: operators should be told now */
  readonly announce: boolean;
}

/** The answer to an operator action that was taken. */
export interface AlarmActionResponse {
  readonly serverTime: number;
  readonly alarm: AlarmItem;
  readonly change: AlarmChangeView;
}

/** audit lines GET /api/alarms/audit gives by default, and at most */
export const ALARM_AUDIT_DEFAULT_LIMIT = 500;
export const ALARM_AUDIT_MAX_LIMIT = 5000;
/** audit lines GET /api/alarms/:id carries */
export const ALARM_DETAIL_AUDIT_ROWS = 50;
/** the default span of the audit and statistics routes: the last 24 hours */
export const ALARM_DEFAULT_SPAN_MS = 24 * 3_600_000;
/** the longest range one audit or statistics request may span */
export const ALARM_MAX_RANGE_DAYS = 400;
/** EEMUA 191's rate window, the statistics' bucket */
export const ALARM_RATE_WINDOW_MS = 600_000;
