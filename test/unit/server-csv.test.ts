import { describe, expect, it } from 'vitest';
import {
  attachment,
  CSV_BOM,
  CSV_EOL,
  CsvNumber,
  csvCell,
  csvRow,
  csvText,
  decimal,
  LocalTimeFormatter,
  plainNumber,
} from '../../gateway/server/csv.js';
import { factorYear, nextPeriodStart, periodsOf } from '../../gateway/server/energy-export.js';

/** an RFC 4180 reader, to check what the writer writes reads back as it was meant */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

describe('csv: text cells', () => {
  it('leaves plain text alone', () => {
    expect(csvText('Line 1 · 注塑')).toBe('Line 1 · 注塑');
    expect(csvText('')).toBe('');
  });

  it('quotes commas, quotes and line breaks (RFC 4180), doubling quotes', () => {
    expect(csvText('a,b')).toBe('"a,b"');
    expect(csvText('say "hi"')).toBe('"say ""hi"""');
    expect(csvText('two\nlines')).toBe('"two\nlines"');
    expect(csvText('cr\rhere')).toBe('"cr\rhere"');
  });

  it('makes text that starts like a formula inert: apostrophe, quoted', () => {
    expect(csvText('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvText('+1')).toBe(`"'+1"`);
    expect(csvText('-2+3')).toBe(`"'-2+3"`);
    expect(csvText('@SUM(A1)')).toBe(`"'@SUM(A1)"`);
    expect(csvText('\t=1')).toBe(`"'\t=1"`);
    expect(csvText('\r=1')).toBe(`"'\r=1"`);
    expect(csvText('＝1+1')).toBe(`"'＝1+1"`);
    // only the first character matters
    expect(csvText('a=1')).toBe('a=1');
    expect(csvText(' =1')).toBe(' =1');
  });

  it('writes numbers as numbers: a negative number is never prefixed', () => {
    expect(csvCell(-5.25)).toBe('-5.25');
    expect(csvCell(new CsvNumber('-0.5'))).toBe('-0.5');
    expect(csvCell('-5.25')).toBe(`"'-5.25"`);
  });

  it('writes booleans, null and undefined', () => {
    expect(csvCell(true)).toBe('true');
    expect(csvCell(false)).toBe('false');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
  });
});

describe('csv: numbers', () => {
  it('uses a dot and never an exponent', () => {
    expect(plainNumber(1234.5)).toBe('1234.5');
    expect(plainNumber(1e-7)).toBe('0.0000001');
    expect(plainNumber(-1.5e-9)).toBe('-0.0000000015');
    expect(plainNumber(1.2345e-7)).toBe('0.00000012345');
    expect(plainNumber(1e21)).toBe('1000000000000000000000');
    expect(plainNumber(-2.5e22)).toBe('-25000000000000000000000');
    expect(plainNumber(123456789012)).toBe('123456789012');
    expect(plainNumber(-0)).toBe('0');
    expect(plainNumber(Number.NaN)).toBe('');
    expect(plainNumber(Number.POSITIVE_INFINITY)).toBe('');
  });

  it('reads back exactly', () => {
    for (const x of [0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, -123.456e-12, 2 ** 53 + 2]) {
      expect(Number(plainNumber(x))).toBe(x);
    }
  });

  it('rounds to a number of decimals, trailing zeros dropped', () => {
    expect(decimal(12.3456789, 3)?.text).toBe('12.346');
    expect(decimal(12.5, 6)?.text).toBe('12.5');
    expect(decimal(0.0000004, 6)?.text).toBe('0');
    expect(decimal(-0.0000004, 6)?.text).toBe('0');
    expect(decimal(0.000000123, 9)?.text).toBe('0.000000123');
    expect(decimal(null, 3)).toBeNull();
    expect(decimal(Number.NaN, 3)).toBeNull();
  });
});

describe('csv: rows', () => {
  it('separates cells with commas and ends records with CRLF', () => {
    expect(csvRow(['a', 1, null, true, 'b,c'])).toBe('a,1,,true,"b,c"\r\n');
    expect(CSV_EOL).toBe('\r\n');
    expect(CSV_BOM).toBe('\uFEFF');
  });

  it('round-trips through an RFC 4180 reader', () => {
    const cells = ['plain', 'a,b', 'say "hi"', 'two\r\nlines', '', '=1+1', 'x'];
    const text = csvRow(cells) + csvRow(['second', 'row']);
    const rows = parseCsv(text);
    expect(rows).toEqual([
      ['plain', 'a,b', 'say "hi"', 'two\r\nlines', '', "'=1+1", 'x'],
      ['second', 'row'],
    ]);
  });

  it('names attachments safely', () => {
    expect(attachment('greenline-energy-works-2025-03-01-2025-03-31.csv')).toBe(
      'attachment; filename="greenline-energy-works-2025-03-01-2025-03-31.csv"',
    );
    expect(attachment('a"b\r\n.csv')).toBe('attachment; filename="a_b__.csv"');
  });
});

describe('csv: site-local date-times', () => {
  it('writes the offset in force at each instant (London, autumn change)', () => {
    const f = new LocalTimeFormatter('Europe/London');
    const t = Date.parse('2025-10-26T00:30:00Z'); // 01:30 BST
    expect(f.format(t)).toBe('2025-10-26T01:30:00+01:00');
    expect(f.format(t + 3_600_000)).toBe('2025-10-26T01:30:00+00:00');
    expect(f.format(t + 3_600_000 + 123, true)).toBe('2025-10-26T01:30:00.123+00:00');
  });

  it('handles half-hour and negative offsets', () => {
    expect(new LocalTimeFormatter('Asia/Kolkata').format(Date.parse('2025-03-01T00:00:00Z'))).toBe(
      '2025-03-01T05:30:00+05:30',
    );
    expect(new LocalTimeFormatter('America/New_York').format(Date.parse('2025-03-09T07:00:00.005Z'), true)).toBe(
      '2025-03-09T03:00:00.005-04:00',
    );
    expect(new LocalTimeFormatter('Asia/Hong_Kong').format(Date.parse('2024-12-31T16:00:00Z'))).toBe(
      '2025-01-01T00:00:00+08:00',
    );
  });
});

describe('energy export periods', () => {
  const hours = (from: string, to: string, tz: string) => [...periodsOf(Date.parse(from), Date.parse(to), 'hour', tz)];

  it('a spring-forward day has 23 hours, an autumn day 25 (Europe/London)', () => {
    const spring = hours('2025-03-30T00:00:00Z', '2025-03-30T23:00:00Z', 'Europe/London');
    expect(spring).toHaveLength(23);
    const autumn = hours('2025-10-25T23:00:00Z', '2025-10-27T00:00:00Z', 'Europe/London');
    expect(autumn).toHaveLength(25);
    for (const p of [...spring, ...autumn]) expect(p.to - p.from).toBe(3_600_000);
  });

  it('local hours in a half-hour zone start at :30 UTC', () => {
    const p = hours('2025-03-01T00:00:00Z', '2025-03-01T02:00:00Z', 'Asia/Kolkata');
    expect(p.map((x) => new Date(x.from).toISOString())).toEqual([
      '2025-03-01T00:00:00.000Z',
      '2025-03-01T00:30:00.000Z',
      '2025-03-01T01:30:00.000Z',
    ]);
  });

  it('days and months follow the site calendar and cut the range at its ends', () => {
    const tz = 'Europe/London';
    const days = [...periodsOf(Date.parse('2025-03-29T12:00:00Z'), Date.parse('2025-04-01T00:00:00Z'), 'day', tz)];
    expect(days.map((d) => (d.to - d.from) / 3_600_000)).toEqual([12, 23, 24, 1]);
    const months = [
      ...periodsOf(Date.parse('2025-01-15T00:00:00Z'), Date.parse('2025-04-01T00:00:00+01:00'), 'month', tz),
    ];
    expect(months.map((m) => new Date(m.from).toISOString())).toEqual([
      '2025-01-15T00:00:00.000Z',
      '2025-02-01T00:00:00.000Z',
      '2025-03-01T00:00:00.000Z',
    ]);
    expect(nextPeriodStart(Date.parse('2025-12-31T23:59:00Z'), 'month', 'Asia/Hong_Kong')).toBe(
      Date.parse('2026-01-31T16:00:00Z'),
    );
  });

  it('takes a factor year from its source, else from its first day', () => {
    expect(factorYear('CLP Power 2019 (demo value)', '2020-01-01')).toBe('2019');
    expect(factorYear('Hong Kong government default', '2023-01-01')).toBe('2023');
    expect(factorYear('REC 2024/2025 contract', '2024-07-01')).toBe('2025');
  });
});
