/** How values and ages read on the dashboard. */
import type { MachineStateName } from '../../gateway/server/contract.js';
import type { Lang, Translate } from './i18n.js';

const INTEGER_TYPES = new Set(['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

const formatters = new Map<string, Intl.NumberFormat>();
function numberFormat(lang: Lang, decimals: number): Intl.NumberFormat {
  const key = `${lang}:${decimals}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.NumberFormat(lang, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    formatters.set(key, f);
  }
  return f;
}

/**
 * Decimals by magnitude, fixed per magnitude so digits do not jump while a
 * value moves: counters and other whole numbers of integer tags show none,
 * everything else 1 to 3.
 */
export function decimalsFor(value: number, type: string | null): number {
  if (Number.isInteger(value) && (type === null || INTEGER_TYPES.has(type))) return 0;
  const abs = Math.abs(value);
  if (abs >= 100) return 1;
  if (abs >= 1) return 2;
  return 3;
}

export function formatValue(value: unknown, type: string | null, lang: Lang, t: Translate): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return t(value ? 'bool.true' : 'bool.false');
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return numberFormat(lang, decimalsFor(value, type)).format(value);
  }
  return String(value);
}

/** a machine state tag's raw value → its state, when the config maps it */
export function machineState(
  value: unknown,
  stateMap: Readonly<Record<string, MachineStateName>> | null,
): MachineStateName | 'unmapped' | null {
  if (!stateMap || value === null || value === undefined) return null;
  const raw = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  return stateMap[raw] ?? 'unmapped';
}

export function formatAge(ageMs: number | null, t: Translate): string {
  if (ageMs === null) return t('age.never');
  const s = Math.max(0, Math.floor(ageMs / 1000));
  if (s < 1) return t('age.now');
  if (s < 60) return t('age.s', { n: s });
  const min = Math.floor(s / 60);
  if (min < 60) return t('age.min', { n: min });
  const h = Math.floor(min / 60);
  if (h < 48) return t('age.h', { n: h });
  return t('age.d', { n: Math.floor(h / 24) });
}

const cachedFormats = new Map<string, Intl.NumberFormat>();
function cached(key: string, make: () => Intl.NumberFormat): Intl.NumberFormat {
  let f = cachedFormats.get(key);
  if (!f) {
    f = make();
    cachedFormats.set(key, f);
  }
  return f;
}

/** a ratio as a percentage with one decimal: 0.8534 → "85.3%" */
export function formatPercent(ratio: number, lang: Lang): string {
  return cached(
    `pct:${lang}`,
    () => new Intl.NumberFormat(lang, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  ).format(ratio);
}

/**
 * Three significant digits, for intensities whose magnitude depends on the
 * product (0.0523 kWh per unit, 12.4 kWh per unit): fixed decimals would show
 * "0.05" for one and noise for the other.
 */
export function formatSignificant(value: number, lang: Lang, digits = 3): string {
  if (value === 0)
    return cached(`int:${lang}`, () => new Intl.NumberFormat(lang, { maximumFractionDigits: 0 })).format(0);
  return cached(
    `sig${digits}:${lang}`,
    () => new Intl.NumberFormat(lang, { minimumSignificantDigits: digits, maximumSignificantDigits: digits }),
  ).format(value);
}

/** a whole count of units, grouped: 18848 → "18,848" */
export function formatCount(value: number, lang: Lang): string {
  return cached(`int:${lang}`, () => new Intl.NumberFormat(lang, { maximumFractionDigits: 0 })).format(value);
}

/**
 * How long something has lasted, precise to the second for the first hour
 * (it visibly ticks), then to the minute, then to the hour.
 */
export function formatDuration(ms: number, t: Translate): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return t('duration.s', { s });
  const min = Math.floor(s / 60);
  if (min < 60) return t('duration.ms', { m: min, s: s % 60 });
  const h = Math.floor(min / 60);
  if (h < 48) return t('duration.hm', { h, m: min % 60 });
  return t('duration.dh', { d: Math.floor(h / 24), h: h % 24 });
}

/** a period in the site's time zone, the date once when both ends share it: "Sat, 1 Mar, 07:00 – 19:00" */
export function formatPeriod(from: number, to: number, timeZone: string, lang: Lang): string {
  const f = new Intl.DateTimeFormat(lang, {
    timeZone,
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return to > from ? f.formatRange(from, to) : f.format(from);
}

/** a time of day in the site's time zone: "14:32" */
export function formatClock(ts: number, timeZone: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang, { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ts);
}
