/**
 * How chart axes and readouts print numbers and times: per language, in the
 * site's time zone, with as many decimals as the axis step needs.
 */
import type { Lang } from '../i18n.js';
import { wallClock } from '../site-time.js';

const DAY_MS = 86_400_000;

/** decimals that tell ticks `step` apart: 0.25 → 2, 5 → 0 */
export function stepDecimals(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
}

const numberFormats = new Map<string, Intl.NumberFormat>();
export function fixed(value: number, decimals: number, lang: Lang): string {
  const key = `${lang}:${decimals}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(lang, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    numberFormats.set(key, f);
  }
  return f.format(value);
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();
function timeFormat(lang: Lang, timeZone: string, kind: 'date' | 'hm' | 'hms' | 'full'): Intl.DateTimeFormat {
  const key = `${lang}:${timeZone}:${kind}`;
  let f = timeFormats.get(key);
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      kind === 'date'
        ? { timeZone, month: 'numeric', day: 'numeric' }
        : kind === 'hm'
          ? { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
          : kind === 'hms'
            ? { timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }
            : {
                timeZone,
                month: 'short',
                day: 'numeric',
                hour: '2-digit',
                minute: '2-digit',
                second: '2-digit',
                hourCycle: 'h23',
              };
    f = new Intl.DateTimeFormat(lang, opts);
    timeFormats.set(key, f);
  }
  return f;
}

/** an axis tick: the date for day steps and at midnight, else the clock to the minute (or second) */
export function timeTick(ts: number, stepMs: number, lang: Lang, timeZone: string): string {
  if (stepMs >= DAY_MS) return timeFormat(lang, timeZone, 'date').format(ts);
  const w = wallClock(ts, timeZone);
  if (w.hour === 0 && w.minute === 0 && w.second === 0 && stepMs >= 60_000) {
    return timeFormat(lang, timeZone, 'date').format(ts);
  }
  return timeFormat(lang, timeZone, stepMs < 60_000 ? 'hms' : 'hm').format(ts);
}

/** a moment in a readout: "22 Nov, 14:32:05" */
export function timeFull(ts: number, lang: Lang, timeZone: string): string {
  return timeFormat(lang, timeZone, 'full').format(ts);
}

/** a clock time: "14:32" */
export function timeHm(ts: number, lang: Lang, timeZone: string): string {
  return timeFormat(lang, timeZone, 'hm').format(ts);
}
