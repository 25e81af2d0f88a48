import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CarbonTable, Calendar, Line } from '../../config/schema.js';
import {
  computeOee,
  type CoreSample,
  type EntityRef,
  MetricsEngine,
  type MetricsEngineOptions,
  type MetricsRecord,
  type MinuteRollup,
  type PlantModel,
  type WindowSpec,
} from '../../gateway/core/index.js';

const MIN = 60_000;
/** 2025-03-03 06:00 in Hong Kong */
const T0 = Date.UTC(2025, 2, 2, 22, 0);

const input = {
  site: { id: 'site', name: 'Site', timezone: 'Asia/Hong_Kong', carbonTables: ['grid', 'contract'] },
  lines: [
    {
      id: 'L1',
      name: 'L1',
      area: 'a',
      outputMachine: 'm1',
      calendar: 'cal',
      energy: { kwhTag: 'L1.kwh' },
      machines: [
        {
          id: 'm1',
          name: 'm1',
          idealCycleTimeS: 2,
          unitMassKg: 0.2,
          state: {
            tag: 'm1.state',
            map: {
              '0': 'offline',
              '1': 'running',
              '2': 'idle',
              '3': 'unplanned-stop',
              '4': { state: 'planned-stop', reason: 'no-order' },
              '5': { state: 'planned-stop', reason: 'setup' },
            },
            reasonTag: 'm1.reason',
            reasons: { '1': 'Jam', '2': 'Material' },
          },
          counters: { total: 'm1.total', reject: 'm1.reject' },
          energy: { kwTag: 'm1.kw', maxIntegrationGapS: 30 },
        },
        {
          id: 'm2',
          name: 'm2',
          idealCycleTimeS: 0.5,
          microstopThresholdS: 30,
          state: { tag: 'm2.state', map: { '1': 'running', '2': 'idle', '3': 'unplanned-stop', '0': 'offline' } },
          counters: { total: 'm2.total', good: 'm2.good', width: 16 },
        },
      ],
    },
  ],
  calendars: [
    {
      id: 'cal',
      shifts: [
        { id: 'day', start: '08:00', end: '16:00', breaks: [{ start: '12:00', end: '12:30' }] },
        {
          id: 'night',
          start: '22:00',
          end: '06:00',
          days: ['mon', 'tue', 'wed'],
          breaks: [{ start: '02:00', end: '02:20' }],
        },
      ],
      plannedStops: [{ from: '2025-03-03T14:00', to: '2025-03-03T14:45', reason: 'maintenance' }],
    },
  ],
  carbonTables: [
    {
      id: 'grid',
      factors: [
        { from: '2025-01-01', to: '2025-03-03', kgCO2ePerKwh: 0.7, source: 'demo 2025 a', method: 'location' },
        { from: '2025-03-04', kgCO2ePerKwh: 0.5, source: 'demo 2025 b', method: 'location' },
      ],
    },
    { id: 'contract', factors: [{ from: '2025-03-04', kgCO2ePerKwh: 0.2, source: 'REC 2025', method: 'market' }] },
  ],
};
const plant: PlantModel = {
  site: input.site,
  lines: input.lines.map((l) => Line.parse(l)),
  calendars: input.calendars.map((c) => Calendar.parse(c)),
  carbonTables: input.carbonTables.map((t) => CarbonTable.parse(t)),
  microstopThresholdS: 120,
  oeeCap: 'cap',
};

// ---- stream generator ----

type Event =
  | { k: 'state'; m: 'm1' | 'm2'; v: string | null }
  | { k: 'reason'; v: number }
  | { k: 'count'; tag: 'm1.total' | 'm1.reject' | 'm2.total' | 'm2.good'; inc: number; reset: boolean; bad: boolean }
  | { k: 'kw'; v: number | null }
  | { k: 'kwh'; inc: number; bad: boolean };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('state' as const),
      m: fc.constantFrom('m1' as const, 'm2' as const),
      v: fc.oneof(fc.constantFrom('0', '1', '1', '1', '2', '3', '3', '4', '5', '9'), fc.constant(null)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reason' as const), v: fc.integer({ min: 0, max: 3 }) }) },
  {
    weight: 7,
    arbitrary: fc.record({
      k: fc.constant('count' as const),
      tag: fc.constantFrom('m1.total' as const, 'm1.reject' as const, 'm2.total' as const, 'm2.good' as const),
      inc: fc.integer({ min: 0, max: 40 }),
      reset: fc.integer({ min: 0, max: 29 }).map((n) => n === 0),
      bad: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('kw' as const),
      v: fc.oneof(
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.constant(null),
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('kwh' as const),
      inc: fc.double({ min: 0, max: 2, noNaN: true }),
      bad: fc.integer({ min: 0, max: 14 }).map((n) => n === 0),
    }),
  },
);

const dtArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 40_000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 400_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 * 3_600_000 }) },
);

const streamArb = fc
  .record({
    start: fc.integer({ min: 0, max: 18 * 3_600_000 }),
    steps: fc.array(fc.tuple(dtArb, eventArb), { minLength: 1, maxLength: 300, size: 'medium' }),
  })
  .map(({ start, steps }) => toSamples(T0 + start, steps));

function toSamples(start: number, steps: readonly [number, Event][]): CoreSample[] {
  const counters: Record<string, number> = { 'm1.total': 0, 'm1.reject': 0, 'm2.total': 65_500, 'm2.good': 65_480 };
  let kwh = 52_000;
  let t = start;
  const out: CoreSample[] = [];
  const push = (tagId: string, value: CoreSample['value'], bad = false) =>
    out.push(
      bad ? { tagId, ts: t, value: null, quality: 'bad', reason: 'timeout' } : { tagId, ts: t, value, quality: 'good' },
    );
  for (const [dt, e] of steps) {
    t += dt;
    switch (e.k) {
      case 'state':
        push(`${e.m}.state`, e.v, e.v === null);
        break;
      case 'reason':
        push('m1.reason', e.v);
        break;
      case 'count': {
        const width = e.tag.startsWith('m2') ? 65_536 : 2 ** 32;
        // rejects are rarer than parts
        const inc = e.tag === 'm1.reject' ? Math.floor(e.inc / 8) : e.inc;
        counters[e.tag] = e.reset ? inc : (counters[e.tag]! + inc) % width;
        push(e.tag, counters[e.tag]!, e.bad);
        break;
      }
      case 'kw':
        push('m1.kw', e.v, e.v === null);
        break;
      case 'kwh':
        kwh += e.inc;
        push('L1.kwh', kwh, e.bad);
        break;
    }
  }
  return out;
}

// ---- helpers ----

const ENTITIES: EntityRef[] = [
  { type: 'line', id: 'L1' },
  { type: 'machine', id: 'm1' },
  { type: 'machine', id: 'm2' },
];

function windows(samples: readonly CoreSample[], end: number): WindowSpec[] {
  return [
    { kind: 'range', from: samples[0]!.ts - 30 * MIN, to: end + 30 * MIN },
    { kind: 'range', from: samples[0]!.ts + 7 * MIN, to: Math.max(samples[0]!.ts + 8 * MIN, end - 13 * MIN) },
    { kind: 'today' },
    { kind: 'last-hour' },
    { kind: 'current-shift' },
    { kind: 'previous-shift' },
  ];
}

function allRecords(engine: MetricsEngine, samples: readonly CoreSample[], end: number): (MetricsRecord | null)[] {
  const out: (MetricsRecord | null)[] = [];
  for (const e of ENTITIES) for (const w of windows(samples, end)) out.push(engine.snapshot(e, w, end));
  return out;
}

const options: Omit<MetricsEngineOptions, 'plant'> = { retainMinutes: 100_000 };

function batch(samples: readonly CoreSample[], end: number): MetricsEngine {
  const engine = new MetricsEngine({ plant, ...options });
  engine.ingestBatch(samples);
  engine.advance(end);
  return engine;
}

const endOf = (samples: readonly CoreSample[], extra: number) => samples.at(-1)!.ts + extra;

const RUNS = { numRuns: 150 };

describe('MetricsEngine properties', () => {
  it('gives the same result fed incrementally (with time advancing and snapshots in between) as in one batch', () => {
    fc.assert(
      fc.property(
        streamArb,
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.boolean()), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.integer({ min: 0, max: 3 * 3_600_000 }),
        (samples, choices, tail) => {
          const end = endOf(samples, tail);
          const reference = batch(samples, end);

          const live = new MetricsEngine({ plant, ...options });
          const rollups: MinuteRollup[] = [];
          for (let i = 0; i < samples.length; i++) {
            const [frac, doAdvance, doRead] = choices[i % choices.length]!;
            const s = samples[i]!;
            const prev = i === 0 ? s.ts : samples[i - 1]!.ts;
            const t = prev + Math.floor((s.ts - prev) * frac);
            if (doAdvance && i > 0) live.advance(t);
            if (doRead) {
              live.snapshot({ type: 'line', id: 'L1' }, { kind: 'today' }, t);
              rollups.push(...live.drainClosedMinutes());
            }
            // one sample at a time, or a few together
            if (doAdvance && doRead && i + 1 < samples.length) {
              live.ingestBatch([s, samples[i + 1]!]);
              i++;
            } else live.ingest(s);
          }
          live.advance(end);
          rollups.push(...live.drainClosedMinutes());

          expect(allRecords(live, samples, end)).toEqual(allRecords(reference, samples, end));
          // closed minutes never change: what was handed out early equals the batch's minutes
          const byKey = new Map(reference.drainClosedMinutes().map((r) => [`${r.entity.id}@${r.minute}`, r.acc]));
          for (const r of rollups) expect(r.acc).toEqual(byKey.get(`${r.entity.id}@${r.minute}`));
        },
      ),
      { numRuns: 120 },
    );
  }, 120_000);

  it('keeps availability and quality within [0, 1]; time adds up; OEE = good × ideal / planned time when P ≤ 1', () => {
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 0, max: 3_600_000 }), (samples, tail) => {
        const end = endOf(samples, tail);
        const engine = batch(samples, end);
        const origin = engine.origin!;
        for (const r of allRecords(engine, samples, end)) {
          if (r === null) continue;
          if (r.availability !== null) {
            expect(r.availability).toBeGreaterThanOrEqual(0);
            expect(r.availability).toBeLessThanOrEqual(1);
          }
          if (r.quality !== null) {
            expect(r.quality).toBeGreaterThanOrEqual(0);
            expect(r.quality).toBeLessThanOrEqual(1);
          }
          const s = r.states;
          expect(s.running + s.idle + s.unplannedStop + s.plannedStop + s.offline).toBe(r.elapsedMs);
          if (r.entity.type === 'machine') {
            expect(r.elapsedMs).toBe(Math.max(0, r.window.asOf - Math.max(r.window.from, origin)));
          }
          expect(r.runMs + r.stopMs).toBe(r.plannedMs);
          expect(r.plannedMs + r.plannedStopMs).toBe(r.calendarPlannedMs);
          expect(r.calendarPlannedMs + r.breakMs + r.calendarStopMs).toBe(r.shiftMs);
          expect(r.shiftMs).toBeLessThanOrEqual(r.elapsedMs);
          expect(r.microstopMs + r.idleMs).toBeLessThanOrEqual(r.runMs);
          if (r.oee !== null && r.total! > 0 && r.runMs > 0 && r.performanceRaw! <= 1) {
            const ideal = r.entity.id === 'm2' ? 500 : 2000;
            expect(r.oee).toBeCloseTo((r.good! * ideal) / r.plannedMs, 9);
          }
          if (r.kwh !== null) {
            expect(r.kwhProducing! + r.kwhIdle! + r.kwhStopped! + r.kwhUnattributed!).toBeCloseTo(r.kwh, 9);
          }
        }
      }),
      RUNS,
    );
  });

  it('books all metered energy into minutes and states: the split sums to what the meters say', () => {
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 0, max: 3_600_000 }), (samples, tail) => {
        const end = endOf(samples, tail);
        const engine = batch(samples, end);
        const all = { kind: 'range', from: samples[0]!.ts - MIN, to: end + MIN } as const;
        const line = engine.snapshot({ type: 'line', id: 'L1' }, all, end)!;
        const m1 = engine.snapshot({ type: 'machine', id: 'm1' }, all, end)!;
        expect(line.kwh).toBeCloseTo(kwhOracle(samples), 6);
        expect(m1.kwh).toBeCloseTo(kwOracle(samples, end), 6);
        expect(m1.kwhProducing! + m1.kwhIdle! + m1.kwhStopped! + m1.kwhUnattributed!).toBeCloseTo(m1.kwh!, 9);
      }),
      RUNS,
    );
  });

  it('never reports an availability or quality outside [0, 1] for any times and counts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 ** 9 }),
        fc.integer({ min: 0, max: 10 ** 9 }),
        fc.integer({ min: 0, max: 10 ** 6 }),
        fc.integer({ min: 0, max: 10 ** 6 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (planned, lost, total, rejects, ideal) => {
          const runMs = Math.max(0, planned - lost);
          const r = computeOee({
            plannedMs: planned,
            runMs,
            total,
            good: Math.max(0, total - rejects),
            idealCycleTimeS: ideal,
          });
          for (const v of [r.availability, r.quality]) if (v !== null) expect(v >= 0 && v <= 1).toBe(true);
          if (r.oee !== null && r.performanceRaw !== null && r.performanceRaw <= 1 && total > 0) {
            expect(r.oee).toBeCloseTo((Math.max(0, total - rejects) * ideal * 1000) / planned, 9);
          }
        },
      ),
    );
  });
});

/** Energy of the kWh register from first to last good reading: increases, and after a drop the new value (float register). */
function kwhOracle(samples: readonly CoreSample[]): number {
  let prev: number | undefined;
  let sum = 0;
  for (const s of samples) {
    if (s.tagId !== 'L1.kwh' || s.quality !== 'good' || typeof s.value !== 'number') continue;
    if (prev !== undefined) sum += s.value >= prev ? s.value - prev : s.value;
    prev = s.value;
  }
  return sum;
}

/**
 * Integrated kW, written plainly: trapezoid between good readings at most 30 s
 * apart, the left value held otherwise (up to the next reading of any quality,
 * or up to `end` when none comes), nothing after a bad reading until a good one.
 */
function kwOracle(samples: readonly CoreSample[], end: number): number {
  let last: { ts: number; kw: number } | undefined;
  let kwhSum = 0;
  for (const s of samples) {
    if (s.tagId !== 'm1.kw') continue;
    const ok = s.quality === 'good' && typeof s.value === 'number';
    if (last !== undefined) {
      const dt = s.ts - last.ts;
      if (ok && dt <= 30_000) kwhSum += (((last.kw + (s.value as number)) / 2) * dt) / 3_600_000;
      else kwhSum += (last.kw * dt) / 3_600_000;
    }
    last = ok ? { ts: s.ts, kw: s.value as number } : undefined;
  }
  if (last !== undefined && end - last.ts > 30_000) kwhSum += (last.kw * (end - last.ts)) / 3_600_000;
  return kwhSum;
}
