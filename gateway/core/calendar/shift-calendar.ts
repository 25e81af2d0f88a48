/**
 * When a line is meant to produce: shifts in the site's timezone (a shift may
 * run past midnight), their breaks, planned stops and non-working days.
 *
 * Every answer is a pure function of the calendar, the timezone and the
 * instants asked about. Shift instances are built per local start date and
 * cached (bounded), so a query costs a few array walks.
 */
import type { CalendarConfig } from '../model.js';
import { DAY_MS } from '../model.js';
import {
  clockMs,
  dateOfDayNumber,
  dayNumberOf,
  instantOf,
  localDayNumber,
  parseLocalDateTime,
  weekdayOf,
} from './zoned-time.js';

/** One occurrence of a shift: shift `shiftId` that starts on local date `date`. */
export interface ShiftInstance {
  /** `<shiftId>@<YYYY-MM-DD>`, the local date the shift starts on */
  readonly id: string;
  readonly shiftId: string;
  readonly date: string;
  /** ms since epoch */
  readonly start: number;
  readonly end: number;
}

/**
 * What the calendar says about an instant:
 * - `planned`: inside a shift, not in a break or a planned stop — planned production time
 * - `break`: inside a shift's break
 * - `planned-stop`: inside a shift, covered by one of the calendar's planned stops
 * - `off-shift`: outside every shift (or a shift that falls on a non-working day)
 */
export type CalendarStatus = 'planned' | 'break' | 'planned-stop' | 'off-shift';

export interface CalendarSegment {
  readonly from: number;
  readonly to: number;
  readonly status: CalendarStatus;
  /** the planned stop's reason, for `planned-stop` */
  readonly reason?: string;
}

interface Interval {
  readonly from: number;
  readonly to: number;
}

interface CompiledInstance extends ShiftInstance {
  readonly breaks: readonly Interval[];
}

interface CompiledStop extends Interval {
  readonly reason: string;
}

export interface ShiftCalendarOptions {
  /** planned stops restricted to some lines apply only when this line is among them */
  readonly lineId?: string;
}

/** How far back `previousShift` looks for an earlier shift instance. */
const PREVIOUS_SHIFT_SEARCH_DAYS = 14;
const CACHE_DAYS = 400;

export class ShiftCalendar {
  readonly id: string;
  readonly timeZone: string;
  private readonly calendar: CalendarConfig;
  private readonly nonWorking: ReadonlySet<number>;
  private readonly stops: readonly CompiledStop[];
  private readonly byDay = new Map<number, readonly CompiledInstance[]>();

  constructor(calendar: CalendarConfig, timeZone: string, options: ShiftCalendarOptions = {}) {
    this.id = calendar.id;
    this.calendar = calendar;
    this.timeZone = timeZone;
    this.nonWorking = new Set(calendar.nonWorkingDays.map(dayNumberOf));
    const stops: CompiledStop[] = [];
    for (const s of calendar.plannedStops) {
      if (s.lines !== undefined && (options.lineId === undefined || !s.lines.includes(options.lineId))) continue;
      const from = parseLocalDateTime(s.from, timeZone);
      // a bare date as the end means "through that day"
      const to = /^\d{4}-\d{2}-\d{2}$/.test(s.to)
        ? instantOf(dayNumberOf(s.to) + 1, 0, timeZone)
        : parseLocalDateTime(s.to, timeZone);
      if (to > from) stops.push({ from, to, reason: s.reason });
    }
    stops.sort((a, b) => a.from - b.from);
    this.stops = stops;
  }

  /**
   * The calendar status over `[from, to)` as consecutive segments that cover it
   * exactly (adjacent segments differ in status or reason).
   */
  segments(from: number, to: number): CalendarSegment[] {
    if (!(to > from)) return [];
    const instances = this.instancesOverlapping(from, to);
    const stops = this.stops.filter((s) => s.to > from && s.from < to);
    const points = new Set<number>([from, to]);
    const addPoint = (t: number) => {
      if (t > from && t < to) points.add(t);
    };
    for (const inst of instances) {
      addPoint(inst.start);
      addPoint(inst.end);
      for (const b of inst.breaks) {
        addPoint(b.from);
        addPoint(b.to);
      }
    }
    for (const s of stops) {
      addPoint(s.from);
      addPoint(s.to);
    }
    const sorted = [...points].sort((a, b) => a - b);
    const out: CalendarSegment[] = [];
    for (let i = 0; i + 1 < sorted.length; i++) {
      const a = sorted[i]!;
      const b = sorted[i + 1]!;
      const { status, reason } = this.classify(a, instances, stops);
      const last = out[out.length - 1];
      if (last !== undefined && last.status === status && last.reason === reason) {
        out[out.length - 1] = { ...last, to: b };
      } else {
        out.push(reason === undefined ? { from: a, to: b, status } : { from: a, to: b, status, reason });
      }
    }
    return out;
  }

  /** Status at one instant. */
  statusAt(t: number): CalendarSegment {
    return this.segments(t, t + 1)[0]!;
  }

  /** Planned production time by the calendar in `[from, to)`: shift time less breaks and planned stops, in ms. */
  plannedMs(from: number, to: number): number {
    let ms = 0;
    for (const s of this.segments(from, to)) if (s.status === 'planned') ms += s.to - s.from;
    return ms;
  }

  /** The shift instance containing `t` (the later-starting one where shifts overlap), or null between shifts. */
  shiftAt(t: number): ShiftInstance | null {
    let best: CompiledInstance | null = null;
    for (const inst of this.instancesOverlapping(t, t + 1)) {
      if (inst.start <= t && t < inst.end && (best === null || inst.start > best.start)) best = inst;
    }
    return best === null ? null : publicInstance(best);
  }

  /**
   * The shift before the one containing `t` (or, between shifts, the last one
   * that started before `t`): the latest-starting instance that starts before
   * the current one, looking back at most two weeks.
   */
  previousShift(t: number): ShiftInstance | null {
    const current = this.shiftAt(t);
    const ref = current === null ? t : current.start;
    let best: CompiledInstance | null = null;
    const firstDay = localDayNumber(ref, this.timeZone);
    for (let day = firstDay; day >= firstDay - PREVIOUS_SHIFT_SEARCH_DAYS && best === null; day--) {
      // instances of one day start after those of the day before, so the first day with a hit has the answer
      for (const inst of this.instancesStartingOn(day)) {
        if (inst.start < ref && inst.id !== current?.id && (best === null || inst.start > best.start)) best = inst;
      }
    }
    return best === null ? null : publicInstance(best);
  }

  /** Shift instances that overlap `[from, to)`, by start time. */
  shiftsBetween(from: number, to: number): ShiftInstance[] {
    return this.instancesOverlapping(from, to).map(publicInstance);
  }

  private classify(
    t: number,
    instances: readonly CompiledInstance[],
    stops: readonly CompiledStop[],
  ): { status: CalendarStatus; reason?: string } {
    let inShift = false;
    for (const inst of instances) {
      if (inst.start <= t && t < inst.end) {
        inShift = true;
        for (const b of inst.breaks) if (b.from <= t && t < b.to) return { status: 'break' };
      }
    }
    if (!inShift) return { status: 'off-shift' };
    for (const s of stops) if (s.from <= t && t < s.to) return { status: 'planned-stop', reason: s.reason };
    return { status: 'planned' };
  }

  private instancesOverlapping(from: number, to: number): CompiledInstance[] {
    // a shift lasts at most a day (25 h across a fall-back night), so one that
    // overlaps [from, to) started at most two local days before `from`
    const first = localDayNumber(from, this.timeZone) - 2;
    const last = localDayNumber(to - 1, this.timeZone);
    const out: CompiledInstance[] = [];
    for (let day = first; day <= last; day++) {
      for (const inst of this.instancesStartingOn(day)) if (inst.end > from && inst.start < to) out.push(inst);
    }
    return out.sort((a, b) => a.start - b.start);
  }

  private instancesStartingOn(day: number): readonly CompiledInstance[] {
    const cached = this.byDay.get(day);
    if (cached !== undefined) return cached;
    const built = this.nonWorking.has(day) ? [] : this.buildDay(day);
    if (this.byDay.size >= CACHE_DAYS) {
      const oldest = this.byDay.keys().next().value;
      if (oldest !== undefined) this.byDay.delete(oldest);
    }
    this.byDay.set(day, built);
    return built;
  }

  private buildDay(day: number): CompiledInstance[] {
    const weekday = WEEKDAY_NAMES[weekdayOf(day)]!;
    const date = dateOfDayNumber(day);
    const out: CompiledInstance[] = [];
    for (const shift of this.calendar.shifts) {
      if (!shift.days.includes(weekday)) continue;
      const startMs = clockMs(shift.start);
      const endMsRaw = clockMs(shift.end);
      // end at or before start: the shift ends the next day (equal: a 24 h shift)
      const endMs = endMsRaw <= startMs ? endMsRaw + DAY_MS : endMsRaw;
      const start = this.instant(day, startMs);
      const end = this.instant(day, endMs);
      const breaks: Interval[] = [];
      for (const b of shift.breaks) {
        // a break clock time before the shift's start belongs to the shift's second day
        const clockStart = clockMs(b.start);
        const bStart = clockStart < startMs ? clockStart + DAY_MS : clockStart;
        const bEnd = bStart + mod(clockMs(b.end) - clockStart, DAY_MS);
        const from = Math.max(start, this.instant(day, bStart));
        const to = Math.min(end, this.instant(day, bEnd));
        if (to > from) breaks.push({ from, to });
      }
      out.push({ id: `${shift.id}@${date}`, shiftId: shift.id, date, start, end, breaks });
    }
    return out;
  }

  /** instant of local day `day` + `msOfDay` (which may run into the next days) */
  private instant(day: number, msOfDay: number): number {
    const extraDays = Math.floor(msOfDay / DAY_MS);
    return instantOf(day + extraDays, msOfDay - extraDays * DAY_MS, this.timeZone);
  }
}

const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

function publicInstance(inst: CompiledInstance): ShiftInstance {
  return { id: inst.id, shiftId: inst.shiftId, date: inst.date, start: inst.start, end: inst.end };
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
