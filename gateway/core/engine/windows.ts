/**
 * The windows metrics are asked for, resolved to instants with the entity's
 * shift calendar. Windows are whole minutes (the bucket size); the data of
 * an open window reaches `now`.
 */
import type { ShiftCalendar } from '../calendar/shift-calendar.js';
import { instantOf, localDayNumber } from '../calendar/zoned-time.js';
import type { WindowKind } from '../metrics/metrics-record.js';
import { ceilMinute, floorMinute, HOUR_MS } from '../model.js';

/**
 * - `current-shift`: the shift instance containing `now` (none between shifts)
 * - `previous-shift`: the shift before it (between shifts: the last one that started)
 * - `last-hour`: the last 60 whole minutes and the current, unfinished minute
 * - `today`: from site-local midnight
 * - `range`: any `[from, to)`, widened to whole minutes
 */
export type WindowSpec =
  | { readonly kind: 'current-shift' }
  | { readonly kind: 'previous-shift' }
  | { readonly kind: 'last-hour' }
  | { readonly kind: 'today' }
  | { readonly kind: 'range'; readonly from: number; readonly to: number };

export interface ResolvedWindow {
  readonly kind: WindowKind;
  readonly from: number;
  readonly to: number;
  readonly shiftId: string | null;
}

export function resolveWindow(spec: WindowSpec, now: number, calendar: ShiftCalendar): ResolvedWindow | null {
  switch (spec.kind) {
    case 'current-shift':
    case 'previous-shift': {
      const shift = spec.kind === 'current-shift' ? calendar.shiftAt(now) : calendar.previousShift(now);
      if (shift === null) return null;
      return { kind: spec.kind, from: floorMinute(shift.start), to: ceilMinute(shift.end), shiftId: shift.id };
    }
    case 'last-hour': {
      const from = floorMinute(now) - HOUR_MS;
      return { kind: 'last-hour', from, to: now, shiftId: null };
    }
    case 'today': {
      const day = localDayNumber(now, calendar.timeZone);
      const from = instantOf(day, 0, calendar.timeZone);
      const to = instantOf(day + 1, 0, calendar.timeZone);
      return { kind: 'today', from, to, shiftId: null };
    }
    case 'range':
      return { kind: 'range', from: floorMinute(spec.from), to: ceilMinute(spec.to), shiftId: null };
  }
}
