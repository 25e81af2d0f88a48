/**
 * What the energy & carbon page shows, decided without the DOM: the range
 * in site-local dates, the table rows by level with the reason for each
 * missing figure, the emission factors in force, and the export links. The
 * table and the CSV export cover the same range: whole site-local days from
 * the first date to the end of the last, cut at now by the gateway.
 */
import type { CarbonFactorView, MetricsOverview, MetricsRecord, PlantView } from '../../../gateway/server/contract.js';
import { apiPath } from '../api-path.js';
import { lineProcessTags } from '../detail/detail-model.js';
import type { MissingReason } from '../overview-model.js';
import { addDays, formatDate, type LocalDate, localDate, parseDate, startOfDate } from '../site-time.js';

export const RANGE_CHOICES = ['this-month', 'last-month', 'this-year', 'custom'] as const;
export type RangeChoice = (typeof RANGE_CHOICES)[number];
export const PERIODS = ['hour', 'day', 'month'] as const;
export type Period = (typeof PERIODS)[number];
export const LEVELS = ['site', 'line', 'machine'] as const;
export type EnergyLevel = (typeof LEVELS)[number];

/** the longest range the gateway computes or exports at once */
export const MAX_RANGE_DAYS = 400;

/** first and last day, both included, in the site's time zone */
export interface DateRange {
  readonly from: LocalDate;
  readonly to: LocalDate;
}

export type RangeProblem = 'bad-date' | 'order' | 'future' | 'too-long';

export type RangeResult =
  | { readonly range: DateRange; readonly problem: null }
  | { readonly range: null; readonly problem: RangeProblem };

/** The dates of a range choice as of `now` (site-local); custom dates are checked. */
export function rangeFor(
  choice: RangeChoice,
  now: number,
  timeZone: string,
  custom?: { readonly from: string; readonly to: string },
): RangeResult {
  const today = localDate(now, timeZone);
  switch (choice) {
    case 'this-month':
      return { range: { from: { ...today, day: 1 }, to: today }, problem: null };
    case 'last-month': {
      const firstOfThis = { ...today, day: 1 };
      const lastOfPrev = addDays(firstOfThis, -1);
      return { range: { from: { ...lastOfPrev, day: 1 }, to: lastOfPrev }, problem: null };
    }
    case 'this-year':
      return { range: { from: { year: today.year, month: 1, day: 1 }, to: today }, problem: null };
    case 'custom': {
      const from = parseDate(custom?.from ?? '');
      const to = parseDate(custom?.to ?? '');
      if (!from || !to) return { range: null, problem: 'bad-date' };
      if (formatDate(from) > formatDate(to)) return { range: null, problem: 'order' };
      if (formatDate(from) > formatDate(today)) return { range: null, problem: 'future' };
      if (daysIn({ from, to }) > MAX_RANGE_DAYS) return { range: null, problem: 'too-long' };
      return { range: { from, to }, problem: null };
    }
  }
}

export function daysIn(r: DateRange): number {
  return (
    Math.round(
      (Date.UTC(r.to.year, r.to.month - 1, r.to.day) - Date.UTC(r.from.year, r.from.month - 1, r.from.day)) /
        86_400_000,
    ) + 1
  );
}

/** [start of the first day, start of the day after the last) as instants */
export function rangeInstants(r: DateRange, timeZone: string): { readonly from: number; readonly to: number } {
  return { from: startOfDate(r.from, timeZone), to: startOfDate(addDays(r.to, 1), timeZone) };
}

/** GET /api/metrics for the range: the figures the table shows */
export function metricsPath(r: DateRange, timeZone: string): string {
  const { from, to } = rangeInstants(r, timeZone);
  return apiPath('api/metrics', { from, to });
}

// ---------- table ----------

export type Missing = MissingReason | 'not-metered';

export interface Cell {
  readonly value: number | null;
  readonly why: Missing | null;
}

export interface EnergyRow {
  readonly kind: 'site' | 'line' | 'machine';
  readonly id: string;
  readonly name: string;
  /** the line a machine belongs to */
  readonly lineName: string | null;
  /** the total of the rows above it (line level) */
  readonly total: boolean;
  readonly kwh: Cell;
  readonly units: Cell;
  readonly kwhPerUnit: Cell;
  readonly locationKg: Cell;
  readonly locationKgPerUnit: Cell;
  readonly marketKg: Cell;
  readonly marketKgPerUnit: Cell;
}

const cell = (value: number | null, why: () => Missing): Cell =>
  value === null || !Number.isFinite(value) ? { value: null, why: why() } : { value, why: null };

function recordRow(
  kind: 'line' | 'machine',
  id: string,
  name: string,
  lineName: string | null,
  r: MetricsRecord | null,
  ready: boolean,
): EnergyRow {
  if (!ready || r === null) {
    const none: Cell = { value: null, why: ready ? 'no-window' : 'not-ready' };
    return {
      kind,
      id,
      name,
      lineName,
      total: false,
      kwh: none,
      units: none,
      kwhPerUnit: none,
      locationKg: none,
      locationKgPerUnit: none,
      marketKg: none,
      marketKgPerUnit: none,
    };
  }
  const noMeter = r.kwh === null;
  const perUnit = (): Missing => (noMeter ? 'not-metered' : r.good === null ? 'no-counters' : 'no-good-units');
  const kg = (v: number | null) => cell(v, () => (noMeter ? 'not-metered' : 'no-location-factor'));
  return {
    kind,
    id,
    name,
    lineName,
    total: false,
    kwh: cell(r.kwh, () => 'not-metered'),
    units: cell(r.good, () => 'no-counters'),
    kwhPerUnit: cell(r.kwhPerGood, perUnit),
    locationKg: kg(r.kgCO2e.location),
    locationKgPerUnit: cell(r.kgCO2ePerGood.location, () =>
      noMeter ? 'not-metered' : r.kgCO2e.location === null ? 'no-location-factor' : perUnit(),
    ),
    marketKg: kg(r.kgCO2e.market),
    marketKgPerUnit: cell(r.kgCO2ePerGood.market, () =>
      noMeter ? 'not-metered' : r.kgCO2e.market === null ? 'no-location-factor' : perUnit(),
    ),
  };
}

function sum(cells: readonly Cell[], whyNone: Missing): Cell {
  const known = cells.filter((c) => c.value !== null);
  if (known.length === 0) return { value: null, why: cells[0]?.why ?? whyNone };
  return { value: known.reduce((s, c) => s + c.value!, 0), why: null };
}

function ratio(num: Cell, den: Cell): Cell {
  if (num.value === null) return num;
  if (den.value === null) return den;
  if (den.value <= 0) return { value: null, why: 'no-good-units' };
  return { value: num.value / den.value, why: null };
}

/** the site: its lines summed, as the energy export's site row */
export function siteRow(lines: readonly EnergyRow[], name: string, id: string, total: boolean): EnergyRow {
  const kwh = sum(
    lines.map((l) => l.kwh),
    'not-metered',
  );
  const units = sum(
    lines.map((l) => l.units),
    'no-counters',
  );
  const locationKg = sum(
    lines.map((l) => l.locationKg),
    'no-location-factor',
  );
  const marketKg = sum(
    lines.map((l) => l.marketKg),
    'no-location-factor',
  );
  return {
    kind: 'site',
    id,
    name,
    lineName: null,
    total,
    kwh,
    units,
    kwhPerUnit: ratio(kwh, units),
    locationKg,
    locationKgPerUnit: ratio(locationKg, units),
    marketKg,
    marketKgPerUnit: ratio(marketKg, units),
  };
}

/** The table for a level: the site alone, every line and their total, or every machine. */
export function energyRows(overview: MetricsOverview, level: EnergyLevel, plant: PlantView): EnergyRow[] {
  const lines = overview.lines.map((l) => recordRow('line', l.id, l.name, null, l.record, overview.ready));
  switch (level) {
    case 'site':
      return [siteRow(lines, plant.site.name, plant.site.id, false)];
    case 'line':
      return [...lines, siteRow(lines, plant.site.name, plant.site.id, true)];
    case 'machine':
      return overview.lines.flatMap((l) =>
        l.machines.map((m) => recordRow('machine', m.id, m.name, l.name, m.record, overview.ready)),
      );
  }
}

// ---------- emission factors ----------

/** The factors of the lines' carbon tables whose validity overlaps the range, once each. */
export function factorsInForce(plant: PlantView, r: DateRange): CarbonFactorView[] {
  const from = formatDate(r.from);
  const to = formatDate(r.to);
  const seen = new Set<string>();
  const out: CarbonFactorView[] = [];
  for (const line of plant.lines) {
    for (const f of line.carbonFactors ?? []) {
      if (f.from > to || (f.to !== null && f.to < from)) continue;
      const key = `${f.table}|${f.from}|${f.method}|${f.kgCO2ePerKwh}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(f);
    }
  }
  return out.sort((a, b) => (a.method === b.method ? a.from.localeCompare(b.from) : a.method === 'location' ? -1 : 1));
}

// ---------- exports ----------

export function energyCsvPath(r: DateRange, period: Period, level: EnergyLevel): string {
  return apiPath('api/export/energy.csv', { from: formatDate(r.from), to: formatDate(r.to), period, level });
}

/** the meters' readings: every tag of the lines' and machines' energy meters, at most the 100 the export takes */
export function meterTagIds(plant: PlantView): string[] {
  const ids: string[] = [];
  const add = (id: string) => {
    if (!ids.includes(id)) ids.push(id);
  };
  for (const line of plant.lines) {
    for (const tag of lineProcessTags(plant, line.id)) add(tag.id);
    for (const m of line.machines) {
      for (const r of m.tags) if (r.role === 'energyKwh' || r.role === 'energyKw') add(r.tagId);
    }
  }
  return ids.slice(0, 100);
}

export function tagsCsvPath(tags: readonly string[], r: DateRange, resolution: 'raw' | '1m'): string {
  return apiPath('api/export/tags.csv', {
    tags: tags.join(','),
    from: formatDate(r.from),
    to: formatDate(r.to),
    resolution,
  });
}

export function isRangeChoice(x: unknown): x is RangeChoice {
  return typeof x === 'string' && (RANGE_CHOICES as readonly string[]).includes(x);
}
