import { describe, expect, it } from 'vitest';
import { Calendar, type PlantConfigInput } from '../../config/schema.js';
import {
  formatLocalIso,
  instantOf,
  offsetAt,
  parseLocalDateTime,
  resolveWindow,
  ShiftCalendar,
  startOfLocalDay,
} from '../../gateway/core/index.js';

const H = 3_600_000;
const MIN = 60_000;

const cal = (input: PlantConfigInput['calendars'][number]) => Calendar.parse(input);

const dayOf = (date: string) =>
  Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / 86_400_000;

describe('zoned time', () => {
  it('reads Hong Kong wall time (UTC+8, no DST)', () => {
    const t = Date.UTC(2025, 2, 3, 0, 0);
    expect(offsetAt(t, 'Asia/Hong_Kong')).toBe(8 * H);
    expect(formatLocalIso(t, 'Asia/Hong_Kong')).toBe('2025-03-03T08:00:00+08:00');
    expect(parseLocalDateTime('2025-03-03T08:00', 'Asia/Hong_Kong')).toBe(t);
    expect(parseLocalDateTime('2025-03-03T08:00:00+08:00', 'America/New_York')).toBe(t);
    expect(parseLocalDateTime('2025-03-03T00:00:00Z', 'Asia/Hong_Kong')).toBe(t);
    expect(startOfLocalDay(t + 5 * H, 'Asia/Hong_Kong')).toBe(Date.UTC(2025, 2, 2, 16, 0));
  });

  it('moves a wall time in the spring-forward gap forward, and takes the earlier of a repeated one', () => {
    // New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT
    expect(instantOf(dayOf('2024-03-10'), 2.5 * H, 'America/New_York')).toBe(Date.UTC(2024, 2, 10, 7, 30));
    expect(formatLocalIso(Date.UTC(2024, 2, 10, 7, 30), 'America/New_York')).toBe('2024-03-10T03:30:00-04:00');
    // 2024-11-03: 01:30 happens twice, first at EDT (05:30Z)
    expect(instantOf(dayOf('2024-11-03'), 1.5 * H, 'America/New_York')).toBe(Date.UTC(2024, 10, 3, 5, 30));
  });
});

describe('ShiftCalendar in Asia/Hong_Kong', () => {
  const calendar = new ShiftCalendar(
    cal({
      id: 'two-shift',
      shifts: [
        {
          id: 'day',
          start: '07:00',
          end: '19:00',
          days: ['mon', 'tue', 'wed', 'thu', 'fri'],
          breaks: [{ start: '12:00', end: '13:00' }],
        },
        {
          id: 'night',
          start: '22:00',
          end: '06:00',
          days: ['mon', 'tue', 'wed', 'thu', 'fri'],
          breaks: [{ start: '02:00', end: '02:30' }],
        },
      ],
      nonWorkingDays: ['2025-03-05'],
      plannedStops: [
        { from: '2025-03-04T09:00', to: '2025-03-04T10:30', reason: 'maintenance' },
        { from: '2025-03-04T15:00', to: '2025-03-04T16:00', reason: 'changeover', lines: ['other-line'] },
      ],
    }),
    'Asia/Hong_Kong',
    { lineId: 'L1' },
  );
  const hk = (date: string, clock: string) => parseLocalDateTime(`${date}T${clock}`, 'Asia/Hong_Kong');

  it('gives the shift instance containing a time, across midnight', () => {
    expect(calendar.shiftAt(hk('2025-03-03', '10:00'))).toEqual({
      id: 'day@2025-03-03',
      shiftId: 'day',
      date: '2025-03-03',
      start: hk('2025-03-03', '07:00'),
      end: hk('2025-03-03', '19:00'),
    });
    // 03:00 on Tuesday belongs to Monday's night shift
    const night = calendar.shiftAt(hk('2025-03-04', '03:00'))!;
    expect(night.id).toBe('night@2025-03-03');
    expect(night.end - night.start).toBe(8 * H);
    expect(calendar.shiftAt(hk('2025-03-03', '20:00'))).toBeNull();
  });

  it('gives the previous shift instance', () => {
    expect(calendar.previousShift(hk('2025-03-04', '10:00'))!.id).toBe('night@2025-03-03');
    expect(calendar.previousShift(hk('2025-03-04', '03:00'))!.id).toBe('day@2025-03-03');
    // between shifts: the last one that started
    expect(calendar.previousShift(hk('2025-03-03', '20:00'))!.id).toBe('day@2025-03-03');
    // Monday morning: Friday's night shift, across the weekend
    expect(calendar.previousShift(hk('2025-03-10', '08:00'))!.id).toBe('night@2025-03-07');
  });

  it('gives planned production time less breaks and planned stops', () => {
    expect(calendar.plannedMs(hk('2025-03-03', '00:00'), hk('2025-03-04', '00:00'))).toBe(
      11 * H + 2 * H /* night 22:00–24:00 */,
    );
    // Monday's night shift: 8 h less a 30 min break
    expect(calendar.plannedMs(hk('2025-03-03', '22:00'), hk('2025-03-04', '06:00'))).toBe(7.5 * H);
    // Tuesday's day shift: 12 h − 1 h break − 1.5 h maintenance; the changeover is for another line
    expect(calendar.plannedMs(hk('2025-03-04', '07:00'), hk('2025-03-04', '19:00'))).toBe(9.5 * H);
  });

  it('skips shifts that start on a non-working day, and weekends', () => {
    expect(calendar.shiftAt(hk('2025-03-05', '10:00'))).toBeNull();
    // Tuesday's night shift runs into the holiday and still happens
    expect(calendar.shiftAt(hk('2025-03-05', '03:00'))!.id).toBe('night@2025-03-04');
    // the weekend holds only the tail of Friday's night shift (00:00–06:00 less its break)
    expect(calendar.plannedMs(hk('2025-03-08', '00:00'), hk('2025-03-10', '00:00'))).toBe(5.5 * H);
    expect(calendar.plannedMs(hk('2025-03-08', '06:00'), hk('2025-03-10', '00:00'))).toBe(0);
  });

  it('gives consecutive segments that cover the interval exactly', () => {
    const from = hk('2025-03-04', '06:00');
    const to = hk('2025-03-04', '14:00');
    const segments = calendar.segments(from, to);
    expect(segments.map((s) => [formatLocalIso(s.from, 'Asia/Hong_Kong').slice(11, 16), s.status, s.reason])).toEqual([
      ['06:00', 'off-shift', undefined],
      ['07:00', 'planned', undefined],
      ['09:00', 'planned-stop', 'maintenance'],
      ['10:30', 'planned', undefined],
      ['12:00', 'break', undefined],
      ['13:00', 'planned', undefined],
    ]);
    expect(segments[0]!.from).toBe(from);
    expect(segments.at(-1)!.to).toBe(to);
  });

  it('resolves the windows', () => {
    const now = hk('2025-03-04', '10:00');
    expect(resolveWindow({ kind: 'current-shift' }, now, calendar)).toEqual({
      kind: 'current-shift',
      from: hk('2025-03-04', '07:00'),
      to: hk('2025-03-04', '19:00'),
      shiftId: 'day@2025-03-04',
    });
    expect(resolveWindow({ kind: 'previous-shift' }, now, calendar)!.shiftId).toBe('night@2025-03-03');
    expect(resolveWindow({ kind: 'today' }, now, calendar)).toMatchObject({
      from: hk('2025-03-04', '00:00'),
      to: hk('2025-03-05', '00:00'),
    });
    expect(resolveWindow({ kind: 'last-hour' }, now + 30_000, calendar)).toMatchObject({
      from: now - H,
      to: now + 30_000,
    });
    expect(resolveWindow({ kind: 'range', from: now + 1, to: now + 61_000 }, now, calendar)).toMatchObject({
      from: now,
      to: now + 2 * MIN,
    });
    expect(resolveWindow({ kind: 'current-shift' }, hk('2025-03-04', '20:00'), calendar)).toBeNull();
  });
});

describe('ShiftCalendar across daylight saving time', () => {
  const night = (tz: string) =>
    new ShiftCalendar(
      cal({
        id: 'night',
        shifts: [{ id: 'night', start: '22:00', end: '06:00', breaks: [{ start: '02:00', end: '02:30' }] }],
      }),
      tz,
    );

  it('has a night shift 1 h shorter when clocks go forward (Europe/London, 2025-03-30)', () => {
    const c = night('Europe/London');
    const shift = c.shiftAt(Date.UTC(2025, 2, 30, 0, 0))!;
    expect(shift.id).toBe('night@2025-03-29');
    expect(shift.start).toBe(Date.UTC(2025, 2, 29, 22, 0)); // 22:00 GMT
    expect(shift.end).toBe(Date.UTC(2025, 2, 30, 5, 0)); // 06:00 BST
    expect(shift.end - shift.start).toBe(7 * H);
    // the 01:00–02:00 hour does not exist: the 02:00 break starts at 02:00 BST
    expect(c.plannedMs(shift.start, shift.end)).toBe(6.5 * H);
    // an ordinary night
    const before = c.shiftAt(Date.UTC(2025, 2, 23, 0, 0))!;
    expect(before.end - before.start).toBe(8 * H);
  });

  it('has a night shift 1 h longer when clocks go back (Europe/London, 2025-10-26)', () => {
    const c = night('Europe/London');
    const shift = c.shiftAt(Date.UTC(2025, 9, 26, 0, 0))!;
    expect(shift.id).toBe('night@2025-10-25');
    expect(shift.end - shift.start).toBe(9 * H);
    expect(c.plannedMs(shift.start, shift.end)).toBe(8.5 * H);
  });

  it('has the same in America/New_York (2024-03-10 and 2024-11-03)', () => {
    const c = night('America/New_York');
    const spring = c.shiftAt(Date.UTC(2024, 2, 10, 6, 0))!;
    expect(spring.id).toBe('night@2024-03-09');
    expect(spring.end - spring.start).toBe(7 * H);
    const fall = c.shiftAt(Date.UTC(2024, 10, 3, 6, 0))!;
    expect(fall.id).toBe('night@2024-11-02');
    expect(fall.end - fall.start).toBe(9 * H);
  });

  it('has a 23 h and a 25 h "today" on the change days', () => {
    const c = night('Europe/London');
    const spring = resolveWindow({ kind: 'today' }, Date.UTC(2025, 2, 30, 12, 0), c)!;
    expect(spring.to - spring.from).toBe(23 * H);
    const fall = resolveWindow({ kind: 'today' }, Date.UTC(2025, 9, 26, 12, 0), c)!;
    expect(fall.to - fall.from).toBe(25 * H);
  });
});
