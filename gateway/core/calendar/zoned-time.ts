/**
 * Wall-clock time in an IANA timezone, with nothing but `Intl.DateTimeFormat`.
 *
 * Local dates are handled as "day numbers" (days since 1970-01-01 on the
 * proleptic Gregorian calendar, no timezone): plain integers that add and
 * compare without DST surprises. Only the step between a local wall time and an
 * instant goes through the timezone database.
 */
import { DAY_MS } from '../model.js';

export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock reading at instant `t` in `timeZone` (seconds precision). */
export function localDateTime(t: number, timeZone: string): LocalDateTime {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const part of formatter(timeZone).formatToParts(t)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value);
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
    }
  }
  return { year, month, day, hour, minute, second };
}

/** Offset of `timeZone` from UTC at instant `t`, in ms (Hong Kong: +8 h). */
export function offsetAt(t: number, timeZone: string): number {
  const l = localDateTime(t, timeZone);
  const wall = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return wall - (t - mod(t, 1000));
}

/**
 * The instant at which the wall clock of `timeZone` shows the given local time
 * (`msOfDay` after the start of day number `dayNumber`).
 *
 * A wall time that occurs twice (the repeated hour when clocks go back) gives the
 * earlier instant; one that does not exist (the skipped hour when clocks go
 * forward) moves forward by the gap, so 02:30 on a spring-forward night in
 * New York is 03:30 EDT. This is what people mean by "the shift starts at 02:30".
 */
export function instantOf(dayNumber: number, msOfDay: number, timeZone: string): number {
  const wall = dayNumber * DAY_MS + msOfDay;
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  let best: number | undefined;
  for (const offset of before === after ? [before] : [before, after]) {
    const t = wall - offset;
    if (offsetAt(t, timeZone) === offset && (best === undefined || t < best)) best = t;
  }
  return best ?? wall - before;
}

/** Day number of the local date at instant `t`. */
export function localDayNumber(t: number, timeZone: string): number {
  const l = localDateTime(t, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day) / DAY_MS;
}

/** Start of the local day containing `t` (local midnight, or the first instant of the day when midnight is skipped). */
export function startOfLocalDay(t: number, timeZone: string): number {
  return instantOf(localDayNumber(t, timeZone), 0, timeZone);
}

/** Day number of a `YYYY-MM-DD` date. */
export function dayNumberOf(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (m === null) throw new RangeError(`not a date YYYY-MM-DD: "${date}"`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}

/** `YYYY-MM-DD` of a day number. */
export function dateOfDayNumber(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

/** 0 = Monday … 6 = Sunday (1970-01-01, day 0, was a Thursday). */
export function weekdayOf(dayNumber: number): number {
  return mod(dayNumber + 3, 7);
}

/** ms after midnight of an `HH:MM` clock time */
export function clockMs(clock: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(clock);
  if (m === null) throw new RangeError(`not a clock time HH:MM: "${clock}"`);
  return (Number(m[1]) * 60 + Number(m[2])) * 60_000;
}

/**
 * An ISO 8601 date or date-time as the config writes them. With an offset
 * (`Z`, `+08:00`) it is an instant; without, it is a wall time in `timeZone`.
 * A bare date is the start of that local day.
 */
export function parseLocalDateTime(text: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (m === null) throw new RangeError(`not a date or date-time: "${text}"`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, zone] = m;
  const msOfDay =
    ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + (frac ? Math.round(Number(frac) * 1000) : 0);
  const dayNumber = Date.UTC(Number(y), Number(mo) - 1, Number(d)) / DAY_MS;
  if (zone === undefined) return instantOf(dayNumber, msOfDay, timeZone);
  const offsetMin =
    zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return dayNumber * DAY_MS + msOfDay - offsetMin * 60_000;
}

/** ISO 8601 with the site's offset, e.g. `2025-03-01T08:00:00+08:00`: what people and auditors read. */
export function formatLocalIso(t: number, timeZone: string): string {
  const l = localDateTime(t, timeZone);
  const offMin = Math.round(offsetAt(t, timeZone) / 60_000);
  const sign = offMin < 0 ? '-' : '+';
  const abs = Math.abs(offMin);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return (
    `${String(l.year).padStart(4, '0')}-${p2(l.month)}-${p2(l.day)}T${p2(l.hour)}:${p2(l.minute)}:${p2(l.second)}` +
    `${sign}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`
  );
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
