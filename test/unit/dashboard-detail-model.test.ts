import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../config/loader.js';
import {
  type Accumulator,
  emptyAccumulator,
  type MachineParams,
  type MetricsPolicy,
  type MetricsWindow,
  machineMetrics,
} from '../../gateway/core/index.js';
import type { BaselineResponse } from '../../gateway/server/contract.js';
import { buildPlantIndex } from '../../gateway/server/plant-index.js';
import {
  appendLive,
  baselineView,
  chartValue,
  commonPrefix,
  energyByState,
  followsLive,
  historyPointsFor,
  historySeries,
  lineProcessTags,
  lossBreakdown,
  machineProcessTags,
  trendRangeMs,
  valueCount,
} from '../../dashboard/src/detail/detail-model.js';

const MIN = 60_000;
const plant = buildPlantIndex(
  loadConfigFile(new URL('../../config/demo-plant.yaml', import.meta.url).pathname, { env: {} }),
).view;

const window: MetricsWindow = {
  kind: 'current-shift',
  from: 0,
  to: 480 * MIN,
  shiftId: 'day@2025-03-01',
  asOf: 480 * MIN,
};
const params: MachineParams = {
  id: 'press',
  idealCycleTimeS: 1,
  counters: { total: true, good: true, reject: true },
  hasMeter: true,
  stateMeasured: true,
  unitMassKg: null,
  carbon: { hasLocation: true, hasMarket: false },
};
const planned: MetricsPolicy = { oeeCap: 'cap', setupCountsAs: 'planned', lineMetrics: 'output-machine' };

/** the oee.com example: 420 min planned, 47 min down, 19 271 made, 423 rejects */
function acc(over: Partial<Accumulator> = {}): Accumulator {
  return {
    ...emptyAccumulator(),
    coveredMs: 480 * MIN,
    shiftMs: 480 * MIN,
    breakMs: 60 * MIN,
    runningMs: 373 * MIN,
    unplannedStopMs: 47 * MIN,
    pRunningMs: 373 * MIN,
    pStopMs: 47 * MIN,
    total: 19_271,
    good: 18_848,
    reject: 423,
    kwhProducing: 900,
    kwhIdle: 60,
    kwhStopped: 40,
    ...over,
  };
}

const sumMs = (segments: readonly { ms: number }[]) => segments.reduce((s, x) => s + x.ms, 0);

describe('detail: process values', () => {
  it('gives a machine its own values from a PLC it shares, by id prefix, and leaves state and reason out', () => {
    const imm1 = machineProcessTags(plant, 'imm1').map((t) => t.id);
    expect(imm1).toEqual([
      'l1.imm1.barrel_temp',
      'l1.imm1.hyd_pressure',
      'l1.imm1.cycle_time',
      'l1.imm1.op_seconds',
      'l1.imm1.model',
      'l1.imm1.mould_dev',
      'l1.imm1.heater',
      'l1.imm1.door_closed',
      'l1.imm1.total',
      'l1.imm1.good',
      'l1.imm1.reject',
    ]);
    expect(imm1.some((id) => id.startsWith('l1.pk1.'))).toBe(false);
  });

  it('charts numbers, not text, on/off values or running totals', () => {
    const tags = new Map(machineProcessTags(plant, 'imm1').map((t) => [t.id, t]));
    expect(tags.get('l1.imm1.barrel_temp')?.charted).toBe(true);
    expect(tags.get('l1.imm1.model')?.charted).toBe(false);
    expect(tags.get('l1.imm1.heater')?.charted).toBe(false);
    expect(tags.get('l1.imm1.total')).toMatchObject({ role: 'countTotal', charted: false });
  });

  it('gives an OPC UA machine every value of its controller, and a line its meter', () => {
    expect(machineProcessTags(plant, 'cnc1').map((t) => t.id)).toEqual([
      'l2.cnc1.spindle_load',
      'l2.cnc1.spindle_temp',
      'l2.cnc1.spindle_speed',
      'l2.cnc1.total',
      'l2.cnc1.good',
      'l2.cnc1.reject',
    ]);
    const meter = lineProcessTags(plant, 'line1');
    expect(meter.map((t) => t.id)).toEqual([
      'l1.meter.v_l1',
      'l1.meter.power_kw',
      'l1.meter.pf',
      'l1.meter.freq',
      'l1.meter.total_kwh',
      'l1.meter.import_kwh',
    ]);
    // a kWh register only grows: no trend; power does
    expect(meter.find((t) => t.id === 'l1.meter.total_kwh')?.charted).toBe(false);
    expect(meter.find((t) => t.id === 'l1.meter.power_kw')?.charted).toBe(true);
    expect(machineProcessTags(plant, 'nope')).toEqual([]);
  });

  it('finds the shared dotted prefix of tag ids', () => {
    expect(commonPrefix(['l1.imm1.state', 'l1.imm1.total'])).toBe('l1.imm1.');
    expect(commonPrefix(['l1.imm1.state', 'l1.pk1.state'])).toBe('l1.');
    expect(commonPrefix(['state', 'total'])).toBe('');
    expect(commonPrefix([])).toBe('');
  });
});

describe('detail: trends', () => {
  it('follows live values up to an hour and reads history beyond', () => {
    expect(followsLive(trendRangeMs('15m'))).toBe(true);
    expect(followsLive(trendRangeMs('1h'))).toBe(true);
    expect(followsLive(trendRangeMs('8h'))).toBe(false);
    expect(trendRangeMs('30d')).toBe(30 * 86_400_000);
    expect(historyPointsFor(0)).toBe(100);
    expect(historyPointsFor(640.4)).toBe(640);
    expect(historyPointsFor(9000)).toBe(2000);
  });

  it('turns history into chart columns with gaps for bad readings and 1/0 for on/off', () => {
    const s = historySeries([
      { ts: 1, value: 20.5, quality: 'good' },
      { ts: 2, value: null, quality: 'bad' },
      { ts: 3, value: 21, quality: 'uncertain' },
      { ts: 3, value: 22, quality: 'good' },
      { ts: 4, value: 'text', quality: 'good' },
      { ts: 5, value: 23, quality: 'stale' },
    ]);
    expect(s.xs).toEqual([1, 2, 3, 4, 5]);
    expect(s.ys).toEqual([20.5, null, 22, null, null]);
    expect(valueCount(s)).toBe(2);
    expect(chartValue(true, 'good')).toBe(1);
    expect(chartValue(false, 'good')).toBe(0);
    expect(chartValue(Number.NaN, 'good')).toBeNull();
  });

  it('appends live values and drops what left the window, keeping one point to enter from the left', () => {
    const s = { xs: [10, 20, 30], ys: [1, 2, 3] as (number | null)[] };
    appendLive(s, 40, 4, 25);
    expect(s).toEqual({ xs: [20, 30, 40], ys: [2, 3, 4] });
    appendLive(s, 35, 9, 25); // late: ignored
    appendLive(s, 40, 5, 25); // same instant: replaced
    expect(s).toEqual({ xs: [20, 30, 40], ys: [2, 3, 5] });
  });
});

describe('detail: six big losses', () => {
  it('splits the oee.com shift into losses that add up to the planned time', () => {
    const view = lossBreakdown(machineMetrics(window, acc(), params, planned))!;
    expect(view.plannedMs).toBe(420 * MIN);
    expect(sumMs(view.segments)).toBe(420 * MIN);
    const by = new Map(view.segments.map((s) => [s.key, s]));
    expect(by.get('breakdowns')?.ms).toBe(47 * MIN);
    expect(by.get('reducedSpeed')?.ms).toBe(373 * MIN - 19_271_000);
    expect(by.get('processDefects')).toMatchObject({ ms: 423_000, units: 423, category: 'quality' });
    expect(by.get('productive')?.ms).toBe(18_848_000);
    // fully productive time over planned time is the OEE
    expect(by.get('productive')?.share).toBeCloseTo(0.747937, 6);
    expect(by.has('setup')).toBe(false);
    expect(view.setupOutsideMs).toBe(0);
    expect(view.excessMs).toBe(0);
    expect(view.qualityKnown).toBe(true);
  });

  it('shows setup beside the bar by default, and inside planned time when the plant counts it as a loss', () => {
    const setup = acc({ pSetupMs: 30 * MIN, pRunningMs: 343 * MIN, runningMs: 343 * MIN, plannedStopMs: 30 * MIN });
    const outside = lossBreakdown(machineMetrics(window, setup, params, planned))!;
    expect(outside.setupOutsideMs).toBe(30 * MIN);
    expect(outside.segments.some((s) => s.key === 'setup')).toBe(false);
    expect(sumMs(outside.segments)).toBe(outside.plannedMs);

    const lossPolicy: MetricsPolicy = { ...planned, setupCountsAs: 'availability-loss' };
    const inside = lossBreakdown(machineMetrics(window, setup, params, lossPolicy))!;
    expect(inside.setupOutsideMs).toBe(0);
    expect(inside.segments.find((s) => s.key === 'setup')?.ms).toBe(30 * MIN);
    expect(sumMs(inside.segments)).toBe(inside.plannedMs);
  });

  it('never draws more than the planned time, and says by how much the losses overshoot', () => {
    // counted far faster than the ideal cycle: the rejects' ideal time exceeds the run time
    const fast = acc({ total: 40_000, good: 10_000, reject: 30_000, pRunningMs: 100 * MIN, runningMs: 100 * MIN });
    const view = lossBreakdown(machineMetrics(window, fast, params, planned))!;
    expect(sumMs(view.segments)).toBe(view.plannedMs);
    expect(view.excessMs).toBeGreaterThan(0);
    expect(view.segments.find((s) => s.key === 'productive')?.ms).toBe(0);
  });

  it('has nothing to split without planned time', () => {
    expect(lossBreakdown(null)).toBeNull();
    expect(lossBreakdown(machineMetrics(window, acc({ pRunningMs: 0, pStopMs: 0 }), params, planned))).toBeNull();
  });

  it('does not know quality losses without a reject counter', () => {
    const view = lossBreakdown(machineMetrics(window, acc(), { ...params, counters: null }, planned))!;
    expect(view.qualityKnown).toBe(false);
    expect(sumMs(view.segments)).toBe(view.plannedMs);
  });
});

describe('detail: energy by state and baseline', () => {
  it('splits energy by machine state with the idle share', () => {
    const e = energyByState(machineMetrics(window, acc({ kwhUnattributed: 5 }), params, planned), true);
    expect(e.kwh).toBe(1005);
    expect(e.rows.map((r) => [r.key, r.kwh])).toEqual([
      ['producing', 900],
      ['idle', 60],
      ['stopped', 40],
      ['unattributed', 5],
    ]);
    expect(e.rows[0]!.share).toBeCloseTo(900 / 1005, 9);
    expect(e.idleShare).toBeCloseTo(0.1, 9);
  });

  it('says why there is no energy', () => {
    const noMeter = machineMetrics(window, acc(), { ...params, hasMeter: false }, planned);
    expect(energyByState(noMeter, true)).toMatchObject({ kwh: null, why: 'no-meter' });
    expect(energyByState(null, true)).toMatchObject({ kwh: null, why: 'no-window' });
    expect(energyByState(noMeter, false)).toMatchObject({ kwh: null, why: 'not-ready' });
  });

  it('reads the baseline and says why parts of it are missing', () => {
    const base: BaselineResponse = {
      serverTime: 0,
      lineId: 'line1',
      from: 0,
      to: 1,
      periodMs: 3_600_000,
      used: 120,
      excluded: 30,
      model: { intercept: 12.5, slope: 0.08, r2: 0.93, n: 120 },
      current: { from: 0, asOf: 1, actualKwh: 110, expectedKwh: 100, good: 500, enpi: 1.1 },
    };
    expect(baselineView(base)).toMatchObject({
      model: { c: 12.5, m: 0.08, r2: 0.93, n: 120 },
      current: { enpi: 1.1 },
      modelWhy: null,
      currentWhy: null,
    });
    expect(baselineView({ ...base, current: null })).toMatchObject({ currentWhy: 'no-shift' });
    expect(baselineView({ ...base, model: null, current: null })).toMatchObject({
      modelWhy: 'not-enough-history',
      currentWhy: 'not-enough-history',
    });
  });
});
