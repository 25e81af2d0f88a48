/**
 * Alarm system performance (EEMUA 191, ISA-18.2 / IEC 62682), pure over a
 * list of alarm activations.
 *
 * Rules, with their defaults:
 * - Rates: activations that began in [from, to), per 10 minutes (fixed
 *   buckets from `from`; the last one may be short), per hour and per day.
 *   EEMUA 191 aims at about 1 per 10 minutes in steady operation.
 * - Flood: begins at the activation that makes the count in the trailing
 *   10 minutes exceed 10 (the 11th alarm within 10 minutes) and ends at the
 *   first instant the trailing count is below 5. The trailing window at `t`
 *   holds activations in (t − 10 min, t], so an activation leaves it exactly
 *   10 minutes after it began. Activations before `from` count towards the
 *   window (pass the 10 minutes before `from` too); a flood still on at `to`
 *   has `end: null`. A flood's alarms are those in (start − 10 min, end].
 * - Bad actors: the alarms with the most activations in the period.
 * - Chattering: an alarm with at least 3 activations within 60 s (ISA-18.2
 *   TR5's rule of thumb for chattering) anywhere in the period.
 * - Standing: still active at `to` and active for at least 24 h by then.
 *
 * The caller passes the activations operators were shown (an alarm that came
 * and went while shelved, suppressed or out of service is left out).
 */
import type { AlarmPriority } from './lifecycle.js';

export interface AlarmActivation {
  readonly alarmId: string;
  /** when it became active */
  readonly at: number;
  /** when it cleared; null while still active */
  readonly clearedAt: number | null;
  readonly priority: AlarmPriority;
}

export interface AlarmStatisticsOptions {
  /** default 10 min */
  readonly rateWindowMs?: number;
  /** a flood begins above this many alarms in the rate window; default 10 */
  readonly floodAbove?: number;
  /** and ends below this many; default 5 */
  readonly floodEndBelow?: number;
  /** default 3 activations … */
  readonly chatterCount?: number;
  /** … within 60 s */
  readonly chatterWindowMs?: number;
  /** default 24 h */
  readonly standingMs?: number;
  /** bad actors listed; default 10 */
  readonly top?: number;
}

export interface AlarmFlood {
  readonly start: number;
  /** null: still on at the end of the period */
  readonly end: number | null;
  /** within the period */
  readonly durationMs: number;
  readonly alarms: number;
  /** the most alarms in the trailing window during the flood */
  readonly peak: number;
}

export interface AlarmStatistics {
  readonly from: number;
  readonly to: number;
  /** activations that began in the period */
  readonly count: number;
  readonly rate: {
    /** per 10 minutes (the rate window), averaged over the period */
    readonly averagePerWindow: number;
    /** the busiest fixed window */
    readonly maxPerWindow: number;
    /** counts per fixed window from `from` */
    readonly perWindow: readonly number[];
    /** share of windows with more than `floodAbove` alarms (0–1) */
    readonly windowsOverFloodShare: number;
    readonly perHour: number;
    readonly perDay: number;
  };
  /** count and share of the activations by priority (EEMUA's target mix: about 5 / 15 / 80 %) */
  readonly priorities: Readonly<Record<AlarmPriority, { readonly count: number; readonly share: number | null }>>;
  readonly floods: readonly AlarmFlood[];
  /** time in flood within the period, ms, and as a share of it */
  readonly floodMs: number;
  readonly floodShare: number | null;
  readonly badActors: readonly { readonly alarmId: string; readonly count: number; readonly share: number }[];
  readonly chattering: readonly {
    readonly alarmId: string;
    readonly activations: number;
    /** the most activations of this alarm within the chatter window */
    readonly maxInWindow: number;
    /** when its first chattering burst reached the count */
    readonly firstAt: number;
  }[];
  readonly standing: readonly { readonly alarmId: string; readonly since: number; readonly durationMs: number }[];
}

const MIN = 60_000;

export function alarmStatistics(
  activations: readonly AlarmActivation[],
  from: number,
  to: number,
  options: AlarmStatisticsOptions = {},
): AlarmStatistics {
  const windowMs = options.rateWindowMs ?? 10 * MIN;
  const floodAbove = options.floodAbove ?? 10;
  const floodEndBelow = options.floodEndBelow ?? 5;
  const chatterCount = options.chatterCount ?? 3;
  const chatterWindowMs = options.chatterWindowMs ?? MIN;
  const standingMs = options.standingMs ?? 24 * 60 * MIN;
  const top = options.top ?? 10;
  const periodMs = Math.max(0, to - from);

  const sorted = [...activations].sort((a, b) => a.at - b.at || (a.alarmId < b.alarmId ? -1 : 1));
  const inPeriod = sorted.filter((a) => a.at >= from && a.at < to);
  const count = inPeriod.length;

  // ---- rates ----
  const windows = periodMs === 0 ? 0 : Math.ceil(periodMs / windowMs);
  const perWindow = new Array<number>(windows).fill(0);
  for (const a of inPeriod) perWindow[Math.floor((a.at - from) / windowMs)]!++;
  const share = (n: number, d: number): number | null => (d === 0 ? null : n / d);
  const rate = {
    averagePerWindow: periodMs === 0 ? 0 : (count * windowMs) / periodMs,
    maxPerWindow: perWindow.reduce((m, n) => Math.max(m, n), 0),
    perWindow,
    windowsOverFloodShare: windows === 0 ? 0 : perWindow.filter((n) => n > floodAbove).length / windows,
    perHour: periodMs === 0 ? 0 : (count * 60 * MIN) / periodMs,
    perDay: periodMs === 0 ? 0 : (count * 24 * 60 * MIN) / periodMs,
  };

  const priorities = { high: 0, medium: 0, low: 0 };
  for (const a of inPeriod) priorities[a.priority]++;
  const byPriority = (p: AlarmPriority) => ({ count: priorities[p], share: share(priorities[p], count) });

  // ---- floods ----
  const floods = findFloods(
    sorted.filter((a) => a.at < to).map((a) => a.at),
    windowMs,
    floodAbove,
    floodEndBelow,
    to,
  ).filter((f) => (f.end ?? to) > from || f.start >= from);
  let floodMs = 0;
  const floodList: AlarmFlood[] = floods.map((f) => {
    const durationMs = Math.max(0, Math.min(f.end ?? to, to) - Math.max(f.start, from));
    floodMs += durationMs;
    return { ...f, durationMs };
  });

  // ---- bad actors and chattering ----
  const perAlarm = new Map<string, number[]>();
  for (const a of inPeriod) {
    const list = perAlarm.get(a.alarmId) ?? [];
    list.push(a.at);
    perAlarm.set(a.alarmId, list);
  }
  const badActors = [...perAlarm]
    .map(([alarmId, times]) => ({ alarmId, count: times.length, share: times.length / count }))
    .sort((a, b) => b.count - a.count || (a.alarmId < b.alarmId ? -1 : 1))
    .slice(0, top);
  const chattering: AlarmStatistics['chattering'][number][] = [];
  for (const [alarmId, times] of perAlarm) {
    let maxInWindow = 0;
    let firstAt: number | null = null;
    let lo = 0;
    for (let hi = 0; hi < times.length; hi++) {
      // activations in (t − window, t]: 3 within 60 s means the third comes less than 60 s after the first
      while (times[lo]! <= times[hi]! - chatterWindowMs) lo++;
      const n = hi - lo + 1;
      maxInWindow = Math.max(maxInWindow, n);
      if (n >= chatterCount && firstAt === null) firstAt = times[hi]!;
    }
    if (firstAt !== null) chattering.push({ alarmId, activations: times.length, maxInWindow, firstAt });
  }
  chattering.sort((a, b) => b.maxInWindow - a.maxInWindow || b.activations - a.activations || a.firstAt - b.firstAt);

  // ---- standing ----
  const standing = sorted
    .filter((a) => a.at <= to - standingMs && (a.clearedAt === null || a.clearedAt > to))
    .map((a) => ({ alarmId: a.alarmId, since: a.at, durationMs: to - a.at }))
    .sort((a, b) => a.since - b.since);

  return {
    from,
    to,
    count,
    rate,
    priorities: { high: byPriority('high'), medium: byPriority('medium'), low: byPriority('low') },
    floods: floodList,
    floodMs,
    floodShare: share(floodMs, periodMs),
    badActors,
    chattering,
    standing,
  };
}

/**
 * Floods over sorted activation times (only those before `to`): a sweep over
 * the instants the trailing count changes (an activation enters; one leaves
 * a window later), all changes at one instant applied before the check.
 */
export function findFloods(
  times: readonly number[],
  windowMs: number,
  above: number,
  endBelow: number,
  to: number,
): Omit<AlarmFlood, 'durationMs'>[] {
  const floods: Omit<AlarmFlood, 'durationMs'>[] = [];
  let enter = 0;
  let leave = 0;
  let inWindow = 0;
  let current: { start: number; peak: number } | null = null;
  const close = (end: number | null) => {
    if (current === null) return;
    const startWindow = current.start - windowMs;
    const stop = end ?? to;
    let alarms = 0;
    for (const t of times) if (t > startWindow && t <= stop) alarms++;
    floods.push({ start: current.start, end, alarms, peak: current.peak });
    current = null;
  };
  while (enter < times.length || leave < enter) {
    const nextEnter = enter < times.length ? times[enter]! : Number.POSITIVE_INFINITY;
    const nextLeave = leave < enter ? times[leave]! + windowMs : Number.POSITIVE_INFINITY;
    const t = Math.min(nextEnter, nextLeave);
    if (t > to) break;
    while (enter < times.length && times[enter] === t) {
      enter++;
      inWindow++;
    }
    while (leave < enter && times[leave]! + windowMs === t) {
      leave++;
      inWindow--;
    }
    if (current === null) {
      if (inWindow > above) current = { start: t, peak: inWindow };
    } else {
      current.peak = Math.max(current.peak, inWindow);
      if (inWindow < endBelow) close(t);
    }
  }
  close(null);
  return floods;
}
