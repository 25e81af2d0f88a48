import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../config/loader.js';
import {
  type Accumulator,
  emptyAccumulator,
  type MachineParams,
  type MetricsPolicy,
  type MetricsRecord,
  type MetricsWindow,
  machineMetrics,
} from '../../gateway/core/index.js';
import type { MetricsOverview } from '../../gateway/server/contract.js';
import { buildPlantIndex } from '../../gateway/server/plant-index.js';
import {
  daysIn,
  energyCsvPath,
  energyRows,
  factorsInForce,
  meterTagIds,
  metricsPath,
  rangeFor,
  rangeInstants,
  tagsCsvPath,
} from '../../dashboard/src/energy/energy-model.js';

const TZ = 'Asia/Hong_Kong';
const plant = buildPlantIndex(
  loadConfigFile(new URL('../../config/demo-plant.yaml', import.meta.url).pathname, { env: {} }),
).view;
const NOW = Date.parse('2026-03-15T10:00:00+08:00');

const window: MetricsWindow = { kind: 'range', from: 0, to: 60_000, shiftId: null, asOf: 60_000 };
const policy: MetricsPolicy = { oeeCap: 'cap', setupCountsAs: 'planned', lineMetrics: 'output-machine' };
const params: MachineParams = {
  id: 'x',
  idealCycleTimeS: 10,
  counters: { total: true, good: true, reject: false },
  hasMeter: true,
  stateMeasured: true,
  unitMassKg: null,
  carbon: { hasLocation: true, hasMarket: true },
};

function rec(kwh: number, good: number, over: Partial<MachineParams> = {}): MetricsRecord {
  const acc: Accumulator = {
    ...emptyAccumulator(),
    coveredMs: 60_000,
    runningMs: 60_000,
    pRunningMs: 60_000,
    shiftMs: 60_000,
    total: good,
    good,
    kwhProducing: kwh,
    kgCO2eLocation: kwh * 0.7,
    kgCO2eMarket: kwh * 0.39,
  };
  return machineMetrics(window, acc, { ...params, ...over }, policy);
}

function overview(ready = true): MetricsOverview {
  return {
    serverTime: NOW,
    window: 'range',
    timezone: TZ,
    ready,
    lines: [
      {
        id: 'line1',
        name: 'Line 1',
        area: 'hall-a',
        outputMachine: 'pk1',
        record: rec(100, 400),
        machines: [
          { id: 'imm1', name: 'IMM', status: null, record: rec(0, 410, { hasMeter: false }) },
          { id: 'pk1', name: 'Packing', status: null, record: rec(0, 400, { hasMeter: false }) },
        ],
      },
      {
        id: 'line2',
        name: 'Line 2',
        area: 'hall-a',
        outputMachine: 'wash1',
        record: rec(50, 100),
        machines: [{ id: 'wash1', name: 'Washer', status: null, record: null }],
      },
    ],
  };
}

describe('energy page: ranges', () => {
  it('gives this month, last month and this year in site-local dates', () => {
    const fmt = (r: ReturnType<typeof rangeFor>) =>
      r.range
        ? `${r.range.from.year}-${r.range.from.month}-${r.range.from.day}/${r.range.to.month}-${r.range.to.day}`
        : r.problem;
    expect(fmt(rangeFor('this-month', NOW, TZ))).toBe('2026-3-1/3-15');
    expect(fmt(rangeFor('last-month', NOW, TZ))).toBe('2026-2-1/2-28');
    expect(fmt(rangeFor('this-year', NOW, TZ))).toBe('2026-1-1/3-15');
    // in January, last month is December of the year before
    expect(fmt(rangeFor('last-month', Date.parse('2026-01-10T00:00:00+08:00'), TZ))).toBe('2025-12-1/12-31');
    // just after midnight in Hong Kong it is already the 1st there, whatever UTC says
    const firstHk = Date.parse('2026-04-01T00:30:00+08:00');
    expect(fmt(rangeFor('this-month', firstHk, TZ))).toBe('2026-4-1/4-1');
  });

  it('checks custom dates', () => {
    expect(rangeFor('custom', NOW, TZ, { from: '2026-03-01', to: '2026-03-10' }).problem).toBeNull();
    expect(rangeFor('custom', NOW, TZ, { from: '', to: '2026-03-10' }).problem).toBe('bad-date');
    expect(rangeFor('custom', NOW, TZ, { from: '2026-03-10', to: '2026-03-01' }).problem).toBe('order');
    expect(rangeFor('custom', NOW, TZ, { from: '2026-03-16', to: '2026-03-20' }).problem).toBe('future');
    expect(rangeFor('custom', NOW, TZ, { from: '2025-01-01', to: '2026-03-01' }).problem).toBe('too-long');
  });

  it('covers whole site-local days, the last one included, as the export does', () => {
    const r = rangeFor('custom', NOW, TZ, { from: '2026-03-01', to: '2026-03-10' }).range!;
    expect(daysIn(r)).toBe(10);
    expect(rangeInstants(r, TZ)).toEqual({
      from: Date.parse('2026-03-01T00:00:00+08:00'),
      to: Date.parse('2026-03-11T00:00:00+08:00'),
    });
    expect(metricsPath(r, TZ)).toBe(
      `api/metrics?from=${Date.parse('2026-03-01T00:00:00+08:00')}&to=${Date.parse('2026-03-11T00:00:00+08:00')}`,
    );
    expect(energyCsvPath(r, 'day', 'line')).toBe(
      'api/export/energy.csv?from=2026-03-01&to=2026-03-10&period=day&level=line',
    );
    expect(tagsCsvPath(['a.b', 'c'], r, '1m')).toBe(
      'api/export/tags.csv?tags=a.b%2Cc&from=2026-03-01&to=2026-03-10&resolution=1m',
    );
  });
});

describe('energy page: table', () => {
  it('lists every line and their total, with per-unit figures from the sums', () => {
    const rows = energyRows(overview(), 'line', plant);
    expect(rows.map((r) => [r.kind, r.id, r.total])).toEqual([
      ['line', 'line1', false],
      ['line', 'line2', false],
      ['site', 'hk-kt', true],
    ]);
    const total = rows[2]!;
    expect(total.kwh.value).toBe(150);
    expect(total.units.value).toBe(500);
    expect(total.kwhPerUnit.value).toBeCloseTo(0.3, 12);
    expect(total.locationKg.value).toBeCloseTo(105, 9);
    expect(total.marketKg.value).toBeCloseTo(58.5, 9);
    expect(total.locationKgPerUnit.value).toBeCloseTo(0.21, 12);
    expect(rows[0]!.kwhPerUnit.value).toBeCloseTo(0.25, 12);
  });

  it('gives the site alone, or every machine with the reason its energy is missing', () => {
    const site = energyRows(overview(), 'site', plant);
    expect(site).toHaveLength(1);
    expect(site[0]).toMatchObject({ kind: 'site', name: plant.site.name, total: false, kwh: { value: 150 } });

    const machines = energyRows(overview(), 'machine', plant);
    expect(machines.map((r) => [r.id, r.lineName])).toEqual([
      ['imm1', 'Line 1'],
      ['pk1', 'Line 1'],
      ['wash1', 'Line 2'],
    ]);
    expect(machines[0]!.kwh).toEqual({ value: null, why: 'not-metered' });
    expect(machines[0]!.units).toEqual({ value: 410, why: null });
    expect(machines[0]!.locationKg).toEqual({ value: null, why: 'not-metered' });
    expect(machines[2]!.kwh).toEqual({ value: null, why: 'no-window' });
  });

  it('says "rebuilding" while the gateway rebuilds', () => {
    const rows = energyRows(overview(false), 'line', plant);
    expect(rows[0]!.kwh).toEqual({ value: null, why: 'not-ready' });
    expect(rows[2]!.kwh).toEqual({ value: null, why: 'not-ready' });
  });
});

describe('energy page: factors and meters', () => {
  it('names the factors in force over the range, location-based first', () => {
    const in2026 = factorsInForce(plant, rangeFor('this-year', NOW, TZ).range!);
    expect(in2026.map((f) => [f.method, f.kgCO2ePerKwh, f.source, f.year])).toEqual([
      ['location', 0.7, 'Hong Kong government default (demo value)', '2023'],
      ['market', 0.39, 'Supplier contract incl. RECs 2025 (demo value)', '2025'],
    ]);
    const in2022 = factorsInForce(plant, rangeFor('custom', NOW, TZ, { from: '2022-12-01', to: '2023-01-31' }).range!);
    expect(in2022.map((f) => [f.kgCO2ePerKwh, f.year])).toEqual([
      [0.49, '2019'],
      [0.7, '2023'],
    ]);
  });

  it('exports the meters’ readings: both line meters, whole', () => {
    const ids = meterTagIds(plant);
    expect(ids).toContain('l1.meter.import_kwh');
    expect(ids).toContain('l1.meter.power_kw');
    expect(ids).toContain('l2.meter.import_kwh');
    expect(ids.some((id) => id.startsWith('l1.imm1.'))).toBe(false);
  });
});
