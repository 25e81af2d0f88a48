/**
 * The energy and carbon export: one row per entity (site, line or machine)
 * and site-local period (hour, day, month), computed from the persisted
 * per-minute rollups through the core's formulas (`machineMetrics`,
 * `lineMetrics`), so a row equals what the dashboard shows for the same
 * range. The server README lists the columns and the rules behind them.
 */
import type { Line, Machine, PlantConfig } from '../../config/schema.js';
import {
  type Accumulator,
  accumulatorFromJson,
  addInto,
  CarbonFactors,
  emptyAccumulator,
  type FactorInForce,
  type FactorsAt,
  instantOf,
  type LineParams,
  localDateTime,
  localDayNumber,
  lineMetrics,
  type MachineParams,
  type MetricsPolicy,
  type MetricsRecord,
  type MetricsWindow,
  machineMetrics,
  offsetAt,
} from '../core/index.js';
import { type CsvCell, decimal, LocalTimeFormatter } from './csv.js';
import type { ExportSource } from './ports.js';

export type ExportPeriod = 'hour' | 'day' | 'month';
export type ExportLevel = 'site' | 'line' | 'machine';

export interface EnergyExportRequest {
  /** whole minutes; `to` exclusive */
  readonly from: number;
  readonly to: number;
  readonly period: ExportPeriod;
  readonly level: ExportLevel;
  /** the lines in scope (site and line level: their rows; machine level: the lines of the machines) */
  readonly lineIds: readonly string[];
  /** machine level: the machines in scope, in config order */
  readonly machineIds: readonly string[];
}

const MINUTE_MS = 60_000;
const QUARTER_HOUR_MS = 900_000;
const HOUR_MS = 3_600_000;

const mod = (a: number, n: number) => ((a % n) + n) % n;

/** The first start of a site-local period strictly after `t`. */
export function nextPeriodStart(t: number, period: ExportPeriod, timeZone: string): number {
  switch (period) {
    case 'hour': {
      // a local hour starts where the wall clock shows a whole hour; offsets are whole quarter hours
      let c = (Math.floor(t / QUARTER_HOUR_MS) + 1) * QUARTER_HOUR_MS;
      while (mod(c + offsetAt(c, timeZone), HOUR_MS) !== 0) c += QUARTER_HOUR_MS;
      return c;
    }
    case 'day':
      return instantOf(localDayNumber(t, timeZone) + 1, 0, timeZone);
    case 'month': {
      const l = localDateTime(t, timeZone);
      return instantOf(Date.UTC(l.year, l.month, 1) / 86_400_000, 0, timeZone);
    }
  }
}

/**
 * Site-local periods covering `[from, to)`, the first and last cut at the
 * range: a day on which clocks change has 23 or 25 hourly periods.
 */
export function* periodsOf(
  from: number,
  to: number,
  period: ExportPeriod,
  timeZone: string,
): Generator<{ from: number; to: number }> {
  let start = from;
  while (start < to) {
    const end = Math.min(nextPeriodStart(start, period, timeZone), to);
    yield { from: start, to: end };
    start = end;
  }
}

type MeterKind = 'kwh' | 'kw';

interface MachineModel {
  readonly config: Machine;
  readonly line: LineModel;
  readonly params: MachineParams;
  readonly meterTag: string | null;
  readonly meterKind: MeterKind | null;
}

interface LineModel {
  readonly config: Line;
  readonly carbon: CarbonFactors;
  readonly params: LineParams;
  readonly machines: MachineModel[];
  readonly meterTag: string | null;
  readonly meterKind: MeterKind | null;
  /** the machine whose state splits the line meter (the engine's choice) */
  readonly followedId: string;
}

interface FactorEntry {
  readonly from: string;
  readonly method: 'location' | 'market';
}

/** what one row says about energy, before it is written */
interface Figures {
  /** null: no meter */
  readonly kwh: number | null;
  readonly good: number | null;
  readonly kg: { readonly location: number | null; readonly market: number | null };
  readonly kwhWithoutFactor: { readonly location: number; readonly market: number };
  /** energy per stretch of constant factors (the period cut where factors change) */
  readonly segments: readonly { readonly kwh: number; readonly factors: FactorsAt }[];
  readonly meters: readonly string[];
  /** whether any stored minute of the entity (its machines, its meter) falls in the period */
  readonly seen: boolean;
  /** whether any of that data belongs to the meters (the site: to a metered line) */
  readonly energySeen: boolean;
  readonly estimated: boolean;
  readonly notes: readonly string[];
}

interface Sum {
  readonly acc: Accumulator;
  readonly rows: number;
}

type Sums = ReadonlyMap<string, Sum>;

const key = (type: 'machine' | 'line', id: string) => `${type}:${id}`;
const EMPTY: Sum = { acc: emptyAccumulator(), rows: 0 };

/** A factor's year: the one its source names (the schema asks for "source and year"), else the year it starts. */
export function factorYear(source: string, from: string): string {
  const years = source.match(/\b(19|20)\d{2}\b/g);
  return years?.at(-1) ?? from.slice(0, 4);
}

export class EnergyExporter {
  readonly timeZone: string;
  private readonly config: PlantConfig;
  private readonly policy: MetricsPolicy;
  private readonly lines = new Map<string, LineModel>();
  private readonly machines = new Map<string, MachineModel>();
  private readonly factorEntries = new Map<string, FactorEntry[]>();

  constructor(config: PlantConfig) {
    this.config = config;
    this.timeZone = config.site.timezone;
    this.policy = { oeeCap: config.oeeCap, setupCountsAs: config.setupCountsAs, lineMetrics: config.lineMetrics };
    const tables = new Map(config.carbonTables.map((t) => [t.id, t]));
    for (const t of config.carbonTables) {
      for (const f of t.factors) {
        const k = `${t.id}|${f.source}|${f.kgCO2ePerKwh}`;
        const list = this.factorEntries.get(k) ?? [];
        list.push({ from: f.from, method: f.method });
        this.factorEntries.set(k, list);
      }
    }
    for (const line of config.lines) {
      const lineTables = (line.carbonTables ?? config.site.carbonTables).flatMap((id) => {
        const t = tables.get(id);
        return t === undefined ? [] : [t];
      });
      const carbon = new CarbonFactors(lineTables, this.timeZone);
      const availability = { hasLocation: carbon.hasLocation, hasMarket: carbon.hasMarket };
      const model: LineModel = {
        config: line,
        carbon,
        params: {
          id: line.id,
          outputMachineId: line.outputMachine,
          hasMeter: line.energy !== undefined,
          carbon: availability,
        },
        machines: [],
        meterTag: line.energy?.kwhTag ?? line.energy?.kwTag ?? null,
        meterKind: line.energy === undefined ? null : line.energy.kwhTag !== undefined ? 'kwh' : 'kw',
        followedId: line.machines.some((m) => m.id === line.outputMachine) ? line.outputMachine : line.machines[0]!.id,
      };
      for (const m of line.machines) {
        const c = m.counters;
        const machine: MachineModel = {
          config: m,
          line: model,
          params: {
            id: m.id,
            idealCycleTimeS: m.idealCycleTimeS,
            counters:
              c === undefined
                ? null
                : { total: c.total !== undefined, good: c.good !== undefined, reject: c.reject !== undefined },
            hasMeter: m.energy !== undefined,
            stateMeasured: m.state !== undefined,
            unitMassKg: m.unitMassKg ?? null,
            carbon: availability,
          },
          meterTag: m.energy?.kwhTag ?? m.energy?.kwTag ?? null,
          meterKind: m.energy === undefined ? null : m.energy.kwhTag !== undefined ? 'kwh' : 'kw',
        };
        model.machines.push(machine);
        this.machines.set(m.id, machine);
      }
      this.lines.set(line.id, model);
    }
  }

  /** Which carbon methods the lines in scope have factors for: their column groups. */
  methods(req: EnergyExportRequest): ('location' | 'market')[] {
    const lines = req.lineIds.map((id) => this.lines.get(id)!);
    const out: ('location' | 'market')[] = [];
    if (lines.some((l) => l.carbon.hasLocation)) out.push('location');
    if (lines.some((l) => l.carbon.hasMarket)) out.push('market');
    return out;
  }

  header(req: EnergyExportRequest): string[] {
    const cols = [
      'period_start',
      'period_end',
      'site',
      'area',
      'line',
      'machine',
      'meter',
      'energy_type',
      'kwh',
      'kwh_basis',
      'basis_note',
      'units_produced',
      'kwh_per_unit',
    ];
    for (const m of this.methods(req)) {
      cols.push(
        `${m}_factor_kg_co2e_per_kwh`,
        `${m}_factor_source`,
        `${m}_factor_year`,
        `${m}_method`,
        `${m}_kg_co2e`,
        `${m}_t_co2e`,
        `${m}_kg_co2e_per_unit`,
      );
    }
    return cols;
  }

  /**
   * The rows, period by period (oldest first), entities in config order.
   * `pause` is awaited between store pages: it gives the event loop a turn.
   */
  async *rows(
    source: ExportSource,
    req: EnergyExportRequest,
    pause: () => Promise<void> | undefined,
  ): AsyncGenerator<CsvCell[]> {
    const lines = req.lineIds.map((id) => this.lines.get(id)!);
    const machines = req.machineIds.map((id) => this.machines.get(id)!);
    // what has to be read: every machine of a line (its output machine counts, its meters), its own meter
    const entities: { type: 'machine' | 'line'; id: string }[] = [];
    if (req.level === 'machine') {
      for (const m of machines) entities.push({ type: 'machine', id: m.config.id });
    } else {
      for (const l of lines) {
        if (l.meterTag !== null) entities.push({ type: 'line', id: l.config.id });
        for (const m of l.machines) entities.push({ type: 'machine', id: m.config.id });
      }
    }
    const scopeLines = req.level === 'machine' ? [...new Set(machines.map((m) => m.line))] : lines;
    const methods = this.methods(req);
    const clock = new LocalTimeFormatter(this.timeZone);

    for (const period of periodsOf(req.from, req.to, req.period, this.timeZone)) {
      // the period cut where any factor in scope changes, so each piece's energy has one factor per line
      const cuts = new Set<number>([period.from, period.to]);
      for (const l of scopeLines) for (const t of l.carbon.changesWithin(period.from, period.to)) cuts.add(t);
      const bounds = [...cuts].sort((a, b) => a - b);
      const pieces: { from: number; to: number; sums: Map<string, Sum> }[] = [];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const piece = { from: bounds[i]!, to: bounds[i + 1]!, sums: new Map<string, Sum>() };
        for (const e of entities) {
          piece.sums.set(key(e.type, e.id), await sumMinutes(source, e.type, e.id, piece.from, piece.to, pause));
        }
        pieces.push(piece);
      }
      const total = new Map<string, Sum>();
      for (const e of entities) {
        const k = key(e.type, e.id);
        const acc = emptyAccumulator();
        let rows = 0;
        for (const p of pieces) {
          const s = p.sums.get(k)!;
          addInto(acc, s.acc);
          rows += s.rows;
        }
        total.set(k, { acc, rows });
      }
      const whole = { from: period.from, to: period.to, sums: total };
      const start = clock.format(period.from);
      const end = clock.format(period.to);
      const site = this.config.site.id;
      const energy = 'electricity';

      if (req.level === 'machine') {
        for (const m of machines) {
          const f = this.machineFigures(m, whole, pieces);
          yield this.cells([start, end, site, m.line.config.area, m.line.config.id, m.config.id], energy, f, methods);
        }
      } else if (req.level === 'line') {
        for (const l of lines) {
          const f = this.lineFigures(l, whole, pieces);
          yield this.cells([start, end, site, l.config.area, l.config.id, null], energy, f, methods);
        }
      } else {
        const f = siteFigures(lines.map((l) => ({ id: l.config.id, f: this.lineFigures(l, whole, pieces) })));
        yield this.cells([start, end, site, null, null, null], energy, f, methods);
      }
    }
  }

  private machineRecord(m: MachineModel, from: number, to: number, sums: Sums): MetricsRecord {
    const acc = (sums.get(key('machine', m.config.id)) ?? EMPTY).acc;
    return machineMetrics(windowOf(from, to), acc, m.params, this.policy);
  }

  private lineRecord(l: LineModel, from: number, to: number, sums: Sums): MetricsRecord {
    const lineAcc = (sums.get(key('line', l.config.id)) ?? EMPTY).acc;
    const machines = l.machines.map((m) => ({
      acc: (sums.get(key('machine', m.config.id)) ?? EMPTY).acc,
      params: m.params,
    }));
    return lineMetrics(windowOf(from, to), lineAcc, l.params, machines, this.policy);
  }

  private machineFigures(
    m: MachineModel,
    whole: { from: number; to: number; sums: Sums },
    pieces: readonly { from: number; to: number; sums: Sums }[],
  ): Figures {
    const rec = this.machineRecord(m, whole.from, whole.to, whole.sums);
    const sum = whole.sums.get(key('machine', m.config.id)) ?? EMPTY;
    const segments = pieces.map((p) => ({
      kwh: this.machineRecord(m, p.from, p.to, p.sums).kwh ?? 0,
      factors: m.line.carbon.at(p.from),
    }));
    const meters = m.meterTag === null ? [] : [{ tag: m.meterTag, kind: m.meterKind!, follows: sum }];
    return figures(rec, segments, meters, whole.to - whole.from, sum.rows > 0);
  }

  private lineFigures(
    l: LineModel,
    whole: { from: number; to: number; sums: Sums },
    pieces: readonly { from: number; to: number; sums: Sums }[],
  ): Figures {
    const rec = this.lineRecord(l, whole.from, whole.to, whole.sums);
    const segments = pieces.map((p) => ({
      kwh: this.lineRecord(l, p.from, p.to, p.sums).kwh ?? 0,
      factors: l.carbon.at(p.from),
    }));
    const sumOf = (type: 'machine' | 'line', id: string) => whole.sums.get(key(type, id)) ?? EMPTY;
    // a line meter is the line's energy; without one, its machines' meters are (never both)
    const meters =
      l.meterTag !== null
        ? [
            {
              tag: l.meterTag,
              kind: l.meterKind!,
              follows: sumOf('machine', l.followedId),
            },
          ]
        : l.machines
            .filter((m) => m.meterTag !== null)
            .map((m) => ({ tag: m.meterTag!, kind: m.meterKind!, follows: sumOf('machine', m.config.id) }));
    const seen = sumOf('line', l.config.id).rows > 0 || l.machines.some((m) => sumOf('machine', m.config.id).rows > 0);
    return figures(rec, segments, meters, whole.to - whole.from, seen);
  }

  private cells(
    place: readonly [string, string, string, string | null, string | null, string | null],
    energyType: string,
    f: Figures,
    methods: readonly ('location' | 'market')[],
  ): CsvCell[] {
    const hasEnergy = f.kwh !== null && f.energySeen;
    const basis = f.kwh === null ? 'not metered' : !f.energySeen ? 'no data' : f.estimated ? 'estimated' : 'measured';
    const kwh = hasEnergy ? f.kwh : null;
    const good = f.seen ? f.good : null;
    const perUnit = (x: number | null) => (x === null || good === null || good <= 0 ? null : x / good);
    const out: CsvCell[] = [
      ...place,
      f.meters.join(' + '),
      energyType,
      decimal(kwh, 6),
      basis,
      f.notes.join('; '),
      good,
      decimal(perUnit(kwh), 9),
    ];
    for (const method of methods) {
      const kg = hasEnergy ? f.kg[method] : null;
      const factor = f.kwh === null ? null : this.describeFactors(method, f, kg);
      out.push(
        factor?.value ?? null,
        factor?.source ?? null,
        factor?.year ?? null,
        factor?.method ?? null,
        decimal(kg, 6),
        decimal(kg === null ? null : kg / 1000, 9),
        decimal(perUnit(kg), 9),
      );
    }
    return out;
  }

  /**
   * The factor of one method for a row: the one factor that priced its energy
   * (or was in force, without energy), else every factor that did, with the
   * effective kg CO2e/kWh (emissions over the energy they priced).
   */
  private describeFactors(
    method: 'location' | 'market',
    f: Figures,
    kg: number | null,
  ): { value: CsvCell; source: string; year: string; method: string } | null {
    const used = new Map<string, { factor: FactorInForce; kwh: number; fallback: boolean }>();
    const add = (factor: FactorInForce, kwh: number) => {
      const k = `${factor.tableId}|${factor.source}|${factor.kgCO2ePerKwh}`;
      const entry = used.get(k);
      if (entry !== undefined) entry.kwh += kwh;
      else
        used.set(k, { factor, kwh, fallback: method === 'market' && this.entryOf(factor, method).method !== 'market' });
    };
    for (const s of f.segments) {
      const factor = s.factors[method];
      if (factor !== null) add(factor, s.kwh);
    }
    let list = [...used.values()];
    if (list.length === 0) return null;
    const withEnergy = list.filter((u) => u.kwh > 0);
    if (withEnergy.length > 0) list = withEnergy;
    const fallbacks = list.filter((u) => u.fallback).length;
    const methodText =
      method === 'location'
        ? 'location-based'
        : fallbacks === 0
          ? 'market-based'
          : fallbacks === list.length
            ? 'market-based (location-based fallback)'
            : 'market-based (location-based fallback for part)';
    const year = (u: { factor: FactorInForce }) => factorYear(u.factor.source, this.entryOf(u.factor, method).from);
    if (list.length === 1) {
      const u = list[0]!;
      return { value: u.factor.kgCO2ePerKwh, source: u.factor.source, year: year(u), method: methodText };
    }
    const priced = (f.kwh ?? 0) - f.kwhWithoutFactor[method];
    return {
      value: kg === null || !(priced > 0) ? null : decimal(kg / priced, 6),
      source: `several factors: ${list
        .map(
          (u) => `${u.factor.source} (${u.factor.kgCO2ePerKwh} kg CO2e/kWh for ${decimal(u.kwh, 3)?.text ?? '0'} kWh)`,
        )
        .join('; ')}`,
      year: [...new Set(list.map(year))].join('; '),
      method: methodText,
    };
  }

  /** the config entry of a factor in force; in a market slot, a market entry when there is one */
  private entryOf(factor: FactorInForce, method: 'location' | 'market'): FactorEntry {
    const list = this.factorEntries.get(`${factor.tableId}|${factor.source}|${factor.kgCO2ePerKwh}`) ?? [];
    return list.find((e) => e.method === method) ?? list[0] ?? { from: '', method };
  }
}

function windowOf(from: number, to: number): MetricsWindow {
  return { kind: 'range', from, to, shiftId: null, asOf: to };
}

/** Adds up the stored minutes of one entity starting in `[from, to)`, page by page. */
async function sumMinutes(
  source: ExportSource,
  type: 'machine' | 'line',
  id: string,
  from: number,
  to: number,
  pause: () => Promise<void> | undefined,
): Promise<Sum> {
  const acc = emptyAccumulator();
  let rows = 0;
  for (const page of source.metricsPages(type, id, from, to - 1)) {
    for (const row of page) {
      const a = accumulatorFromJson(row.payload);
      if (a === null) continue;
      addInto(acc, a);
      rows++;
    }
    await pause();
  }
  return { acc, rows };
}

/**
 * The figures of one record whose energy comes from `meters`, each with the
 * sums of the machine whose time it follows: that machine books every minute
 * the gateway watched it, so what its covered time lacks had no data.
 */
function figures(
  rec: MetricsRecord,
  segments: Figures['segments'],
  meters: readonly { tag: string; kind: MeterKind; follows: Sum }[],
  periodMs: number,
  seen: boolean,
): Figures {
  const notes: string[] = [];
  let estimated = false;
  let missingMs = 0;
  for (const m of meters) missingMs = Math.max(missingMs, periodMs - m.follows.acc.coveredMs);
  const integrated = meters.filter((m) => m.kind === 'kw').map((m) => m.tag);
  if (integrated.length > 0) {
    estimated = true;
    notes.push(`integrated from kW: ${integrated.join(', ')}`);
  }
  const gapKwh = rec.kwhUnattributed ?? 0;
  if (gapKwh > 0) {
    estimated = true;
    notes.push(`${decimal(gapKwh, 3)?.text} kWh read after data gaps (time of use unknown)`);
  }
  if (missingMs >= MINUTE_MS && seen && rec.kwh !== null) {
    estimated = true;
    notes.push(`${Math.round(missingMs / MINUTE_MS)} min without data`);
  }
  const dq = rec.dataQuality;
  if (rec.kwh !== null && seen) {
    if (rec.kgCO2e.location !== null && dq.kwhWithoutLocationFactor > 0) {
      notes.push(`${decimal(dq.kwhWithoutLocationFactor, 3)?.text} kWh without a location-based factor`);
    }
    if (rec.kgCO2e.market !== null && dq.kwhWithoutMarketFactor > 0) {
      notes.push(`${decimal(dq.kwhWithoutMarketFactor, 3)?.text} kWh without a market-based factor`);
    }
  }
  return {
    kwh: rec.kwh,
    good: rec.good,
    kg: rec.kgCO2e,
    kwhWithoutFactor: { location: dq.kwhWithoutLocationFactor, market: dq.kwhWithoutMarketFactor },
    segments,
    meters: meters.map((m) => m.tag),
    seen,
    energySeen: seen,
    estimated,
    notes,
  };
}

/** The site: the sum of its lines (a line meter already includes its machines' sub-meters). */
function siteFigures(lines: readonly { id: string; f: Figures }[]): Figures {
  const metered = lines.filter((l) => l.f.kwh !== null);
  const withData = metered.filter((l) => l.f.seen);
  const seen = lines.filter((l) => l.f.seen);
  const sum = (pick: (f: Figures) => number | null, from: readonly { f: Figures }[]) => {
    const values = from.map((l) => pick(l.f)).filter((v): v is number => v !== null);
    return values.length === 0 ? null : values.reduce((a, b) => a + b, 0);
  };
  const notes: string[] = [];
  const notMetered = lines.filter((l) => l.f.kwh === null).map((l) => l.id);
  if (notMetered.length > 0) notes.push(`not metered: ${notMetered.join(', ')}`);
  const noData = metered.filter((l) => !l.f.seen).map((l) => l.id);
  if (noData.length > 0 && withData.length > 0) notes.push(`no data: ${noData.join(', ')}`);
  for (const l of withData) for (const n of l.f.notes) notes.push(`${l.id}: ${n}`);
  return {
    kwh: metered.length === 0 ? null : (sum((f) => f.kwh, withData) ?? 0),
    good: sum((f) => f.good, seen),
    kg: { location: sum((f) => f.kg.location, withData), market: sum((f) => f.kg.market, withData) },
    kwhWithoutFactor: {
      location: sum((f) => f.kwhWithoutFactor.location, withData) ?? 0,
      market: sum((f) => f.kwhWithoutFactor.market, withData) ?? 0,
    },
    segments: withData.flatMap((l) => l.f.segments),
    meters: metered.flatMap((l) => l.f.meters),
    seen: seen.length > 0,
    energySeen: withData.length > 0,
    estimated: withData.some((l) => l.f.estimated) || (noData.length > 0 && withData.length > 0),
    notes,
  };
}
