import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../config/loader.js';
import {
  accumulatorFromJson,
  type CoreSample,
  type EntityRef,
  type MetricsRecord,
  sumAccumulators,
  type WindowSpec,
} from '../../gateway/core/index.js';
import { MetricsService, type MetricsServiceOptions, rebuildOrigin } from '../../gateway/pipeline/index.js';
import { SqliteStore } from '../../gateway/store/index.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** a wall-clock time on 2025-03-04 (a Tuesday) in Hong Kong (UTC+8, no DST) */
const hk = (h: number, m = 0, s = 0, ms = 0, dayOffset = 0) => Date.UTC(2025, 2, 4 + dayOffset, h - 8, m, s, ms);

const PLANT_YAML = `
site:
  id: works
  name: Test Works
  timezone: Asia/Hong_Kong
  carbonTables: [grid, green]
areas:
  - { id: a1, name: Assembly }
lines:
  - id: L1
    name: Line 1
    area: a1
    outputMachine: M2
    calendar: two-shift
    energy: { kwhTag: line_kwh }
    machines:
      - id: M1
        name: Filler
        idealCycleTimeS: 2
        unitMassKg: 0.25
        state:
          tag: m1_state
          map:
            '0': offline
            '1': running
            '2': { state: idle, reason: starved }
            '3': unplanned-stop
            '4': { state: planned-stop, reason: setup }
        counters: { total: m1_total, good: m1_good }
        energy: { kwhTag: m1_kwh }
      - id: M2
        name: Capper
        idealCycleTimeS: 2.5
        state:
          tag: m2_state
          map:
            '0': offline
            '1': running
            '2': { state: idle, reason: starved }
            '3': unplanned-stop
            '4': { state: planned-stop, reason: setup }
        counters: { total: m2_total, good: m2_good }
devices:
  - protocol: modbus-tcp
    id: plc1
    host: 127.0.0.1
    tags:
      - { id: m1_state, address: '40001', type: uint16 }
      - { id: m1_total, address: '40002', type: uint32 }
      - { id: m1_good, address: '40004', type: uint32 }
      - { id: m1_kwh, address: '40006', type: float32, unit: kWh }
      - { id: m2_state, address: '40010', type: uint16 }
      - { id: m2_total, address: '40011', type: uint32 }
      - { id: m2_good, address: '40013', type: uint32 }
      - { id: line_kwh, address: '40020', type: float32, unit: kWh }
calendars:
  - id: two-shift
    shifts:
      - id: day
        start: '07:00'
        end: '15:00'
        breaks: [{ start: '11:00', end: '11:30' }]
      - id: swing
        start: '15:00'
        end: '23:00'
carbonTables:
  - id: grid
    factors:
      - { from: '2024-01-01', kgCO2ePerKwh: 0.39, source: CLP Power 2023, method: location }
  - id: green
    factors:
      - { from: '2025-01-01', kgCO2ePerKwh: 0.1, source: REC contract 2025, method: market }
`;

const plant = loadConfigText(PLANT_YAML);

// ---------- a simulated line: state episodes, counters, one counter reset, kWh meters ----------

/** mulberry32: a small deterministic PRNG */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KW_BY_RAW: Record<number, number> = { 0: 0.4, 1: 11.5, 2: 3.2, 3: 1.1, 4: 0.8, 7: 0.5 };

interface SimOptions {
  readonly from: number;
  readonly to: number;
  readonly seed: number;
  /** M1's counters are cleared at this instant (an operator reset) */
  readonly resetAt?: number;
  /** M2's total counter answers one bad reading at the first tick after this */
  readonly badCounterAt?: number;
  /** M1's state is marked stale once at the first tick after this */
  readonly staleStateAt?: number;
}

/**
 * Device readings of both machines and the line meter, time-ordered: state
 * changes when they happen plus a repeat every minute (the pipeline's
 * heartbeat), counters and meters every 10 s (M1 at +250 ms, M2 at +731 ms).
 */
function simulate(o: SimOptions): CoreSample[] {
  const out: CoreSample[] = [];
  const random = rng(o.seed);
  let lineKwh = 5000;
  for (const [index, id] of ['m1', 'm2'].entries()) {
    const offset = index === 0 ? 250 : 731;
    const ideal = index === 0 ? 2 : 2.5;
    // episodes: [start, raw]
    const episodes: [number, number][] = [];
    for (let t = o.from; t < o.to; ) {
      const p = random();
      let raw: number;
      let len: number;
      if (p < 0.5) [raw, len] = [1, 240_000 + random() * 660_000];
      else if (p < 0.62) [raw, len] = [2, 60_000 + random() * 120_000];
      else if (p < 0.74) [raw, len] = [3, 20_000 + random() * 80_000];
      else if (p < 0.84) [raw, len] = [3, 180_000 + random() * 300_000];
      else if (p < 0.9) [raw, len] = [4, 300_000 + random() * 420_000];
      else if (p < 0.96) [raw, len] = [0, 60_000 + random() * 120_000];
      else [raw, len] = [7, 30_000 + random() * 60_000];
      episodes.push([Math.round(t), raw]);
      t += Math.round(len);
    }
    let e = 0;
    let lastStateSent = Number.NEGATIVE_INFINITY;
    let total = 1_000 * (index + 1);
    let rejects = 0;
    let made = 0;
    let kwh = 120.5 + index;
    let staleDone = false;
    let badDone = false;
    let resetDone = false;
    for (let tick = o.from + offset; tick < o.to; tick += 10_000) {
      // state changes inside this tick's 10 s, at the instant they happen
      while (e + 1 < episodes.length && episodes[e + 1]![0] <= tick) {
        e++;
        out.push({ tagId: `${id}_state`, ts: episodes[e]![0], value: episodes[e]![1], quality: 'good' });
        lastStateSent = episodes[e]![0];
      }
      const raw = episodes[e]![1];
      if (tick - lastStateSent >= 60_000) {
        if (id === 'm1' && o.staleStateAt !== undefined && tick >= o.staleStateAt && !staleDone) {
          staleDone = true;
          out.push({ tagId: 'm1_state', ts: tick, value: null, quality: 'stale', reason: 'no update for 3000 ms' });
        } else {
          out.push({ tagId: `${id}_state`, ts: tick, value: raw, quality: 'good' });
        }
        lastStateSent = tick;
      }
      if (raw === 1) {
        made += (10 / ideal) * (0.82 + random() * 0.16);
        const units = Math.floor(made);
        made -= units;
        total += units;
        for (let u = 0; u < units; u++) if (random() < 0.04) rejects++;
      }
      if (id === 'm1' && o.resetAt !== undefined && tick >= o.resetAt && !resetDone) {
        resetDone = true;
        // the counters are cleared and count on from 0 (a few units made since)
        total = 3;
        rejects = 0;
      }
      if (id === 'm2' && o.badCounterAt !== undefined && tick >= o.badCounterAt && !badDone) {
        badDone = true;
        out.push({ tagId: 'm2_total', ts: tick, value: null, quality: 'bad', reason: 'timeout' });
      } else {
        out.push({ tagId: `${id}_total`, ts: tick, value: total, quality: 'good' });
      }
      out.push({ tagId: `${id}_good`, ts: tick, value: total - rejects, quality: 'good' });
      const kw = KW_BY_RAW[raw]!;
      if (id === 'm1') {
        kwh += (kw * 10) / 3600;
        out.push({ tagId: 'm1_kwh', ts: tick, value: kwh, quality: 'good' });
      } else {
        lineKwh += ((kw + 6) * 10) / 3600;
        out.push({ tagId: 'line_kwh', ts: tick, value: lineKwh, quality: 'good' });
      }
    }
  }
  return out.sort((a, b) => a.ts - b.ts || (a.tagId < b.tagId ? -1 : a.tagId > b.tagId ? 1 : 0));
}

/** samples grouped into the batches a poller would hand over: one per 10 s */
function batches(samples: readonly CoreSample[]): CoreSample[][] {
  const out: CoreSample[][] = [];
  let key = Number.NaN;
  for (const s of samples) {
    const k = Math.floor(s.ts / 10_000);
    if (k !== key) {
      out.push([]);
      key = k;
    }
    out[out.length - 1]!.push(s);
  }
  return out;
}

// ---------- harness ----------

let dir: string;
const stores: SqliteStore[] = [];
const services: MetricsService[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'greenline-metrics-'));
});

afterEach(async () => {
  for (const s of services.splice(0)) s.stop();
  for (const s of stores.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const quietLog = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

async function openStore(name = 'greenline.db', busyTimeoutMs = 5000): Promise<SqliteStore> {
  const store = new SqliteStore({
    path: join(dir, name),
    busyTimeoutMs,
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 1000,
    batchMaxDelayMs: 20,
    log: quietLog(),
    pruneFirstDelayMs: 3_600_000,
  });
  await store.start();
  stores.push(store);
  return store;
}

/** writes through the writer and waits until it is on disk */
function writeNow(store: SqliteStore, rows: readonly CoreSample[]): void {
  store.writer.write(rows);
  flush(store);
}

function flush(store: SqliteStore): void {
  while (store.writer.pendingRows > 0) if (!store.writer.flushOne()) throw new Error(String(store.stats().lastError));
}

/** A clock the test moves by hand. */
class Clock {
  constructor(public t: number) {}
  readonly now = (): number => this.t;
}

function service(
  store: SqliteStore,
  clock: Clock,
  over: Partial<MetricsServiceOptions> = {},
): { svc: MetricsService; log: ReturnType<typeof quietLog> } {
  const log = quietLog();
  const svc = new MetricsService({
    plant,
    store,
    log,
    now: clock.now,
    advanceEveryMs: 5,
    persistEveryMs: 10,
    ...over,
  });
  services.push(svc);
  return { svc, log };
}

/**
 * Feeds batches the way the pipeline does (service and store alike), the
 * clock following the data, with turns of the event loop so the service's
 * timers (advance, persist) run in between.
 */
async function feedLive(
  svc: MetricsService,
  store: SqliteStore,
  clock: Clock,
  list: readonly CoreSample[][],
): Promise<void> {
  for (const [i, batch] of list.entries()) {
    clock.t = Math.max(clock.t, batch[batch.length - 1]!.ts);
    svc.onSamples(batch);
    store.writer.write(batch);
    if (i % 40 === 39) {
      flush(store);
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  flush(store);
}

const LINE: EntityRef = { type: 'line', id: 'L1' };
const M1: EntityRef = { type: 'machine', id: 'M1' };
const M2: EntityRef = { type: 'machine', id: 'M2' };
const ENTITIES = [LINE, M1, M2];

/** Two records are the same to 1e-9 (relative for large values), field by field. */
function expectSame(actual: unknown, expected: unknown, path = 'record'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tol = 1e-9 * Math.max(1, Math.abs(expected));
    if (!(Math.abs(actual - expected) <= tol)) {
      throw new Error(`${path}: ${actual} differs from ${expected}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Error(`${path}: ${JSON.stringify(actual)} differs from ${JSON.stringify(expected)}`);
    }
    expected.forEach((v, i) => expectSame(actual[i], v, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) throw new Error(`${path}: ${String(actual)} is not an object`);
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of keys) {
      expectSame((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`);
    }
    return;
  }
  if (actual !== expected)
    throw new Error(`${path}: ${JSON.stringify(actual)} differs from ${JSON.stringify(expected)}`);
}

function snap(svc: MetricsService, entity: EntityRef, window: WindowSpec, now: number): MetricsRecord {
  const r = svc.snapshot(entity, window, now);
  if (r === null) throw new Error(`no ${window.kind} record for ${entity.type} ${entity.id}`);
  return r;
}

const kwhOf = (r: MetricsRecord) => r.kwh ?? Number.NaN;

// ---------- tests ----------

const WINDOWS: readonly WindowSpec[] = [
  { kind: 'today' },
  { kind: 'current-shift' },
  { kind: 'previous-shift' },
  { kind: 'last-hour' },
];

/** the stream most tests use: 05:30–10:30 with a counter reset, a bad counter reading and a stale state mark */
const dayStream = () =>
  simulate({
    from: hk(5, 30),
    to: hk(10, 30),
    seed: 7,
    resetAt: hk(8, 31, 3),
    badCounterAt: hk(9, 12),
    staleStateAt: hk(7, 40),
  });

/** the raw state value a machine's device showed at an instant */
function rawStateAt(list: readonly CoreSample[], tagId: string, t: number): number | undefined {
  let raw: number | undefined;
  for (const s of list) if (s.tagId === tagId && s.ts <= t && s.quality === 'good') raw = s.value as number;
  return raw;
}

/** the first instant from `t` on, in whole seconds, at which both machines were neither offline nor unmapped */
function bothKnownFrom(list: readonly CoreSample[], t: number): number {
  const known = (raw: number | undefined) => raw !== undefined && raw !== 0 && raw !== 7;
  for (let at = t; ; at += 1000) {
    if (known(rawStateAt(list, 'm1_state', at)) && known(rawStateAt(list, 'm2_state', at))) return at;
  }
}

const lastTs = (list: readonly CoreSample[]) => list.reduce((t, s) => Math.max(t, s.ts), Number.NEGATIVE_INFINITY);

describe('MetricsService with a real SQLite store', () => {
  it('rebuilds from the store exactly what live ingestion computed', async () => {
    const store = await openStore();
    const samples = dayStream();
    const clock = new Clock(hk(5, 30));
    const { svc: a, log: aLog } = service(store, clock);
    await a.start();
    expect(a.ready()).toBe(true);
    await feedLive(a, store, clock, batches(samples));
    expect(clock.t).toBe(lastTs(samples));

    // a second gateway process on the same file, started at the instant of the last reading
    const { svc: b } = service(store, clock, { replaySliceMs: 2 * HOUR });
    await b.start();
    // nothing is stored before the first gateway's start: both begin there, not at the previous
    // (swing) shift's start that a gateway installed earlier would rebuild from
    expect(rebuildOrigin(plant, clock.t)).toBe(hk(15, 0, 0, 0, -1));
    expect(b.stats().rebuild).toMatchObject({ origin: hk(5, 30), samples: samples.length });
    expect(a.stats().rebuild.origin).toBe(hk(5, 30));

    // at the same instant, and later with time passing on both (no samples)
    for (const now of [clock.t, clock.t + 95_432]) {
      for (const entity of ENTITIES) {
        for (const window of WINDOWS) {
          expectSame(snap(b, entity, window, now), snap(a, entity, window, now), `${entity.id} ${window.kind}`);
        }
      }
    }
    expect(b.machineStatus('M1')).toEqual(a.machineStatus('M1'));
    expect(b.machineStatus('M2')).toEqual(a.machineStatus('M2'));

    // the data is rich enough for the comparison to mean something
    const now = clock.t;
    const m1 = snap(a, M1, { kind: 'today' }, now);
    const line = snap(a, LINE, { kind: 'current-shift' }, now);
    expect(m1.total).toBeGreaterThan(1000);
    expect(m1.dataQuality.resets).toBeGreaterThanOrEqual(1);
    expect(m1.dataQuality.gaps).toBeGreaterThanOrEqual(1);
    expect(m1.dataQuality.unmappedStates).toBeGreaterThanOrEqual(1);
    expect(m1.states.running).toBeGreaterThan(HOUR);
    expect(m1.states.idle).toBeGreaterThan(0);
    expect(m1.states.unplannedStop).toBeGreaterThan(0);
    const m2 = snap(a, M2, { kind: 'today' }, now);
    expect(m1.states.plannedStop + m2.states.plannedStop).toBeGreaterThan(0);
    expect(m1.losses.setupMs + m2.losses.setupMs).toBeGreaterThan(0);
    // midnight to 05:30, before the gateway was installed, is not covered (not offline)
    expect(m1.elapsedMs).toBe(now - hk(5, 30));
    expect(m1.stops + m1.microstops).toBeGreaterThan(2);
    expect(kwhOf(m1)).toBeGreaterThan(10);
    expect(m1.kgCO2e.location).toBeCloseTo(kwhOf(m1) * 0.39, 9);
    expect(m1.kgCO2e.market).toBeCloseTo(kwhOf(m1) * 0.1, 9);
    expect(line.oee).toBeGreaterThan(0.2);
    expect(line.oee).toBeLessThan(1);
    expect(line.availability).not.toBeNull();
    expect(line.performance).not.toBeNull();
    expect(line.quality).toBeLessThan(1);
    expect(kwhOf(line)).toBeGreaterThan(10);
    expect(m2.dataQuality.gaps).toBeGreaterThanOrEqual(1);
    expect(a.stats()).toMatchObject({ errors: 0, samples: samples.length });
    expect(b.stats().errors).toBe(0);
    expect(aLog.error).not.toHaveBeenCalled();
  });

  it('after a restart mid-shift keeps the shift totals and shows the downtime as offline, no data', async () => {
    const store = await openStore();
    const samples = dayStream();
    const stopAt = bothKnownFrom(samples, hk(9, 0, 4, 500));
    expect(stopAt).toBeLessThan(hk(9, 20));
    const restartAt = stopAt + 40 * MIN + 1234;
    const before = samples.filter((s) => s.ts <= stopAt);
    const after = samples.filter((s) => s.ts > restartAt);

    const clock = new Clock(hk(5, 30));
    const { svc: a } = service(store, clock);
    await a.start();
    await feedLive(a, store, clock, batches(before));
    clock.t = stopAt;
    const aShift = new Map(ENTITIES.map((e) => [e.id, snap(a, e, { kind: 'current-shift' }, stopAt)]));
    const aStatus = a.machineStatus('M1')!;
    expect(aStatus.state).not.toBe('offline');
    a.stop();

    clock.t = restartAt;
    const { svc: b } = service(store, clock);
    await b.start();
    const lastAlive = lastTs(before);
    const downMs = restartAt - lastAlive - 1;
    for (const entity of ENTITIES) {
      const was = aShift.get(entity.id)!;
      const now = snap(b, entity, { kind: 'current-shift' }, restartAt);
      expect(now.window.shiftId, entity.id).toBe(was.window.shiftId);
      // nothing is reset or counted twice
      expect(now.total, entity.id).toBe(was.total);
      expect(now.good, entity.id).toBe(was.good);
      expect(now.reject, entity.id).toBe(was.reject);
      expectSame(now.kwh, was.kwh, `${entity.id}.kwh`);
      expectSame(now.kgCO2e, was.kgCO2e, `${entity.id}.kgCO2e`);
      // time until the last reading is as it was; after it, offline with no data until the restart
      const asWas = was.states.running + was.states.idle + was.states.unplannedStop + was.states.plannedStop;
      const asNow = now.states.running + now.states.idle + now.states.unplannedStop + now.states.plannedStop;
      expect(asWas - asNow, entity.id).toBe(stopAt - lastAlive - 1);
      expect(now.states.offline - was.states.offline, entity.id).toBe(restartAt - stopAt + (stopAt - lastAlive - 1));
      expect(now.offlineMs - was.offlineMs, entity.id).toBe(downMs);
      const noData = now.stopReasons.find((r) => r.kind === 'offline' && r.reason === 'no data')?.ms ?? 0;
      const noDataBefore = was.stopReasons.find((r) => r.kind === 'offline' && r.reason === 'no data')?.ms ?? 0;
      expect(noData - noDataBefore, entity.id).toBe(downMs);
      expect(now.availability!, entity.id).toBeLessThan(was.availability!);
    }
    expect(b.machineStatus('M1')).toMatchObject({ state: 'offline', noData: true });

    // the devices counted on meanwhile: that shows at the first reading after the restart, as gap units
    await feedLive(b, store, clock, batches(after));
    const end = snap(b, M1, { kind: 'current-shift' }, clock.t);
    const was = aShift.get('M1')!;
    const deviceTotals = samples.filter((s) => s.tagId === 'm1_total');
    const lastBefore = deviceTotals.filter((s) => s.ts <= stopAt).at(-1)!.value as number;
    const firstAfter = deviceTotals.find((s) => s.ts > restartAt)!.value as number;
    const lastAfter = deviceTotals.at(-1)!.value as number;
    expect(end.total).toBe(was.total! + (lastAfter - lastBefore));
    expect(end.dataQuality.gapUnits - was.dataQuality.gapUnits).toBe(firstAfter - lastBefore);
    expect(b.machineStatus('M1')!.noData).toBe(false);
    expect(b.stats().errors).toBe(0);
  });

  it('shows a downtime that began just before its origin as offline, not as the last state held', async () => {
    const store = await openStore();
    const now = hk(10, 0, 0, 0);
    const origin = rebuildOrigin(plant, now);
    expect(origin).toBe(hk(15, 0, 0, 0, -1)); // the previous (swing) shift's start
    // the gateway ran until four minutes before that shift and not again until now
    const samples = simulate({ from: origin - HOUR, to: origin - 4 * MIN, seed: 21 });
    writeNow(store, samples);
    const lastAlive = lastTs(samples);
    expect(origin - lastAlive).toBeLessThan(10 * MIN); // recent enough to seed
    const clock = new Clock(now);
    const { svc: b } = service(store, clock);
    await b.start();
    for (const entity of [M1, M2]) {
      const swing = snap(b, entity, { kind: 'previous-shift' }, now);
      expect(swing.window.from).toBe(origin);
      expect(swing.states.running + swing.states.idle + swing.states.unplannedStop, entity.id).toBe(0);
      expect(swing.states.offline, entity.id).toBe(8 * HOUR);
      expect(swing.offlineMs, entity.id).toBe(8 * HOUR);
      expect(swing.total, entity.id).toBe(0);
    }
    expect(b.machineStatus('M1')).toMatchObject({ state: 'offline', noData: true });
  });

  it('holds samples that arrive during the rebuild and applies them after it, once', async () => {
    const samples = dayStream();
    const startAt = hk(10, 0, 0, 300);
    const stored = samples.filter((s) => s.ts < startAt - 15_000);
    // stamped before the start but still on their way to the disk when it begins
    const inFlight = samples.filter((s) => s.ts >= startAt - 15_000 && s.ts <= startAt);
    const later = batches(samples.filter((s) => s.ts > startAt));

    // the reference: everything up to the start on disk before it, the rest fed live after it
    const refStore = await openStore('reference.db');
    writeNow(refStore, [...stored, ...inFlight]);
    const refClock = new Clock(startAt);
    const { svc: ref } = service(refStore, refClock);
    await ref.start();
    await feedLive(ref, refStore, refClock, later);

    const store = await openStore();
    writeNow(store, stored);
    const clock = new Clock(startAt);
    const { svc: b } = service(store, clock, { replaySliceMs: 10 * MIN });
    b.onSamples(inFlight);
    store.writer.write(inFlight);
    const starting = b.start();
    let done = false;
    void starting.then(() => {
      done = true;
    });
    let next = 0;
    let fedWhileRebuilding = 0;
    while (next < later.length) {
      await new Promise((r) => setImmediate(r));
      if (done) break;
      // the writer reaches the disk while the rebuild runs
      if (next === 0) flush(store);
      expect(b.ready()).toBe(false);
      expect(b.snapshot(M1, { kind: 'today' }, clock.t)).toBeNull();
      const batch = later[next++]!;
      clock.t = lastTs(batch);
      b.onSamples(batch);
      store.writer.write(batch);
      fedWhileRebuilding++;
    }
    await starting;
    expect(fedWhileRebuilding).toBeGreaterThanOrEqual(5);
    expect(next).toBeLessThan(later.length); // some arrive after the rebuild, live
    await feedLive(b, store, clock, later.slice(next));
    expect(clock.t).toBe(refClock.t);

    for (const entity of ENTITIES) {
      for (const window of WINDOWS) {
        expectSame(snap(b, entity, window, clock.t), snap(ref, entity, window, clock.t), `${entity.id} ${window.kind}`);
      }
    }
    expect(b.machineStatus('M1')).toEqual(ref.machineStatus('M1'));
    expect(b.stats().errors).toBe(0);
  });

  it('answers windows before its origin from the minutes persisted by an earlier run', async () => {
    const store = await openStore();
    const samples = dayStream();
    const clock = new Clock(hk(5, 30));
    const { svc: a } = service(store, clock);
    await a.start();
    await feedLive(a, store, clock, batches(samples));
    const aNow = clock.t;
    const ranges: WindowSpec[] = [
      { kind: 'range', from: hk(5, 0), to: hk(11, 0) },
      { kind: 'range', from: hk(7, 0), to: hk(9, 0) },
      { kind: 'range', from: hk(8, 17), to: hk(8, 43) },
    ];
    const expected = ENTITIES.flatMap((e) => ranges.map((w) => snap(a, e, w, aNow)));
    a.stop();

    clock.t = hk(10, 0, 0, 0, 3);
    const { svc: b } = service(store, clock);
    await b.start();
    expect(b.stats().rebuild.origin).toBe(hk(15, 0, 0, 0, 2));
    expect(b.stats().rebuild.samples).toBe(0);
    const actual = ENTITIES.flatMap((e) => ranges.map((w) => snap(b, e, w, clock.t)));
    actual.forEach((r, i) => {
      const want = expected[i]!;
      // the window reaches the asking instant: the run that answered first stopped earlier
      expectSame({ ...r, window: { ...r.window, asOf: want.window.asOf } }, want, `${r.entity.id} ${r.window.from}`);
    });
    expect(snap(b, M1, { kind: 'range', from: hk(5, 0), to: hk(11, 0) }, clock.t).total).toBeGreaterThan(1000);
    // nothing of that day leaks into the new day
    expect(snap(b, M1, { kind: 'today' }, clock.t)).toMatchObject({ total: 0, kwh: 0 });

    // a range across the origin: persisted minutes before it, the engine's own after it
    b.stop();
    clock.t = hk(6, 0, 0, 0, 1);
    const { svc: c } = service(store, clock);
    await c.start();
    const cOrigin = c.stats().rebuild.origin!;
    expect(cOrigin).toBe(hk(15, 0)); // the previous (late) shift of the day before
    for (const entity of [M1, M2]) {
      const across = snap(c, entity, { kind: 'range', from: hk(5, 0), to: clock.t }, clock.t);
      const was = expected[ENTITIES.indexOf(entity) * ranges.length]!;
      expect(across.total, entity.id).toBe(was.total);
      expectSame(across.kwh, was.kwh, `${entity.id} kWh`);
      expect(across.states.running, entity.id).toBe(was.states.running);
      // the time nobody watched (A's stop to the origin) is not covered; from the origin on: no data
      expect(across.elapsedMs, entity.id).toBe(was.elapsedMs + (clock.t - cOrigin));
      expect(across.states.offline, entity.id).toBe(was.states.offline + (clock.t - cOrigin));
    }
  });

  it('seeds each tag with its last reading before the origin only when it is recent', async () => {
    const store = await openStore();
    const now = hk(10, 0, 0, 0);
    const origin = rebuildOrigin(plant, now);
    expect(origin).toBe(hk(15, 0, 0, 0, -1));
    const end = origin + 2 * HOUR;
    // M1 and its meter report every 10 s across the origin
    const m1 = simulate({ from: origin - 30 * MIN, to: end + 5 * MIN, seed: 11 }).filter((s) =>
      s.tagId.startsWith('m1'),
    );
    // M2 and the line meter said something three days ago, then nothing until 20 min after the origin
    const m2 = simulate({ from: origin - 3 * DAY, to: end + 5 * MIN, seed: 12 }).filter(
      (s) => !s.tagId.startsWith('m1') && (s.ts < origin - 3 * DAY + 30 * MIN || s.ts >= origin + 20 * MIN),
    );
    writeNow(store, [...m1, ...m2]);
    const clock = new Clock(now);

    const of = (tag: string, list: readonly CoreSample[]) => list.filter((s) => s.tagId === tag);
    const value = (s: CoreSample | undefined) => s!.value as number;
    const lastIn = (list: readonly CoreSample[]) => list.filter((s) => s.ts <= end).at(-1);
    const firstAfterOrigin = (list: readonly CoreSample[]) => list.find((s) => s.ts >= origin);
    /** a kWh register's value at `t`, between its readings (the engine spreads a delta evenly) */
    const kwhAt = (list: readonly CoreSample[], t: number) => {
      const i = list.findIndex((s) => s.ts > t);
      const [a, b] = [list[i - 1]!, list[i]!];
      return value(a) + ((value(b) - value(a)) * (t - a.ts)) / (b.ts - a.ts);
    };
    const m1Total = of('m1_total', m1);
    const m1Kwh = of('m1_kwh', m1);
    const seedTotal = m1Total.filter((s) => s.ts < origin).at(-1);
    const seedKwh = m1Kwh.filter((s) => s.ts < origin).at(-1);
    expect(origin - seedTotal!.ts).toBeLessThan(10_000);
    const m2Total = of('m2_total', m2);
    const lineKwh = of('line_kwh', m2);
    const range: WindowSpec = { kind: 'range', from: origin, to: end };

    const { svc: b } = service(store, clock);
    await b.start();
    expect(b.stats().rebuild.origin).toBe(origin);
    const m1r = snap(b, M1, range, now);
    const m2r = snap(b, M2, range, now);
    const liner = snap(b, LINE, range, now);
    // M1: counted from its reading before the origin, none of the first delta lost
    expect(m1r.total).toBe(value(lastIn(m1Total)) - value(seedTotal));
    expectSame(m1r.kwh, kwhAt(m1Kwh, end) - value(seedKwh), 'M1 kWh');
    expect(m1r.states.offline).toBe(0); // its state was known from the origin on
    expect(m1r.dataQuality.gaps).toBe(0);
    // M2 and the line meter: the first reading after the origin is a fresh baseline
    expect(m2r.total).toBe(value(lastIn(m2Total)) - value(firstAfterOrigin(m2Total)));
    expect(m2r.dataQuality.gapUnits).toBe(0);
    expectSame(liner.kwh, kwhAt(lineKwh, end) - value(firstAfterOrigin(lineKwh)), 'line kWh');
    expect(liner.dataQuality.gapKwh).toBe(0);
    expect(m2r.states.offline).toBeGreaterThanOrEqual(20 * MIN);

    // without the seed (too old for a 1 ms limit) M1's first delta after the origin is lost: the check bites
    const { svc: c } = service(store, clock, { seedMaxAgeMs: 1 });
    await c.start();
    const lost = value(firstAfterOrigin(m1Total)) - value(seedTotal);
    expect(lost).toBeGreaterThan(0);
    expect(snap(c, M1, range, now).total).toBe(m1r.total! - lost);
    expect(b.stats().errors + c.stats().errors).toBe(0);
  });

  it('persists one row per minute that adds up to the window, the open ones at the stop', async () => {
    const store = await openStore();
    const samples = dayStream();
    const clock = new Clock(hk(5, 30));
    const { svc: a } = service(store, clock);
    await a.start();
    const origin = a.stats().rebuild.origin!;
    await feedLive(a, store, clock, batches(samples));
    const persistedWhileRunning = a.stats().minutesPersisted;
    expect(persistedWhileRunning).toBeGreaterThan(0);
    a.stop();
    const stoppedAt = clock.t;

    let rowsTotal = 0;
    for (const entity of ENTITIES) {
      const rows = store.metrics(entity.type, entity.id, origin - DAY, stoppedAt + DAY);
      rowsTotal += rows.length;
      // a machine's time is booked every minute from the origin on; a line's minutes hold its meter's energy
      const first = entity.type === 'machine' ? origin : hk(5, 30);
      expect(rows[0]!.minuteTs, entity.id).toBe(first);
      rows.forEach((r, i) => expect(r.minuteTs, `${entity.id} row ${i}`).toBe(first + i * MIN));
      // up to the stop: the minute it fell in was still open and is kept as far as it was known
      const last = rows.at(-1)!.minuteTs;
      expect(last, entity.id).toBe(Math.floor(stoppedAt / MIN) * MIN);
      const accs = rows.map((r) => accumulatorFromJson(r.payload));
      expect(accs.every((x) => x !== null)).toBe(true);
      const sum = sumAccumulators(accs as NonNullable<(typeof accs)[number]>[]);
      const win = snap(a, entity, { kind: 'range', from: origin, to: stoppedAt }, stoppedAt);
      if (entity.type === 'machine') {
        expect(sum.coveredMs).toBe(win.elapsedMs);
        expect(sum.runningMs).toBe(win.states.running);
        expect(sum.idleMs).toBe(win.states.idle);
        expect(sum.unplannedStopMs).toBe(win.states.unplannedStop);
        expect(sum.plannedStopMs).toBe(win.states.plannedStop);
        expect(sum.offlineMs).toBe(win.states.offline);
        expect(sum.stops).toBe(win.stops);
        expect(sum.microstops).toBe(win.microstops);
        expect(sum.total).toBe(win.total);
        expect(sum.good).toBe(win.good);
      } else {
        // a line's times and counts are its output machine's; its own minutes hold its meter
        expect(sum.coveredMs).toBe(0);
        expect(sum.total).toBe(0);
      }
      const kwh = sum.kwhProducing + sum.kwhIdle + sum.kwhStopped + sum.kwhUnattributed;
      if (entity.id === 'M2') expect(win.kwh).toBeNull();
      else expectSame(kwh, win.kwh, `${entity.id} kWh`);
      if (entity.id !== 'M2') expectSame(sum.kgCO2eLocation, win.kgCO2e.location, `${entity.id} CO2e`);
      // a machine's minute is a minute: its time adds up to 60 s
      if (entity.type === 'machine') {
        for (const [i, acc] of accs.slice(0, -1).entries())
          expect(acc!.coveredMs, `${entity.id} minute ${i}`).toBe(MIN);
        expect(accs.at(-1)!.coveredMs).toBe(stoppedAt - last);
      }
    }
    expect(a.stats().minutesPersisted).toBe(rowsTotal);
  });
});

describe('MetricsService when the store refuses writes for a while', () => {
  it('keeps the minutes it could not persist and writes them once the store takes them', async () => {
    const store = await openStore('locked.db', 20);
    const samples = dayStream().filter((s) => s.ts < hk(7, 0));
    const clock = new Clock(hk(5, 30));
    const { svc: a, log } = service(store, clock);
    await a.start();
    const origin = a.stats().rebuild.origin!;
    const list = batches(samples);
    const third = Math.floor(list.length / 3);
    await feedLive(a, store, clock, list.slice(0, third));

    // another process holds the database: writes fail with "database is locked"
    const other = new Database(join(dir, 'locked.db'), { timeout: 0 });
    other.exec('BEGIN EXCLUSIVE');
    try {
      for (const batch of list.slice(third, 2 * third)) {
        clock.t = lastTs(batch);
        a.onSamples(batch);
        store.writer.write(batch);
      }
      await vi.waitFor(() => expect(a.stats().errors).toBeGreaterThan(0), { timeout: 3000, interval: 10 });
      expect(a.stats().lastError).toMatch(/persist/);
      expect(log.error).toHaveBeenCalled();
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    await feedLive(a, store, clock, list.slice(2 * third));
    a.stop();

    // no minute is missing, and they add up to what the engine says
    const rows = store.metrics('machine', 'M1', origin, clock.t);
    rows.forEach((r, i) => expect(r.minuteTs, `row ${i}`).toBe(origin + i * MIN));
    expect(rows.at(-1)!.minuteTs).toBe(Math.floor(clock.t / MIN) * MIN);
    const sum = sumAccumulators(rows.map((r) => accumulatorFromJson(r.payload)!));
    const win = snap(a, M1, { kind: 'range', from: origin, to: clock.t }, clock.t);
    expect(sum.total).toBe(win.total);
    expect(sum.coveredMs).toBe(win.elapsedMs);
    expectSame(sum.kwhProducing + sum.kwhIdle + sum.kwhStopped + sum.kwhUnattributed, win.kwh, 'kWh');
  });
});

describe('the store parts the service uses', () => {
  it('latestBefore gives the last usable reading and a later unusable one, oldest first', async () => {
    const store = await openStore();
    writeNow(store, [
      { tagId: 'a', ts: 1000, value: 1, quality: 'good' },
      { tagId: 'a', ts: 2000, value: 2, quality: 'uncertain' },
      { tagId: 'a', ts: 3000, value: null, quality: 'bad', reason: 'timeout' },
      { tagId: 'a', ts: 5000, value: 5, quality: 'good' },
      { tagId: 'b', ts: 1500, value: true, quality: 'good' },
      { tagId: 'c', ts: 2500, value: null, quality: 'stale', reason: 'no update' },
      { tagId: 'd', ts: 900, value: 'RUN', quality: 'good' },
      { tagId: 'd', ts: 1900, value: 'STOP', quality: 'good' },
    ]);
    expect(store.latestBefore(['a', 'b', 'c', 'd', 'nope'], 4000)).toEqual([
      { tagId: 'b', ts: 1500, value: true, quality: 'good' },
      { tagId: 'd', ts: 1900, value: 'STOP', quality: 'good' },
      { tagId: 'a', ts: 2000, value: 2, quality: 'uncertain' },
      { tagId: 'c', ts: 2500, value: null, quality: 'stale', reason: 'no update' },
      { tagId: 'a', ts: 3000, value: null, quality: 'bad', reason: 'timeout' },
    ]);
    // strictly before: a reading at the instant itself is not "before"
    expect(store.latestBefore(['a'], 5000).map((r) => r.ts)).toEqual([2000, 3000]);
    expect(store.latestBefore(['a'], 5001).map((r) => r.ts)).toEqual([5000]);
    expect(store.latestBefore(['a', 'b'], 1000)).toEqual([]);
    expect(() => store.latestBefore(['a'], Number.NaN)).toThrow(/beforeMs/);
  });

  it('putMetricsBatch writes minutes in one go, replacing, and refuses a bad batch whole', async () => {
    const store = await openStore();
    const t = hk(8, 0);
    store.putMetricsBatch([
      { entityType: 'machine', entityId: 'M1', minuteTs: t, payload: { total: 1 } },
      { entityType: 'machine', entityId: 'M1', minuteTs: t + MIN + 59_999, payload: { total: 2 } },
      { entityType: 'line', entityId: 'L1', minuteTs: t, payload: { kwhIdle: 0.5 } },
    ]);
    store.putMetricsBatch([{ entityType: 'machine', entityId: 'M1', minuteTs: t + 30_000, payload: { total: 3 } }]);
    expect(store.metrics('machine', 'M1', t, t + HOUR)).toEqual([
      { minuteTs: t, payload: { total: 3 } },
      { minuteTs: t + MIN, payload: { total: 2 } },
    ]);
    expect(() =>
      store.putMetricsBatch([
        { entityType: 'machine', entityId: 'M2', minuteTs: t, payload: {} },
        { entityType: 'machine', entityId: 'M2', minuteTs: Number.POSITIVE_INFINITY, payload: {} },
      ]),
    ).toThrow(/minuteTs/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() =>
      store.putMetricsBatch([
        { entityType: 'machine', entityId: 'M2', minuteTs: t, payload: {} },
        { entityType: 'machine', entityId: 'M2', minuteTs: t + MIN, payload: cyclic },
      ]),
    ).toThrow(/JSON/);
    expect(store.metrics('machine', 'M2', 0, t + HOUR)).toEqual([]);
    // what a rollup reads back as
    const acc = accumulatorFromJson(store.metrics('line', 'L1', t, t)[0]!.payload)!;
    expect(acc.kwhIdle).toBe(0.5);
    expect(acc.coveredMs).toBe(0);
    expect(acc.reasons).toEqual({});
    expect(accumulatorFromJson([1, 2])).toBeNull();
    expect(accumulatorFromJson(null)).toBeNull();
    expect(accumulatorFromJson({ total: 'x', good: Number.NaN, reasons: { 'stop|jam': 5, bad: 'x' } })).toMatchObject({
      total: 0,
      good: 0,
      reasons: { 'stop|jam': 5 },
    });
  });

  it('a stop during the rebuild leaves the service not ready and ends the rebuild', async () => {
    const store = await openStore();
    writeNow(store, dayStream());
    const clock = new Clock(hk(10, 31));
    const { svc } = service(store, clock, { replaySliceMs: MIN });
    const starting = svc.start();
    await new Promise((r) => setImmediate(r));
    svc.stop();
    await starting;
    expect(svc.ready()).toBe(false);
    expect(svc.snapshot(M1, { kind: 'today' }, clock.t)).toBeNull();
    svc.onSamples([{ tagId: 'm1_total', ts: clock.t, value: 1, quality: 'good' }]);
    expect(svc.stats()).toMatchObject({ ready: false, samples: 0, errors: 0 });
  });
});
