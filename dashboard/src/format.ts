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
