/**
 * How samples are laid out in SQLite. A sample is one row of `samples`:
 *
 * | value kind | value      | value_text          |
 * |------------|------------|---------------------|
 * | number     | the number | NULL                |
 * | boolean    | 1 / 0      | 'true' / 'false'    |
 * | string     | NULL       | the string          |
 * | null       | NULL       | NULL                |
 *
 * Booleans keep a numeric value so they can be charted and averaged like 0/1,
 * and a text so they read back as booleans, not numbers.
 */

export type StoredQuality = 'good' | 'bad' | 'uncertain' | 'stale';
export type StoredValue = number | boolean | string | null;

/** What the store writes; the pipeline's ProcessedSample satisfies it. */
export interface StoredSample {
  readonly tagId: string;
  /** ms since epoch */
  readonly ts: number;
  readonly value: StoredValue;
  readonly quality: StoredQuality;
  readonly reason?: string;
}

/** Minimal structured logger (pino-compatible). */
export interface StoreLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const QUALITY_CODE: Readonly<Record<StoredQuality, number>> = { good: 0, uncertain: 1, bad: 2, stale: 3 };
const QUALITY_BY_CODE: readonly StoredQuality[] = ['good', 'uncertain', 'bad', 'stale'];

export function qualityFromCode(code: number): StoredQuality {
  return QUALITY_BY_CODE[code] ?? 'bad';
}

export function decodeValue(value: number | null, text: string | null): StoredValue {
  if (text === null) return value;
  if (value === null) return text;
  return value !== 0;
}
