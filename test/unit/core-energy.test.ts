import { describe, expect, it } from 'vitest';
import { CarbonTable } from '../../config/schema.js';
import {
  CarbonFactors,
  type EnergyPortion,
  KwhMeterTracker,
  type MeterReading,
  PowerIntegrator,
  parseLocalDateTime,
  portionKwh,
  totalKwh,
} from '../../gateway/core/index.js';

const S = 1000;
const kw = (ts: number, value: number | null, quality: MeterReading['quality'] = 'good'): MeterReading => ({
  ts,
  value,
  quality,
});
const sum = (portions: readonly EnergyPortion[]) => portions.reduce((a, p) => a + totalKwh(p), 0);

describe('PowerIntegrator', () => {
  it("integrates DOMAIN.md's example with the trapezoid rule: 0.58333 kWh", () => {
    const p = new PowerIntegrator(60 * S);
    const portions = [kw(0, 10), kw(60 * S, 20), kw(120 * S, 20)].flatMap((r) => p.update(r, r.ts).portions);
    expect(portions.map((x) => x.kind)).toEqual(['trapezoid', 'trapezoid']);
    expect(sum(portions)).toBeCloseTo(0.58333, 5);
    expect(sum(portions)).toBeCloseTo(35 / 60, 12);
  });

  it('holds the left value over a gap longer than maxIntegrationGapS', () => {
    const p = new PowerIntegrator(60 * S);
    p.update(kw(0, 10), 0);
    const u = p.update(kw(120 * S, 40), 120 * S);
    expect(u.portions).toEqual([{ kind: 'constant', from: 0, to: 120 * S, kw: 10 }]);
    expect(sum(u.portions)).toBeCloseTo(10 / 30, 12);
  });

  it('books a held value as time passes, in whole minutes, and the rest when the next reading comes', () => {
    const p = new PowerIntegrator(60 * S);
    p.update(kw(0, 6), 0);
    expect(p.progress(30 * S)).toBeUndefined(); // not beyond the gap yet
    expect(p.peek(90 * S)).toEqual({ kind: 'constant', from: 0, to: 90 * S, kw: 6 });
    expect(p.progress(150 * S)).toEqual({ kind: 'constant', from: 0, to: 120 * S, kw: 6 });
    expect(p.update(kw(170 * S, 12), 170 * S).portions).toEqual([
      { kind: 'constant', from: 120 * S, to: 170 * S, kw: 6 },
    ]);
  });

  it('stops at a bad reading (holding the left value up to it) and restarts at the next good one', () => {
    const p = new PowerIntegrator(60 * S);
    p.update(kw(0, 10), 0);
    const badAt = p.update(kw(30 * S, null, 'stale'), 30 * S);
    expect(badAt.gap).toBe(true);
    expect(badAt.portions).toEqual([{ kind: 'constant', from: 0, to: 30 * S, kw: 10 }]);
    expect(p.pendingFrom()).toBeUndefined();
    expect(p.update(kw(600 * S, 10), 600 * S).portions).toEqual([]);
    expect(sum(p.update(kw(660 * S, 10), 660 * S).portions)).toBeCloseTo(10 / 60, 12);
  });

  it('splits a trapezoid exactly', () => {
    const portion: EnergyPortion = { kind: 'trapezoid', from: 0, to: 60 * S, kwFrom: 10, kwTo: 20 };
    const parts = [0, 15, 40, 60].map((x) => x * S);
    let total = 0;
    for (let i = 0; i + 1 < parts.length; i++) total += portionKwh(portion, parts[i]!, parts[i + 1]!);
    expect(total).toBeCloseTo(totalKwh(portion), 12);
  });
});

describe('KwhMeterTracker', () => {
  it('spreads a delta over the interval between readings', () => {
    const m = new KwhMeterTracker({ width: 'float' }, 300 * S);
    m.update(kw(0, 1000), 0);
    const u = m.update(kw(60 * S, 1000.5), 60 * S);
    expect(u.portions).toEqual([{ kind: 'spread', from: 0, to: 60 * S, kwh: 0.5 }]);
    expect(portionKwh(u.portions[0]!, 0, 30 * S)).toBeCloseTo(0.25, 12);
  });

  it('is rollover-aware for integer registers (32-bit Wh scaled to kWh)', () => {
    const m = new KwhMeterTracker({ width: 32, scale: 0.001 }, 300 * S);
    m.update(kw(0, 4_294_967.0), 0);
    const u = m.update(kw(10 * S, 0.704), 10 * S);
    expect(u.rollover).toBe(true);
    expect(sum(u.portions)).toBeCloseTo(1, 9);
  });

  it('treats a float register drop as a reset (meter replacement)', () => {
    const m = new KwhMeterTracker({ width: 'float' }, 300 * S);
    m.update(kw(0, 52_000), 0);
    const u = m.update(kw(10 * S, 0.3), 10 * S);
    expect(u.reset).toBe(true);
    expect(sum(u.portions)).toBeCloseTo(0.3, 12);
  });

  it('books energy across a data gap as unattributed, at the reading that revealed it', () => {
    const m = new KwhMeterTracker({ width: 'float' }, 300 * S);
    m.update(kw(0, 10), 0);
    expect(m.update(kw(5 * S, null, 'bad'), 5 * S).gap).toBe(true);
    const u = m.update(kw(900 * S, 12), 900 * S);
    expect(u.portions).toEqual([{ kind: 'unattributed', from: 900 * S, to: 900 * S, kwh: 2 }]);
    // a long silence is a gap too
    const silent = m.update(kw(2000 * S, 13), 2000 * S);
    expect(silent.gap).toBe(true);
    expect(silent.portions[0]!.kind).toBe('unattributed');
  });
});

describe('CarbonFactors', () => {
  const tables = [
    CarbonTable.parse({
      id: 'grid',
      factors: [
        {
          from: '2024-01-01',
          to: '2024-12-31',
          kgCO2ePerKwh: 0.7,
          source: 'HK government default 2024',
          method: 'location',
        },
        { from: '2025-01-01', kgCO2ePerKwh: 0.5, source: 'demo 2025', method: 'location' },
      ],
    }),
    CarbonTable.parse({
      id: 'supplier',
      factors: [{ from: '2025-01-01', to: '2025-06-30', kgCO2ePerKwh: 0.2, source: 'REC contract', method: 'market' }],
    }),
  ];
  const f = new CarbonFactors(tables, 'Asia/Hong_Kong');
  const hk = (s: string) => parseLocalDateTime(s, 'Asia/Hong_Kong');

  it('gives the factor in force, changing at site-local midnight', () => {
    expect(f.at(hk('2024-12-31T23:59:59')).location!.kgCO2ePerKwh).toBe(0.7);
    expect(f.at(hk('2025-01-01T00:00')).location!.kgCO2ePerKwh).toBe(0.5);
    expect(f.changesWithin(hk('2024-12-31T12:00'), hk('2025-01-01T12:00'))).toEqual([hk('2025-01-01T00:00')]);
  });

  it('reports market-based with the location factor standing in where no contract covers the time', () => {
    expect(f.hasMarket).toBe(true);
    expect(f.at(hk('2025-03-01T00:00')).market).toEqual({
      kgCO2ePerKwh: 0.2,
      source: 'REC contract',
      tableId: 'supplier',
    });
    expect(f.at(hk('2025-07-01T00:00')).market!.kgCO2ePerKwh).toBe(0.5);
  });

  it('has nothing before the first factor', () => {
    expect(f.at(hk('2023-06-01T00:00'))).toEqual({ location: null, market: null });
    const locationOnly = new CarbonFactors([tables[0]!], 'Asia/Hong_Kong');
    expect(locationOnly.hasMarket).toBe(false);
    expect(locationOnly.at(hk('2025-03-01T00:00')).market).toBeNull();
  });
});
