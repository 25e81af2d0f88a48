/**
 * CSV that spreadsheets open without an import dialog: UTF-8 with a byte
 * order mark (without it Excel reads the file in the system's code page),
 * CRLF line ends, RFC 4180 quoting, numbers with a dot decimal separator and
 * never in exponent notation, and text that a spreadsheet would run as a
 * formula made inert. Pure: no I/O.
 */
import { offsetAt } from '../core/index.js';

export const CSV_BOM = '\uFEFF';
export const CSV_EOL = '\r\n';

/** A number already written as CSV text (digits, '-', '.'): written as it is, never treated as text. */
export class CsvNumber {
  constructor(readonly text: string) {}
}

export type CsvCell = string | number | boolean | null | undefined | CsvNumber;

/**
 * Text a spreadsheet may read as a formula (OWASP "CSV injection"): `=`, `+`,
 * `-`, `@`, tab and carriage return, and the full-width `＝＋－＠` some
 * locales also accept.
 */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One text cell. Text starting like a formula gets a leading apostrophe and
 * is quoted, so a spreadsheet shows it as text and never evaluates it (the
 * apostrophe stays visible: what was stored is still readable). Text with a
 * comma, a double quote or a line break is quoted, quotes doubled.
 */
export function csvText(text: string): string {
  let s = text;
  let quote = NEEDS_QUOTES.test(s);
  if (FORMULA_START.test(s)) {
    s = `'${s}`;
    quote = true;
  }
  return quote ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * A number as plain decimal text with a dot, every significant digit kept and
 * no exponent (1e-7 → 0.0000001); empty for NaN and infinities.
 */
export function plainNumber(n: number): string {
  if (!Number.isFinite(n)) return '';
  if (n === 0) return '0';
  const s = String(n);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const negative = s.startsWith('-');
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exponent = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}

/** `x` rounded to `places` decimals, trailing zeros dropped; null for null and non-finite numbers. */
export function decimal(x: number | null | undefined, places: number): CsvNumber | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  return new CsvNumber(plainNumber(Number(x.toFixed(places))));
}

export function csvCell(cell: CsvCell): string {
  if (cell === null || cell === undefined) return '';
  if (cell instanceof CsvNumber) return cell.text;
  if (typeof cell === 'number') return plainNumber(cell);
  if (typeof cell === 'boolean') return cell ? 'true' : 'false';
  return csvText(cell);
}

/** One record: cells separated by commas, ended by CRLF. */
export function csvRow(cells: readonly CsvCell[]): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) out += ',';
    out += csvCell(cells[i]);
  }
  return out + CSV_EOL;
}

const QUARTER_HOUR_MS = 900_000;
const p2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * ISO 8601 date-times with the UTC offset of a timezone in force at each
 * instant (`2025-10-26T01:30:00+01:00`, then `…01:30:00+00:00` an hour later).
 * Fast for long runs of instants: every offset in use today is a multiple of
 * 15 minutes, so offsets change only on whole UTC quarter hours and one
 * timezone lookup serves a whole quarter hour.
 */
export class LocalTimeFormatter {
  private slot = Number.NaN;
  private offsetMs = 0;

  constructor(readonly timeZone: string) {}

  /** offset from UTC in ms at `t` */
  offset(t: number): number {
    const slot = Math.floor(t / QUARTER_HOUR_MS);
    if (slot !== this.slot) {
      this.offsetMs = offsetAt(slot * QUARTER_HOUR_MS, this.timeZone);
      this.slot = slot;
    }
    return this.offsetMs;
  }

  /** `YYYY-MM-DDTHH:MM:SS[.mmm]±HH:MM`; milliseconds with `withMs` */
  format(t: number, withMs = false): string {
    const offset = this.offset(t);
    const d = new Date(t + offset);
    const year = d.getUTCFullYear();
    let out = `${String(year).padStart(4, '0')}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
    if (withMs) out += `.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
    const minutes = Math.round(offset / 60_000);
    const abs = Math.abs(minutes);
    return `${out}${minutes < 0 ? '-' : '+'}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`;
  }
}

/** `attachment; filename="…"` for a name of letters, digits, '.', '_' and '-' (others become '_'). */
export function attachment(filename: string): string {
  return `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}
