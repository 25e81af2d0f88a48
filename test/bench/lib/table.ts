/** A plain-text table for benchmark output: right-aligned numbers, left-aligned text. */

export type Cell = string | number | boolean | null | undefined;

export interface Column {
  readonly key: string;
  readonly title?: string;
  /** digits after the point for numbers (default: 0 for integers, 1 otherwise) */
  readonly digits?: number;
}

function format(value: unknown, digits: number | undefined): string {
  if (value === null || value === undefined) return '–';
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  const d = digits ?? (Number.isInteger(value) ? 0 : 1);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** The table as text; columns default to the keys of the first row. Any object is a row. */
export function renderTable(rows: readonly object[], columns?: readonly Column[]): string {
  const cells = rows as ReadonlyArray<Record<string, unknown>>;
  const cols: readonly Column[] = columns ?? Object.keys(cells[0] ?? {}).map((key) => ({ key }));
  const header = cols.map((c) => c.title ?? c.key);
  const body = cells.map((row) => cols.map((c) => format(row[c.key], c.digits)));
  const numeric = cols.map((c) => cells.every((r) => typeof r[c.key] !== 'string'));
  const widths = cols.map((_, i) => Math.max(header[i]!.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function printTable(rows: readonly object[], columns?: readonly Column[]): void {
  console.log(renderTable(rows, columns));
}
