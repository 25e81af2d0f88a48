/**
 * Dates and clock times in the site's time zone, whatever the tablet's own
 * zone is: a month, a day or a shift starts at the site's midnight or wall
 * clock. `Intl.DateTimeFormat` only, as the gateway's core does.
 */

const partFormats = new Map<string, Intl.DateTimeFormat>();

function partsFormat(timeZone: string): Intl.DateTimeFormat {
  let f = partFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    partFormats.set(timeZone, f);
  }
  return f;
}

export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** the wall clock in `timeZone` at an instant */
export function wallClock(ts: number, timeZone: string): WallClock {
  const out: Record<string, number> = {};
  for (const p of partsFormat(timeZone).formatToParts(ts)) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return {
    year: out.year ?? 1970,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: (out.hour ?? 0) % 24,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

/** how far the zone's wall clock is ahead of UTC at an instant, ms */
export function zoneOffsetMs(ts: number, timeZone: string): number {
  const w = wallClock(ts, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ts / 1000) * 1000;
}

/**
 * The instant a wall-clock time happens in the zone. A time skipped by a
 * clock change moves forward by the gap; a repeated one takes the earlier
 * instant (as the gateway's calendar does).
 */
export function zonedInstant(year: number, month: number, day: number, timeZone: string, hour = 0, minute = 0): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  const before = asUtc - zoneOffsetMs(asUtc - 86_400_000, timeZone);
  const after = asUtc - zoneOffsetMs(asUtc + 86_400_000, timeZone);
  const candidates = [before, after].filter((t) => zoneOffsetMs(t, timeZone) === asUtc - t).sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0]!;
  // skipped: the wall time does not exist; the later offset moves it forward by the gap
  return Math.max(before, after);
}

export interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `2025-03-01` → its parts, or null when it is not a real date */
export function parseDate(text: string): LocalDate | null {
  const m = DATE_RE.exec(text.trim());
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return { year, month, day };
}

export function formatDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** the site-local date of an instant */
export function localDate(ts: number, timeZone: string): LocalDate {
  const w = wallClock(ts, timeZone);
  return { year: w.year, month: w.month, day: w.day };
}

/** a date moved by whole days (calendar arithmetic, no time zone involved) */
export function addDays(d: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** the site's midnight starting a date */
export function startOfDate(d: LocalDate, timeZone: string): number {
  return zonedInstant(d.year, d.month, d.day, timeZone);
}
