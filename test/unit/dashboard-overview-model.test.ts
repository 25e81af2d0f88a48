import { describe, expect, it } from 'vitest';
import {
  type Accumulator,
  emptyAccumulator,
  type MachineParams,
  type MachineStatus,
  type MetricsPolicy,
  type MetricsWindow,
  machineMetrics,
} from '../../gateway/core/index.js';
import type { LineMetricsView, MetricsOverview } from '../../gateway/server/contract.js';
import {
  groupByArea,
  loadWindow,
  overviewWindow,
  recordFigures,
  saveWindow,
  shiftName,
  shouldReplace,
  statusView,
  structureKey,
} from '../../dashboard/src/overview-model.js';

const MIN = 60_000;
const window: MetricsWindow = {
  kind: 'current-shift',
  from: 0,
  to: 480 * MIN,
  shiftId: 'day@2025-03-01',
  asOf: 60 * MIN,
};
const policy: MetricsPolicy = { oeeCap: 'cap', setupCountsAs: 'planned', lineMetrics: 'output-machine' };
const params: MachineParams = {
  id: 'press',
  idealCycleTimeS: 1,
  counters: { total: true, good: true, reject: false },
  hasMeter: true,
  stateMeasured: true,
  unitMassKg: null,
  carbon: { hasLocation: true, hasMarket: false },
};

/** the oee.com example: 420 min planned, 47 min down, 19 271 made, 18 848 good */
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
    kwhProducing: 900,
    kwhIdle: 60,
    kwhStopped: 40,
    kgCO2eLocation: 700,
    ...over,
  };
}

const record = (a: Accumulator = acc(), p: Partial<MachineParams> = {}) =>
  machineMetrics(window, a, { ...params, ...p }, policy);

describe('overview figures', () => {
  it('gives every figure of a complete record', () => {
    const f = recordFigures(record(), true);
    expect(f.oee.value).toBeCloseTo(0.747937, 6);
    expect(f.availability.value).toBeCloseTo(0.888095, 6);
    expect(f.performance.value).toBeCloseTo(0.861081, 6);
    expect(f.quality.value).toBeCloseTo(0.97805, 5);
    expect(f.good).toEqual({ value: 18_848, why: null });
    expect(f.total).toEqual({ value: 19_271, why: null });
    expect(f.kwhPerGood.value).toBeCloseTo(1000 / 18_848, 9);
    expect(f.kgCO2ePerGood.value).toBeCloseTo(700 / 18_848, 9);
    expect(f.idleEnergyShare.value).toBeCloseTo(0.1, 9);
    expect(f.kgCO2ePerGoodMarket).toBeNull();
    expect(f.performanceOver100).toBe(false);
  });

  it('says "rebuilding" for everything while the gateway rebuilds, and "no data" without a record', () => {
    const rebuilding = recordFigures(record(), false);
    expect(rebuilding.oee).toEqual({ value: null, why: 'not-ready' });
    expect(rebuilding.kwhPerGood).toEqual({ value: null, why: 'not-ready' });
    const none = recordFigures(null, true);
    expect(none.availability).toEqual({ value: null, why: 'no-window' });
    expect(none.good).toEqual({ value: null, why: 'no-window' });
  });

  it('blames missing counters for every production figure', () => {
    const f = recordFigures(record(acc(), { counters: null }), true);
    for (const k of ['oee', 'performance', 'quality', 'good', 'total', 'kwhPerGood', 'kgCO2ePerGood'] as const) {
      expect(f[k], k).toEqual({ value: null, why: 'no-counters' });
    }
    expect(f.availability.value).toBeCloseTo(0.888095, 6);
  });

  it('blames a missing meter for every energy and carbon figure', () => {
    const f = recordFigures(record(acc(), { hasMeter: false }), true);
    expect(f.kwhPerGood).toEqual({ value: null, why: 'no-meter' });
    expect(f.kgCO2ePerGood).toEqual({ value: null, why: 'no-meter' });
    expect(f.idleEnergyShare).toEqual({ value: null, why: 'no-meter' });
    expect(f.oee.value).not.toBeNull();
  });

  it('tells no planned time (a break, off shift) from nothing made yet', () => {
    const offShift = recordFigures(record(acc({ pRunningMs: 0, pStopMs: 0, total: 0, good: 0 })), true);
    expect(offShift.availability).toEqual({ value: null, why: 'no-planned-time' });
    expect(offShift.oee).toEqual({ value: null, why: 'no-planned-time' });
    expect(offShift.performance).toEqual({ value: null, why: 'no-planned-time' });
    expect(offShift.quality).toEqual({ value: null, why: 'nothing-made' });

    const nothingYet = recordFigures(record(acc({ total: 0, good: 0 })), true);
    // planned time with no output is an OEE of 0, not a missing one
    expect(nothingYet.oee).toEqual({ value: 0, why: null });
    expect(nothingYet.quality).toEqual({ value: null, why: 'nothing-made' });
    expect(nothingYet.kwhPerGood).toEqual({ value: null, why: 'no-good-units' });
    expect(nothingYet.kgCO2ePerGood).toEqual({ value: null, why: 'no-good-units' });

    const allStopped = recordFigures(record(acc({ pRunningMs: 0, pStopMs: 420 * MIN, total: 0, good: 0 })), true);
    expect(allStopped.performance).toEqual({ value: null, why: 'no-run-time' });
  });

  it('explains a missing location factor and shows the market-based figure only where there is one', () => {
    const noFactor = recordFigures(record(acc(), { carbon: { hasLocation: false, hasMarket: false } }), true);
    expect(noFactor.kgCO2ePerGood).toEqual({ value: null, why: 'no-location-factor' });
    const market = recordFigures(
      record(acc({ kgCO2eMarket: 390 }), { carbon: { hasLocation: true, hasMarket: true } }),
      true,
    );
    expect(market.kgCO2ePerGoodMarket).toBeCloseTo(390 / 18_848, 9);
  });

  it('says so when no energy with a known state was measured', () => {
    const f = recordFigures(record(acc({ kwhProducing: 0, kwhIdle: 0, kwhStopped: 0 })), true);
    expect(f.idleEnergyShare).toEqual({ value: null, why: 'no-energy-yet' });
  });

  it('passes on the performance-over-100 % flag', () => {
    const f = recordFigures(record(acc({ total: 30_000, good: 29_000 })), true);
    expect(f.performanceOver100).toBe(true);
    expect(f.performance.value).toBe(1);
  });
});

describe('machine tile state', () => {
  const base: MachineStatus = {
    machineId: 'press',
    state: 'running',
    reason: null,
    since: 1000,
    raw: '1',
    unmapped: false,
    noData: false,
    minorStopPending: false,
  };

  it('is "unknown" before the first reading', () => {
    expect(statusView(null)).toMatchObject({ state: 'unknown', noData: true, since: null, reason: null });
  });

  it('shows the stop reason of a stop, none while running', () => {
    expect(statusView({ ...base, reason: 'leftover' }).reason).toBeNull();
    const stop = statusView({ ...base, state: 'unplanned-stop', reason: 'Tool break', minorStopPending: true });
    expect(stop).toMatchObject({ state: 'unplanned-stop', reason: 'Tool break', since: 1000, minorStopPending: true });
    expect(statusView({ ...base, state: 'planned-stop', reason: '' }).reason).toBeNull();
  });

  it('marks offline for want of data, and shows unknown raw codes', () => {
    const gone = statusView({ ...base, state: 'offline', noData: true, reason: 'Tool break', raw: null });
    expect(gone).toMatchObject({ state: 'offline', noData: true, reason: null });
    const off = statusView({ ...base, state: 'offline', reason: null, raw: '0' });
    expect(off.noData).toBe(false);
    expect(statusView({ ...base, state: 'offline', unmapped: true, raw: '7' }).unmappedRaw).toBe('7');
  });
});

const line = (id: string, area: string, machines: string[] = ['m']): LineMetricsView => ({
  id,
  name: id,
  area,
  outputMachine: machines[0]!,
  record: null,
  machines: machines.map((m) => ({ id: m, name: m, status: null, record: null })),
});

const overview = (over: Partial<MetricsOverview> = {}): MetricsOverview => ({
  serverTime: 1000,
  window: 'shift',
  timezone: 'Asia/Hong_Kong',
  ready: true,
  lines: [line('L1', 'a')],
  ...over,
});

describe('overview layout', () => {
  it('groups lines by area in the plant order, unknown areas last under their id', () => {
    const groups = groupByArea(
      [line('L1', 'b'), line('L2', 'x'), line('L3', 'a'), line('L4', 'b')],
      [
        { id: 'a', name: 'Hall A' },
        { id: 'b', name: 'Hall B' },
        { id: 'c', name: 'Hall C' },
      ],
    );
    expect(groups.map((g) => [g.name, g.lines.map((l) => l.id)])).toEqual([
      ['Hall A', ['L3']],
      ['Hall B', ['L1', 'L4']],
      ['x', ['L2']],
    ]);
  });

  it('rebuilds only when lines or machines change', () => {
    const a = overview({ lines: [line('L1', 'a', ['m1', 'm2'])] });
    expect(structureKey(a)).toBe(structureKey(overview({ serverTime: 2000, lines: [line('L1', 'a', ['m1', 'm2'])] })));
    expect(structureKey(a)).not.toBe(structureKey(overview({ lines: [line('L1', 'a', ['m1'])] })));
  });

  it('finds the window the records cover, and names its shift', () => {
    expect(overviewWindow(overview())).toBeNull();
    const withRecord = overview({
      lines: [{ ...line('L1', 'a'), machines: [{ id: 'm', name: 'm', status: null, record: record() }] }],
    });
    expect(overviewWindow(withRecord)).toEqual(window);
    expect(shiftName('day@2025-03-01')).toBe('day');
    expect(shiftName('night-b@2025-03-01')).toBe('night-b');
    expect(shiftName(null)).toBeNull();
  });
});

describe('overview updates', () => {
  it('takes the newest overview of the window asked for', () => {
    expect(shouldReplace(null, overview(), 'shift')).toBe(true);
    expect(shouldReplace(null, overview({ window: 'hour' }), 'shift')).toBe(false);
    expect(shouldReplace(overview({ serverTime: 2000 }), overview({ serverTime: 1500 }), 'shift')).toBe(false);
    expect(shouldReplace(overview({ serverTime: 2000 }), overview({ serverTime: 2500 }), 'shift')).toBe(true);
    // after a change of window, anything of the new window beats the old one's
    expect(shouldReplace(overview({ serverTime: 9000 }), overview({ window: 'today', serverTime: 1 }), 'today')).toBe(
      true,
    );
  });
});

describe('remembered window', () => {
  it('reads back what was saved, else the current shift', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => store.set(k, v),
    };
    expect(loadWindow(storage)).toBe('shift');
    saveWindow(storage, 'today');
    expect(loadWindow(storage)).toBe('today');
    store.set('greenline.window', 'fortnight');
    expect(loadWindow(storage)).toBe('shift');
  });

  it('works without storage', () => {
    const broken = {
      getItem: (): string | null => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    expect(loadWindow(broken)).toBe('shift');
    expect(() => saveWindow(broken, 'hour')).not.toThrow();
    expect(loadWindow(null)).toBe('shift');
  });
});
