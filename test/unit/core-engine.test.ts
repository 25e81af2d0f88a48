import { describe, expect, it } from 'vitest';
import { CarbonTable, Calendar, Device, Line, type PlantConfig, type PlantConfigInput } from '../../config/schema.js';
import {
  type CoreSample,
  MetricsEngine,
  type MetricsEngineOptions,
  type MetricsRecord,
  type PlantModel,
} from '../../gateway/core/index.js';

const MIN = 60_000;
/** 2025-03-03 (a Monday) 08:00 in Hong Kong (UTC+8, no DST) */
const HK_0800 = Date.UTC(2025, 2, 3, 0, 0);

type LineInput = PlantConfigInput['lines'][number];
type MachineInput = LineInput['machines'][number];

const stateMap = {
  '1': 'running',
  '2': 'idle',
  '3': 'unplanned-stop',
  '4': { state: 'planned-stop', reason: 'break' },
  '5': { state: 'planned-stop', reason: 'setup' },
  '0': 'offline',
} as const;

function machine(id: string, extra: Partial<MachineInput> = {}): MachineInput {
  return {
    id,
    name: id,
    idealCycleTimeS: 1,
    state: {
      tag: `${id}.state`,
      map: stateMap,
      reasonTag: `${id}.reason`,
      reasons: { '1': 'Jam', '2': 'Material shortage' },
    },
    counters: { total: `${id}.total`, reject: `${id}.reject` },
    ...extra,
  };
}

interface PlantOptions {
  lines?: LineInput[];
  calendar?: PlantConfigInput['calendars'][number];
  carbonTables?: PlantConfigInput['carbonTables'];
  siteTables?: string[];
  devices?: PlantConfig['devices'];
  microstopThresholdS?: number;
  oeeCap?: 'cap' | 'raw';
  timezone?: string;
}

/** the oee.com shift: 08:00–16:00 with breaks 10:00–10:15, 12:00–12:30 and 14:00–14:15 */
const DAY_CALENDAR: PlantConfigInput['calendars'][number] = {
  id: 'day',
  shifts: [
    {
      id: 'day',
      start: '08:00',
      end: '16:00',
      breaks: [
        { start: '10:00', end: '10:15' },
        { start: '12:00', end: '12:30' },
        { start: '14:00', end: '14:15' },
      ],
    },
  ],
};

/**
 * The plant model from the schema's line, calendar and carbon sections (with
 * their defaults); devices only where a register's type matters.
 */
function plant(o: PlantOptions = {}): PlantModel {
  const lines = o.lines ?? [
    { id: 'L1', name: 'L1', area: 'a', outputMachine: 'm1', calendar: 'day', machines: [machine('m1')] },
  ];
  return {
    site: { id: 'site', name: 'Site', timezone: o.timezone ?? 'Asia/Hong_Kong', carbonTables: o.siteTables ?? [] },
    lines: lines.map((l) => Line.parse(l)),
    calendars: [Calendar.parse(o.calendar ?? DAY_CALENDAR)],
    carbonTables: (o.carbonTables ?? []).map((t) => CarbonTable.parse(t)),
    microstopThresholdS: o.microstopThresholdS ?? 120,
    oeeCap: o.oeeCap ?? 'cap',
    ...(o.devices === undefined ? {} : { devices: o.devices }),
  };
}

const good = (tagId: string, ts: number, value: CoreSample['value']): CoreSample => ({
  tagId,
  ts,
  value,
  quality: 'good',
});
const bad = (tagId: string, ts: number): CoreSample => ({ tagId, ts, value: null, quality: 'bad', reason: 'timeout' });

/**
 * The oee.com worked example as a live stream: state changes per the calendar,
 * counters read every 10 s while running, 373 min of running, 47 min down
 * (30 + 17), breaks 2 × 15 + 30 min, 19 271 parts of which 423 rejects.
 */
function workedExampleStream(): CoreSample[] {
  const segments: [number, number, string][] = [
    [0, 120, '1'],
    [120, 135, '4'],
    [135, 165, '1'],
    [165, 195, '3'],
    [195, 240, '1'],
    [240, 270, '4'],
    [270, 300, '1'],
    [300, 317, '3'],
    [317, 360, '1'],
    [360, 375, '4'],
    [375, 480, '1'],
  ];
  const runTotalMs = 373 * MIN;
  const out: CoreSample[] = [good('m1.total', HK_0800, 0), good('m1.reject', HK_0800, 0)];
  let ran = 0;
  for (const [from, to, code] of segments) {
    const start = HK_0800 + from * MIN;
    out.push(good('m1.state', start, code));
    if (code === '3') out.push(good('m1.reason', start, 1));
    if (code !== '1') continue;
    for (let t = start + 10_000; t <= HK_0800 + to * MIN; t += 10_000) {
      const elapsed = ran + (t - start);
      out.push(good('m1.total', t, Math.round((19_271 * elapsed) / runTotalMs)));
      out.push(good('m1.reject', t, Math.round((423 * elapsed) / runTotalMs)));
    }
    ran += (to - from) * MIN;
  }
  return out.sort((a, b) => a.ts - b.ts);
}

function expectWorkedExample(r: MetricsRecord | null): void {
  expect(r).not.toBeNull();
  const rec = r!;
  expect(rec.plannedMs).toBe(420 * MIN);
  expect(rec.runMs).toBe(373 * MIN);
  expect(rec.stopMs).toBe(47 * MIN);
  expect(rec.breakMs).toBe(60 * MIN);
  expect(rec.total).toBe(19_271);
  expect(rec.reject).toBe(423);
  expect(rec.good).toBe(18_848);
  expect(rec.availability).toBeCloseTo(0.888095, 6);
  expect(rec.performance).toBeCloseTo(0.861081, 6);
  expect(rec.quality).toBeCloseTo(0.97805, 6);
  expect(rec.oee).toBeCloseTo(0.747937, 6);
  expect(rec.oee).toBeCloseTo(18_848 / 25_200, 12);
}

describe('MetricsEngine: the oee.com worked example as a live stream', () => {
  it('gives A, P, Q and OEE of the worked example for the shift', () => {
    const engine = new MetricsEngine({ plant: plant() });
    engine.ingestBatch(workedExampleStream());
    engine.advance(HK_0800 + 480 * MIN);
    const r = engine.snapshot({ type: 'machine', id: 'm1' }, { kind: 'previous-shift' }, HK_0800 + 480 * MIN);
    expectWorkedExample(r);
    expect(r!.window).toMatchObject({ kind: 'previous-shift', from: HK_0800, to: HK_0800 + 480 * MIN });
    expect(r!.window.shiftId).toBe('day@2025-03-03');
    expect(r!.stops).toBe(2);
    expect(r!.microstops).toBe(0);
    expect(r!.losses.breakdownsMs).toBe(47 * MIN);
    expect(r!.losses.startupRejects! + r!.losses.processDefects!).toBe(423);
    expect(r!.stopReasons[0]).toEqual({ kind: 'stop', reason: 'Jam', ms: 47 * MIN });
    expect(r!.teep).toBeCloseTo(r!.oee! * (420 / 480), 12);
  });

  it('gives the same numbers fed sample by sample with time advancing every second in between', () => {
    const engine = new MetricsEngine({ plant: plant() });
    const stream = workedExampleStream();
    let i = 0;
    let snapshots = 0;
    for (let t = HK_0800; t <= HK_0800 + 480 * MIN; t += 1000) {
      while (i < stream.length && stream[i]!.ts <= t) engine.ingest(stream[i++]!);
      engine.advance(t);
      if (t % (15 * MIN) === 0) {
        // the open shift as it goes: never more planned time than elapsed
        const live = engine.snapshot({ type: 'machine', id: 'm1' }, { kind: 'current-shift' }, t);
        if (live !== null) {
          snapshots++;
          expect(live.plannedMs).toBeLessThanOrEqual(live.elapsedMs);
          expect(live.runMs + live.stopMs).toBe(live.plannedMs);
        }
      }
    }
    expect(snapshots).toBeGreaterThan(30);
    expectWorkedExample(
      engine.snapshot({ type: 'machine', id: 'm1' }, { kind: 'previous-shift' }, HK_0800 + 480 * MIN),
    );
    // one second before the end the shift is still the current one
    const open = engine.snapshot({ type: 'machine', id: 'm1' }, { kind: 'current-shift' }, HK_0800 + 480 * MIN - 1000);
    expect(open!.window.shiftId).toBe('day@2025-03-03');
  });

  it('gives the same numbers for the line from its output machine', () => {
    const engine = new MetricsEngine({ plant: plant() });
    engine.ingestBatch(workedExampleStream());
    const r = engine.snapshot(
      { type: 'line', id: 'L1' },
      { kind: 'range', from: HK_0800, to: HK_0800 + 480 * MIN },
      HK_0800 + 480 * MIN,
    );
    expectWorkedExample(r);
  });
});

const M1 = { type: 'machine', id: 'm1' } as const;
const at = (minutes: number) => HK_0800 + minutes * MIN;
const range = (fromMin: number, toMin: number) => ({ kind: 'range', from: at(fromMin), to: at(toMin) }) as const;

function engineWith(
  samples: CoreSample[],
  plantOptions: PlantOptions = {},
  options: Partial<MetricsEngineOptions> = {},
) {
  const engine = new MetricsEngine({ plant: plant(plantOptions), ...options });
  engine.ingestBatch(samples);
  return engine;
}

describe('MetricsEngine: minor stops', () => {
  const stream = [
    good('m1.state', at(0), 1),
    good('m1.state', at(10), 3),
    good('m1.state', at(12), 1), // exactly 120 s: a stop
    good('m1.state', at(20), 3),
    good('m1.state', at(22) - 1, 1), // 119.999 s: a minor stop
  ];

  it('counts a stop of exactly the threshold as a stop, a shorter one as a minor stop', () => {
    const r = engineWith(stream).snapshot(M1, range(0, 60), at(60))!;
    expect(r.stops).toBe(1);
    expect(r.microstops).toBe(1);
    expect(r.stopMs).toBe(120_000);
    expect(r.microstopMs).toBe(119_999);
    expect(r.plannedMs).toBe(60 * MIN);
    expect(r.runMs).toBe(60 * MIN - 120_000);
    expect(r.availability).toBeCloseTo(58 / 60, 12);
    expect(r.losses.minorStopsMs).toBe(119_999);
    expect(r.losses.breakdownsMs).toBe(120_000);
  });

  it("uses the machine's own threshold where it sets one", () => {
    const lines = [
      {
        id: 'L1',
        name: 'L1',
        area: 'a',
        outputMachine: 'm1',
        calendar: 'day',
        machines: [machine('m1', { microstopThresholdS: 300 })],
      },
    ];
    const r = engineWith(stream, { lines }).snapshot(M1, range(0, 60), at(60))!;
    expect(r.stops).toBe(0);
    expect(r.microstops).toBe(2);
    expect(r.stopMs).toBe(0);
    expect(r.availability).toBe(1);
  });

  it('shows a stop in progress as a minor stop until it reaches the threshold, then as a stop from its start', () => {
    const engine = engineWith([good('m1.state', at(0), 1), good('m1.state', at(10), 3)]);
    const early = engine.snapshot(M1, range(0, 60), at(11))!;
    expect(early).toMatchObject({ microstopMs: MIN, stopMs: 0, microstops: 1, stops: 0 });
    expect(engine.machineStatus('m1')).toMatchObject({ state: 'unplanned-stop', minorStopPending: true });
    const late = engine.snapshot(M1, range(0, 60), at(12))!;
    expect(late).toMatchObject({ microstopMs: 0, stopMs: 2 * MIN, microstops: 0, stops: 1 });
    // a snapshot reads only: advancing to the same instant gives the same record
    engine.advance(at(12));
    expect(engine.snapshot(M1, range(0, 60), at(12))).toEqual(late);
    expect(engine.machineStatus('m1')).toMatchObject({ minorStopPending: false, since: at(10) });
  });

  it('keeps the minutes of an undecided stop open for persisting', () => {
    const engine = engineWith([good('m1.state', at(0), 1), good('m1.state', at(10), 3)]);
    engine.advance(at(11));
    const first = engine.drainClosedMinutes();
    expect(first.length).toBe(10);
    expect(Math.max(...first.map((r) => r.minute))).toBe(at(9));
    engine.advance(at(30));
    const second = engine.drainClosedMinutes();
    expect(second[0]!.minute).toBe(at(10));
    expect(second.at(-1)!.minute).toBe(at(28));
    expect(second.find((r) => r.minute === at(10))!.acc).toMatchObject({ stops: 1, pStopMs: MIN });
    expect(engine.drainClosedMinutes()).toEqual([]);
  });
});

describe('MetricsEngine: planned time and counts', () => {
  it('gives OEE 0 and quality null with run time but nothing made', () => {
    const r = engineWith([
      good('m1.state', at(0), 1),
      good('m1.total', at(0), 500),
      good('m1.reject', at(0), 3),
      good('m1.total', at(30), 500),
    ]).snapshot(M1, range(0, 60), at(60))!;
    expect(r).toMatchObject({ total: 0, good: 0, reject: 0, availability: 1, performance: 0, quality: null, oee: 0 });
  });

  it('gives null ratios without planned time (off shift)', () => {
    const r = engineWith([good('m1.state', at(0), 1)]).snapshot(M1, range(12 * 60, 14 * 60), at(14 * 60))!;
    expect(r.plannedMs).toBe(0);
    expect(r.shiftMs).toBe(0);
    expect(r.elapsedMs).toBe(2 * 60 * MIN);
    expect(r.states.running).toBe(2 * 60 * MIN);
    expect(r).toMatchObject({ availability: null, oee: null, teep: null });
  });

  it('flags performance above 100 %, caps the OEE product, and reports the raw value', () => {
    const samples = [good('m1.state', at(0), 1), good('m1.total', at(0), 0), good('m1.reject', at(0), 0)];
    for (let s = 1; s <= 60; s++) samples.push(good('m1.total', at(s), s * 90)); // 1.5 × the ideal rate
    const capped = engineWith(samples).snapshot(M1, range(0, 60), at(60))!;
    expect(capped.performanceRaw).toBeCloseTo(1.5, 12);
    expect(capped.performance).toBe(1);
    expect(capped.performanceOver100).toBe(true);
    expect(capped.oee).toBe(1);
    expect(capped.dataQuality.implausibleJumps).toBe(0);
    const raw = engineWith(samples, { oeeCap: 'raw' }).snapshot(M1, range(0, 60), at(60))!;
    expect(raw.oee).toBeCloseTo(1.5, 12);
  });

  it('counts rollovers and resets of the production counters', () => {
    const lines = [
      {
        id: 'L1',
        name: 'L1',
        area: 'a',
        outputMachine: 'm1',
        calendar: 'day',
        machines: [machine('m1', { counters: { total: 'm1.total', good: 'm1.good', width: 16 } })],
      },
    ];
    const r = engineWith(
      [
        good('m1.state', at(0), 1),
        good('m1.total', at(0), 65_530),
        good('m1.good', at(0), 65_530),
        good('m1.total', at(1), 4), // rollover: +10
        good('m1.good', at(1), 2), // rollover: +8
        good('m1.total', at(2), 50), // +46
        good('m1.total', at(3), 7), // reset: +7
      ],
      { lines },
    ).snapshot(M1, range(0, 60), at(60))!;
    expect(r.total).toBe(63);
    expect(r.good).toBe(8);
    expect(r.reject).toBe(55);
    expect(r.dataQuality).toMatchObject({ rollovers: 2, resets: 1 });
  });

  it('reports state changes, counter resets and rollovers as events, once each', () => {
    const lines = [
      {
        id: 'L1',
        name: 'L1',
        area: 'a',
        outputMachine: 'm1',
        calendar: 'day',
        machines: [machine('m1', { counters: { total: 'm1.total', good: 'm1.good', width: 16 } })],
      },
    ];
    const engine = new MetricsEngine({ plant: plant({ lines }), origin: at(0) });
    engine.ingestBatch([
      good('m1.state', at(0), 1),
      good('m1.total', at(0), 65_530),
      good('m1.total', at(1), 4),
      good('m1.state', at(2), 4),
      good('m1.total', at(3), 3),
      good('m1.state', at(4), 4), // the same state: no event
      bad('m1.state', at(5)),
    ]);
    expect(engine.drainEvents()).toEqual([
      expect.objectContaining({ kind: 'machine-state', ts: at(0), state: 'running', previous: 'offline' }),
      { kind: 'counter-rollover', machineId: 'm1', ts: at(1), role: 'total', previous: 65_530, value: 4, counted: 10 },
      expect.objectContaining({ kind: 'machine-state', ts: at(2), state: 'planned-stop', reason: 'break', raw: '4' }),
      { kind: 'counter-reset', machineId: 'm1', ts: at(3), role: 'total', previous: 4, value: 3, counted: 3 },
      expect.objectContaining({ kind: 'machine-state', ts: at(5), state: 'offline', noData: true }),
    ]);
    expect(engine.drainEvents()).toEqual([]);
  });

  it('skips bad readings and books what the counter says after a gap at the reading, flagged', () => {
    const samples = [good('m1.state', at(0), 1)];
    for (let m = 0; m <= 10; m++) samples.push(good('m1.total', at(m), m * 60));
    samples.push(bad('m1.total', at(11)), bad('m1.total', at(12)), good('m1.total', at(40), 2400));
    const r = engineWith(samples).snapshot(M1, range(0, 60), at(60))!;
    expect(r.total).toBe(2400);
    expect(r.dataQuality).toMatchObject({ gaps: 1, gapUnits: 1800 });
    // a counter silent for longer than counterGapS while the machine runs is a gap too
    const silent = engineWith(samples.slice(0, 3).concat(good('m1.total', at(30), 1800))).snapshot(
      M1,
      range(0, 60),
      at(60),
    )!;
    expect(silent.dataQuality).toMatchObject({ gaps: 1, gapUnits: 1740 });
    // nothing invented: the 1 800 are in the minute of the reading
    const engine = engineWith([
      good('m1.state', at(0), 1),
      good('m1.total', at(0), 0),
      bad('m1.total', at(1)),
      good('m1.total', at(40) + 1, 1800),
    ]);
    expect(engine.snapshot(M1, range(0, 40), at(60))!.total).toBe(0);
    expect(engine.snapshot(M1, range(40, 41), at(60))!.total).toBe(1800);
  });

  it('flags production counted across an offline period, and counts offline in planned time as lost', () => {
    const r = engineWith(
      [
        good('m1.state', at(0), 1),
        good('m1.total', at(0), 0),
        good('m1.total', at(10), 600),
        good('m1.state', at(10), 0),
        good('m1.state', at(20), 1),
        good('m1.total', at(21), 660),
      ],
      {},
      { counterGapS: 3600 },
    ).snapshot(M1, range(0, 60), at(60))!;
    expect(r.dataQuality.gapUnits).toBe(60);
    expect(r.offlineMs).toBe(10 * MIN);
    expect(r.stopMs).toBe(10 * MIN);
    expect(r.losses.offlineMs).toBe(10 * MIN);
  });

  it('treats a bad state reading as no data, and an unmapped value as offline, flagged', () => {
    const r = engineWith([
      good('m1.state', at(0), 1),
      bad('m1.state', at(10)),
      good('m1.state', at(15), 1),
      good('m1.state', at(20), 9),
      good('m1.state', at(25), 1),
    ]).snapshot(M1, range(0, 60), at(60))!;
    expect(r.offlineMs).toBe(10 * MIN);
    expect(r.dataQuality).toMatchObject({ gaps: 1, unmappedStates: 1 });
    expect(r.stopReasons).toEqual([
      { kind: 'offline', reason: 'no data', ms: 5 * MIN },
      { kind: 'offline', reason: 'unmapped value 9', ms: 5 * MIN },
    ]);
    expect(engineWith([good('m1.state', at(0), 9)]).machineStatus('m1')).toMatchObject({
      state: 'offline',
      unmapped: true,
      raw: '9',
      noData: false,
    });
  });

  it('takes setup out of planned time by default, or counts it as an availability loss', () => {
    const samples = [good('m1.state', at(0), 5), good('m1.state', at(30), 1)];
    const planned = engineWith(samples).snapshot(M1, range(0, 60), at(60))!;
    expect(planned).toMatchObject({ plannedMs: 30 * MIN, plannedStopMs: 30 * MIN, stopMs: 0, availability: 1 });
    expect(planned.losses.setupMs).toBe(30 * MIN);
    const loss = engineWith(samples, {}, { setupCountsAs: 'availability-loss' }).snapshot(M1, range(0, 60), at(60))!;
    expect(loss).toMatchObject({ plannedMs: 60 * MIN, plannedStopMs: 0, stopMs: 30 * MIN, availability: 0.5 });
  });

  it('tells start-up rejects from process defects', () => {
    const r = engineWith([
      good('m1.state', at(0), 3),
      good('m1.reject', at(0), 0),
      good('m1.total', at(0), 0),
      good('m1.state', at(10), 1), // back from a 10 min stop: start-up until 10 min later
      good('m1.reject', at(15), 4),
      good('m1.total', at(15), 200),
      good('m1.reject', at(30), 5),
      good('m1.total', at(30), 1000),
    ]).snapshot(M1, range(0, 60), at(60))!;
    expect(r.losses).toMatchObject({ startupRejects: 4, processDefects: 1, startupRejectsMs: 4000 });
  });

  it('flags a jump no machine could make at its ideal rate', () => {
    const r = engineWith([
      good('m1.state', at(0), 1),
      good('m1.total', at(0), 0),
      good('m1.total', at(0) + 10_000, 10_000),
    ]).snapshot(M1, range(0, 60), at(60))!;
    expect(r.dataQuality.implausibleJumps).toBe(1);
    expect(r.total).toBe(10_000);
  });

  it('takes a machine without a state tag as running, and says so', () => {
    const lines = [
      {
        id: 'L1',
        name: 'L1',
        area: 'a',
        outputMachine: 'm1',
        calendar: 'day',
        machines: [{ id: 'm1', name: 'm1', idealCycleTimeS: 2, counters: { total: 'm1.total', good: 'm1.good' } }],
      },
    ];
    const engine = new MetricsEngine({ plant: plant({ lines }), origin: at(0) });
    engine.ingestBatch([
      good('m1.total', at(0), 0),
      good('m1.total', at(60), 900),
      good('m1.good', at(0), 0),
      good('m1.good', at(60), 880),
    ]);
    const r = engine.snapshot(M1, range(0, 60), at(60))!;
    expect(r).toMatchObject({ availability: 1, performance: 0.5, total: 900, good: 880, reject: 20 });
    expect(r.dataQuality.stateMeasured).toBe(false);
  });

  it('applies a late sample at the machine time', () => {
    const engine = engineWith([good('m1.state', at(0), 1)]);
    engine.advance(at(10));
    engine.ingest(good('m1.state', at(5), 3));
    expect(engine.machineStatus('m1')).toMatchObject({ state: 'unplanned-stop', since: at(10) });
  });

  it('keeps minutes for a bounded span', () => {
    const engine = engineWith([good('m1.state', at(0), 1)], {}, { retainMinutes: 60 });
    for (let m = 1; m <= 240; m++) engine.advance(at(m));
    const r = engine.snapshot(M1, range(0, 240), at(240))!;
    expect(r.elapsedMs).toBeGreaterThanOrEqual(60 * MIN);
    expect(r.elapsedMs).toBeLessThanOrEqual(71 * MIN);
  });

  it('rejects unknown entities with a typed error', () => {
    const engine = engineWith([good('m1.state', at(0), 1)]);
    expect(() => engine.snapshot({ type: 'machine', id: 'nope' }, { kind: 'today' }, at(1))).toThrow(
      expect.objectContaining({ code: 'GL_ERR_CORE_UNKNOWN_ENTITY' }),
    );
    expect(() => new MetricsEngine({ plant: plant(), retainMinutes: 0 })).toThrow(
      expect.objectContaining({ code: 'GL_ERR_CORE_OPTION' }),
    );
  });
});

describe('MetricsEngine: energy and carbon', () => {
  const meterLines = (lineEnergy?: { kwhTag?: string; kwTag?: string; maxIntegrationGapS?: number }) => [
    {
      id: 'L1',
      name: 'L1',
      area: 'a',
      outputMachine: 'm2',
      calendar: 'day',
      ...(lineEnergy === undefined ? {} : { energy: lineEnergy }),
      machines: [
        machine('m1', { energy: { kwTag: 'm1.kw', maxIntegrationGapS: 5 }, unitMassKg: 0.5 }),
        machine('m2', { idealCycleTimeS: 2, unitMassKg: 0.1 }),
      ],
    },
  ];

  it('splits energy by machine state and gives kWh per unit and the idle share', () => {
    const samples = [
      good('m1.state', at(0), 1),
      good('m1.total', at(0), 0),
      good('m1.reject', at(0), 0),
      good('m1.state', at(30), 2),
      good('m1.total', at(30), 1000),
      good('m1.reject', at(30), 10),
    ];
    for (let s = 0; s <= 3600; s += 10) samples.push(good('m1.kw', at(0) + s * 1000, s < 1800 ? 20 : 5));
    const r = engineWith(
      samples.sort((a, b) => a.ts - b.ts),
      { lines: meterLines() },
    ).snapshot(M1, range(0, 60), at(60))!;
    expect(r.kwhProducing).toBeCloseTo(10, 9);
    expect(r.kwhIdle).toBeCloseTo(2.5, 9);
    expect(r.kwhStopped).toBe(0);
    expect(r.kwh).toBeCloseTo(12.5, 9);
    expect(r.kwhPerGood).toBeCloseTo(12.5 / 990, 9);
    expect(r.kwhPerTotal).toBeCloseTo(12.5 / 1000, 9);
    expect(r.idleEnergyShare).toBeCloseTo(0.2, 9);
    expect(r.scrapKg).toBeCloseTo(5, 12);
    // a machine without a meter has no energy (null, not 0)
    const m2 = engineWith(samples, { lines: meterLines() }).snapshot(
      { type: 'machine', id: 'm2' },
      range(0, 60),
      at(60),
    )!;
    expect(m2.kwh).toBeNull();
    expect(m2.kwhPerGood).toBeNull();
  });

  it("splits a line meter by the output machine's state; without one, sums the machines' meters", () => {
    const samples = [
      good('m2.state', at(0), 1),
      good('m2.state', at(20), 3),
      good('m1.state', at(0), 1),
      good('L1.kwh', at(0), 100),
      good('m1.kw', at(0), 6),
    ];
    for (let m = 1; m <= 60; m++) samples.push(good('L1.kwh', at(m), 100 + m * 0.5), good('m1.kw', at(m), 6));
    samples.sort((a, b) => a.ts - b.ts);
    const lineMeter = engineWith(samples, { lines: meterLines({ kwhTag: 'L1.kwh' }) });
    const r = lineMeter.snapshot({ type: 'line', id: 'L1' }, range(0, 60), at(60))!;
    expect(r.kwh).toBeCloseTo(30, 9);
    expect(r.kwhProducing).toBeCloseTo(10, 9);
    expect(r.kwhStopped).toBeCloseTo(20, 9);
    const noLineMeter = engineWith(samples, { lines: meterLines() });
    const sum = noLineMeter.snapshot({ type: 'line', id: 'L1' }, range(0, 60), at(60))!;
    expect(sum.kwh).toBeCloseTo(6, 9);
  });

  it('applies each carbon factor to its part of a window (the factor changes at local midnight)', () => {
    const carbonTables: PlantConfigInput['carbonTables'] = [
      {
        id: 'grid',
        factors: [
          { from: '2025-01-01', to: '2025-03-03', kgCO2ePerKwh: 0.7, source: 'demo 2025 H1', method: 'location' },
          { from: '2025-03-04', kgCO2ePerKwh: 0.5, source: 'demo 2025 H2', method: 'location' },
        ],
      },
      {
        id: 'contract',
        factors: [{ from: '2025-03-04', kgCO2ePerKwh: 0.2, source: 'REC 2025', method: 'market' }],
      },
    ];
    // 22:00–02:00 local at a constant 10 kW: 20 kWh on each side of midnight
    const samples: CoreSample[] = [good('m1.state', at(14 * 60), 1)];
    for (let m = 14 * 60; m <= 18 * 60; m++) samples.push(good('m1.kw', at(m), 10));
    const engine = engineWith(samples, { lines: meterLines(), carbonTables, siteTables: ['grid', 'contract'] });
    const r = engine.snapshot(M1, range(14 * 60, 18 * 60), at(18 * 60))!;
    expect(r.kwh).toBeCloseTo(40, 9);
    expect(r.kgCO2e.location).toBeCloseTo(20 * 0.7 + 20 * 0.5, 9);
    // market-based: before the contract the grid factor stands in
    expect(r.kgCO2e.market).toBeCloseTo(20 * 0.7 + 20 * 0.2, 9);
    expect(r.dataQuality.kwhWithoutLocationFactor).toBe(0);
    const noTables = engineWith(samples, { lines: meterLines() }).snapshot(M1, range(14 * 60, 18 * 60), at(18 * 60))!;
    expect(noTables.kgCO2e).toEqual({ location: null, market: null });
    expect(noTables.dataQuality.kwhWithoutLocationFactor).toBeCloseTo(40, 9);
  });

  it('rolls an integer kWh register over at its declared width and scale (32-bit Wh)', () => {
    const devices = [
      {
        protocol: 'modbus-tcp',
        id: 'meter',
        host: '127.0.0.1',
        tags: [{ id: 'L1.kwh', address: 'ir:0', type: 'uint32', scale: 0.001 }],
      },
    ].map((d) => Device.parse(d));
    const samples = [
      good('m2.state', at(0), 1),
      good('L1.kwh', at(0), 4_294_966.0),
      good('L1.kwh', at(1), 4_294_967.0),
      good('L1.kwh', at(2), 0.704),
    ];
    const r = engineWith(samples, { lines: meterLines({ kwhTag: 'L1.kwh' }), devices }).snapshot(
      { type: 'line', id: 'L1' },
      range(0, 60),
      at(60),
    )!;
    expect(r.kwh).toBeCloseTo(2, 9);
    expect(r.dataQuality).toMatchObject({ rollovers: 1, resets: 0 });
    // without the register's type it is taken as floating-point: the drop is a reset
    const float = engineWith(samples, { lines: meterLines({ kwhTag: 'L1.kwh' }) }).snapshot(
      { type: 'line', id: 'L1' },
      range(0, 60),
      at(60),
    )!;
    expect(float.dataQuality).toMatchObject({ rollovers: 0, resets: 1 });
    expect(float.kwh).toBeCloseTo(1.704, 9);
  });

  it('books kWh that crossed a data gap as unattributed energy', () => {
    const samples = [
      good('m2.state', at(0), 1),
      good('L1.kwh', at(0), 100),
      good('L1.kwh', at(1), 101),
      bad('L1.kwh', at(2)),
      good('L1.kwh', at(30), 120),
    ];
    const r = engineWith(samples, { lines: meterLines({ kwhTag: 'L1.kwh' }) }).snapshot(
      { type: 'line', id: 'L1' },
      range(0, 60),
      at(60),
    )!;
    expect(r.kwh).toBeCloseTo(20, 9);
    expect(r.kwhUnattributed).toBeCloseTo(19, 9);
    expect(r.dataQuality.gapKwh).toBeCloseTo(19, 9);
    expect(r.idleEnergyShare).toBe(0);
  });
});

describe('MetricsEngine: line metrics', () => {
  const lines = [
    {
      id: 'L1',
      name: 'L1',
      area: 'a',
      outputMachine: 'm2',
      calendar: 'day',
      machines: [machine('m1', { idealCycleTimeS: 1 }), machine('m2', { idealCycleTimeS: 2 })],
    },
  ];
  const samples = [
    good('m1.state', at(0), 1),
    good('m2.state', at(0), 1),
    good('m2.state', at(30), 3),
    ...['m1', 'm2'].flatMap((m) => [good(`${m}.total`, at(0), 0), good(`${m}.reject`, at(0), 0)]),
    good('m1.total', at(60), 1800),
    good('m1.reject', at(60), 18),
    good('m2.total', at(60), 600),
    good('m2.reject', at(60), 6),
  ];

  it('is its output machine by default', () => {
    const r = engineWith(samples, { lines }).snapshot({ type: 'line', id: 'L1' }, range(0, 60), at(60))!;
    expect(r).toMatchObject({ plannedMs: 60 * MIN, runMs: 30 * MIN, total: 600, good: 594 });
    expect(r.oee).toBeCloseTo((594 * 2000) / (60 * MIN), 12);
  });

  it('sums times and counts over its machines when asked (never averages percentages)', () => {
    const r = engineWith(samples, { lines }, { lineMetrics: 'sum' }).snapshot(
      { type: 'line', id: 'L1' },
      range(0, 60),
      at(60),
    )!;
    expect(r).toMatchObject({ plannedMs: 120 * MIN, runMs: 90 * MIN, total: 2400, good: 2376, reject: 24 });
    expect(r.availability).toBeCloseTo(0.75, 12);
    expect(r.performanceRaw).toBeCloseTo((1800 * 1000 + 600 * 2000) / (90 * MIN), 12);
  });
});

describe('MetricsEngine: a night shift across daylight saving time (Europe/London)', () => {
  const calendar = {
    id: 'day',
    shifts: [{ id: 'night', start: '22:00', end: '06:00', breaks: [{ start: '02:00', end: '02:30' }] }],
  };

  it('has 1 h less planned time on the spring-forward night and 1 h more on the fall-back night', () => {
    for (const [start, hours] of [
      [Date.UTC(2025, 2, 29, 22, 0), 7],
      [Date.UTC(2025, 9, 25, 21, 0), 9],
    ] as const) {
      const engine = new MetricsEngine({ plant: plant({ calendar, timezone: 'Europe/London' }) });
      engine.ingestBatch([good('m1.state', start, 1), good('m1.total', start, 0), good('m1.reject', start, 0)]);
      engine.ingest(good('m1.total', start + 3 * 3_600_000, 3000));
      engine.advance(start + hours * 3_600_000);
      const r = engine.snapshot(M1, { kind: 'previous-shift' }, start + hours * 3_600_000)!;
      expect(r.window.to - r.window.from).toBe(hours * 3_600_000);
      expect(r.plannedMs).toBe((hours - 0.5) * 3_600_000);
      expect(r.availability).toBe(1);
      expect(r.oee).toBeCloseTo((3000 * 1000) / ((hours - 0.5) * 3_600_000), 12);
    }
  });
});
