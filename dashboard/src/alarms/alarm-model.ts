/**
 * What the alarm views show, pure: which alarms need an operator, in what
 * order, with which badges and buttons, counts per line, and the figures of
 * the statistics. No DOM, no clock: time is an argument.
 */
import type { AlarmItem, AlarmPriority, AlarmStatsResponse, Capability } from '../../../gateway/server/contract.js';

export const PRIORITY_RANK: Readonly<Record<AlarmPriority, number>> = { high: 0, medium: 1, low: 2 };

/** ISA-18.2's states and the modes that hide an alarm, as badges */
export type AlarmBadge =
  | 'unacknowledged'
  | 'acknowledged'
  | 'returned-unacknowledged'
  | 'latched'
  | 'normal'
  | 'shelved'
  | 'suppressed'
  | 'out-of-service';

export type AlarmActionName = 'acknowledge' | 'reset' | 'shelve' | 'unshelve' | 'out-of-service' | 'return-to-service';

export const ACTION_ORDER: readonly AlarmActionName[] = [
  'acknowledge',
  'reset',
  'shelve',
  'unshelve',
  'out-of-service',
  'return-to-service',
];

/** what the signed-in user may do with alarms */
export interface AlarmRights {
  /** acknowledge, shelve, unshelve, reset */
  readonly act: boolean;
  /** out of service and back */
  readonly manage: boolean;
}

export function rightsOf(capabilities: readonly Capability[] | null | undefined): AlarmRights {
  const caps = capabilities ?? [];
  return { act: caps.includes('alarms.act'), manage: caps.includes('alarms.manage') };
}

export const isActive = (a: AlarmItem): boolean =>
  a.state === 'active-unacknowledged' || a.state === 'active-acknowledged';

/** waits for an operator's acknowledgement: active or returned, unacknowledged */
export const isUnacknowledged = (a: AlarmItem): boolean =>
  a.state === 'active-unacknowledged' || a.state === 'returned-unacknowledged';

/** when the alarm's current episode began: its activation, else its last change */
export const timeOf = (a: AlarmItem): number => a.activeSince ?? a.since;

/** priority first, then the newest first, then the id (a stable order) */
export function byPriorityThenTime(a: AlarmItem, b: AlarmItem): number {
  return (
    PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
    timeOf(b) - timeOf(a) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** The alarms list: shown alarms that are not normal (active, returned unacknowledged, latched). */
export function shownAlarms(list: readonly AlarmItem[]): AlarmItem[] {
  return list.filter((a) => !a.hidden && a.state !== 'normal').sort(byPriorityThenTime);
}

/** Shelved, suppressed or out of service: evaluated, not announced, listed apart. */
export function hiddenAlarms(list: readonly AlarmItem[]): AlarmItem[] {
  return list.filter((a) => a.hidden).sort(byPriorityThenTime);
}

/** The rest: normal and shown. */
export function quietAlarms(list: readonly AlarmItem[]): AlarmItem[] {
  return list.filter((a) => !a.hidden && a.state === 'normal').sort(byPriorityThenTime);
}

/** the count the header shows: shown alarms waiting for an acknowledgement */
export function unacknowledgedCount(list: readonly AlarmItem[]): number {
  return list.filter((a) => !a.hidden && isUnacknowledged(a)).length;
}

export interface AlarmSummary {
  readonly unacknowledged: number;
  readonly active: number;
  readonly latched: number;
  readonly shelved: number;
  readonly suppressed: number;
  readonly outOfService: number;
}

export function summaryOf(list: readonly AlarmItem[]): AlarmSummary {
  const shown = list.filter((a) => !a.hidden);
  return {
    unacknowledged: shown.filter(isUnacknowledged).length,
    active: shown.filter(isActive).length,
    latched: shown.filter((a) => a.state === 'latched').length,
    shelved: list.filter((a) => a.shelved !== null).length,
    suppressed: list.filter((a) => a.suppressed).length,
    outOfService: list.filter((a) => a.outOfService !== null).length,
  };
}

export interface LineAlarmCount {
  /** shown and active (acknowledged or not) */
  readonly active: number;
  readonly unacknowledged: number;
}

/**
 * Per line, only for lines some alarm watches: a line without any alarm
 * gets no count (a zero would claim "no alarms" where nothing is watched).
 */
export function countsByLine(list: readonly AlarmItem[]): Map<string, LineAlarmCount> {
  const out = new Map<string, { active: number; unacknowledged: number }>();
  for (const a of list) {
    if (a.line === null) continue;
    const c = out.get(a.line) ?? { active: 0, unacknowledged: 0 };
    if (!a.hidden && isActive(a)) c.active++;
    if (!a.hidden && isUnacknowledged(a)) c.unacknowledged++;
    out.set(a.line, c);
  }
  return out;
}

/** the state's badge, then one per mode */
export function badgesOf(a: AlarmItem): AlarmBadge[] {
  const state: AlarmBadge =
    a.state === 'active-unacknowledged'
      ? 'unacknowledged'
      : a.state === 'active-acknowledged'
        ? 'acknowledged'
        : a.state;
  const out: AlarmBadge[] = [state];
  if (a.shelved !== null) out.push('shelved');
  if (a.suppressed) out.push('suppressed');
  if (a.outOfService !== null) out.push('out-of-service');
  return out;
}

/** the buttons to offer: only what applies now and what the user may do */
export function actionsFor(a: AlarmItem, rights: AlarmRights): AlarmActionName[] {
  const out: AlarmActionName[] = [];
  if (rights.act) {
    if (isUnacknowledged(a)) out.push('acknowledge');
    if (a.state === 'latched') out.push('reset');
    if (a.shelved === null && a.outOfService === null) out.push('shelve');
    if (a.shelved !== null) out.push('unshelve');
  }
  if (rights.manage) out.push(a.outOfService === null ? 'out-of-service' : 'return-to-service');
  return out;
}

/** the message in the language shown, else in English */
export function messageOf(a: Pick<AlarmItem, 'message'>, lang: string): string {
  return lang === 'zh-Hant' ? (a.message['zh-Hant'] ?? a.message.en) : a.message.en;
}

/** Whether an incoming version of an alarm replaces the one held: never an older change over a newer. */
export function isNewer(incoming: AlarmItem, held: AlarmItem | undefined): boolean {
  if (held === undefined) return true;
  if (incoming.activation !== held.activation) return incoming.activation > held.activation;
  return incoming.since >= held.since;
}

export type AlarmsTab = 'active' | 'history' | 'stats';

/** `#/alarms/history` → history, `#/alarms/stats` → stats; anything else under alarms → the active alarms */
export function alarmsTabOf(hash: string): AlarmsTab {
  const m = /^#?\/?alarms\/(history|stats)\/?(?:\?.*)?$/.exec(hash);
  return (m?.[1] as AlarmsTab | undefined) ?? 'active';
}

/** shelving durations offered, minutes (the gateway allows up to 24 h by default) */
export const SHELVE_CHOICES: readonly number[] = [15, 30, 60, 120, 240, 480, 1440];

// ---------- statistics ----------

/** EEMUA 191: about one alarm per 10 minutes is manageable; more than 10 is a flood */
export const TARGET_PER_WINDOW = 1;
export const FLOOD_PER_WINDOW = 10;
/** EEMUA 191's priority mix: about 5 % high, 15 % medium, 80 % low */
export const TARGET_MIX: Readonly<Record<AlarmPriority, number>> = { high: 0.05, medium: 0.15, low: 0.8 };

export interface RateBar {
  readonly from: number;
  readonly to: number;
  readonly count: number;
  readonly level: 'ok' | 'busy' | 'flood';
}

/** one bar per rate window, the last one possibly short */
export function rateBars(stats: Pick<AlarmStatsResponse, 'from' | 'to' | 'rateWindowMs' | 'rate'>): RateBar[] {
  return stats.rate.perWindow.map((count, i) => {
    const from = stats.from + i * stats.rateWindowMs;
    return {
      from,
      to: Math.min(stats.to, from + stats.rateWindowMs),
      count,
      level: count > FLOOD_PER_WINDOW ? 'flood' : count > TARGET_PER_WINDOW ? 'busy' : 'ok',
    };
  });
}

/** `api/alarms/audit.csv?…` for a period ending `to` */
/** What the audit trail records: the operators' actions, then the gateway's own. */
export const OPERATOR_AUDIT_ACTIONS = [
  'acknowledge',
  'reset',
  'shelve',
  'unshelve',
  'remove-from-service',
  'return-to-service',
] as const;
export const AUDIT_ACTIONS = [
  ...OPERATOR_AUDIT_ACTIONS,
  'activate',
  'clear',
  'shelve-expired',
  'suppress',
  'unsuppress',
  're-alarm',
] as const;
export type AuditActionName = (typeof AUDIT_ACTIONS)[number];

/** the history's filters: an alarm, some actions (none: all), a search text */
export interface AuditFilter {
  readonly alarmId: string | null;
  readonly actions: readonly AuditActionName[];
  readonly text: string;
}

export const NO_AUDIT_FILTER: AuditFilter = { alarmId: null, actions: [], text: '' };

function auditQuery(from: number, to: number, f: AuditFilter): URLSearchParams {
  const q = new URLSearchParams({ from: String(Math.floor(from)), to: String(Math.ceil(to)) });
  if (f.alarmId) q.set('alarmId', f.alarmId);
  if (f.actions.length > 0) q.set('action', f.actions.join(','));
  const text = f.text.trim();
  if (text !== '') q.set('q', text);
  return q;
}

export function auditCsvPath(from: number, to: number, f: AuditFilter): string {
  return `api/alarms/audit.csv?${auditQuery(from, to, f).toString()}`;
}

export function auditPath(from: number, to: number, f: AuditFilter, limit: number): string {
  const q = auditQuery(from, to, f);
  q.set('limit', String(limit));
  return `api/alarms/audit?${q.toString()}`;
}
