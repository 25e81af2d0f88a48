/**
 * The metrics the dashboard shows, checked against a hand calculation from
 * the raw samples in the demo's store, and carried across a restart: the
 * shift's numbers continue from where they were.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityMetricsResponse, MetricsRecord } from '../../gateway/server/contract.js';
import type { DemoRun } from '../../gateway/demo.js';
import { startDemo } from '../../gateway/demo.js';
import { DEMO_VIEWER, signIn } from './sign-in.js';

const root = resolve(import.meta.dirname, '../..');
const MINUTE = 60_000;
const HK_OFFSET_MIN = 8 * 60; // Asia/Hong_Kong has no daylight saving time
/** the demo calendar's breaks, site-local minutes of the day: lunch, tea, night meal */
const BREAKS: readonly [number, number][] = [
  [12 * 60, 12 * 60 + 45],
  [15 * 60 + 30, 15 * 60 + 45],
  [0, 45],
];
const MICROSTOP_MS = 120_000;
const IMM1_IDEAL_S = 12;
const LOCATION_FACTOR = 0.7; // hk-grid from 2023
const MARKET_FACTOR = 0.39; // hk-supplier from 2025

interface Row {
  ts: number;
  value: number | null;
  quality: number;
}

function rows(db: Database.Database, tag: string, to: number): Row[] {
  return db
    .prepare(
      `SELECT s.ts, s.value, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id
       WHERE t.tag = ? AND s.ts <= ? ORDER BY s.ts`,
    )
    .all(tag, to) as Row[];
}

/** the last good reading at or before t */
function valueAt(list: readonly Row[], t: number): number {
  let v: number | undefined;
  for (const r of list) if (r.ts <= t && r.quality === 0 && r.value !== null) v = r.value;
  if (v === undefined) throw new Error(`no reading at or before ${new Date(t).toISOString()}`);
  return v;
}

/** a kWh register between readings: linear (constant power from one reading to the next) */
function kwhAt(list: readonly Row[], t: number): number {
  const good = list.filter((r) => r.quality === 0 && r.value !== null);
  for (let i = 1; i < good.length; i++) {
    const a = good[i - 1]!;
    const b = good[i]!;
    if (a.ts <= t && t <= b.ts) return a.value! + ((b.value! - a.value!) * (t - a.ts)) / (b.ts - a.ts);
  }
  throw new Error(`no meter readings around ${new Date(t).toISOString()}`);
}

/** ms of [from, to) outside the calendar's breaks */
function plannedCalendarMs(from: number, to: number): number {
  let ms = 0;
  for (let t = from; t < to; t += 1000) {
    const local = (((Math.floor(t / MINUTE) + HK_OFFSET_MIN) % 1440) + 1440) % 1440;
    if (!BREAKS.some(([a, b]) => local >= a && local < b)) ms += 1000;
  }
  return ms;
}

/**
 * Time in each mapped state within [from, to), from the stored state samples
 * (a step function), with unplanned stops judged by their whole episode.
 */
function stateTimes(list: readonly Row[], from: number, to: number, end: number) {
  const map: Record<number, string> = {
    0: 'offline',
    1: 'running',
    2: 'idle',
    3: 'unplanned-stop',
    4: 'planned-stop',
    5: 'planned-stop',
  };
  const steps: { ts: number; state: string }[] = [];
  for (const r of list) {
    const state = r.quality === 0 && r.value !== null ? (map[r.value] ?? 'offline') : 'offline';
    if (steps.length === 0 || steps.at(-1)!.state !== state) steps.push({ ts: r.ts, state });
  }
  const out = { running: 0, idle: 0, micro: 0, stop: 0, offline: 0, planned: 0 };
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const sEnd = steps[i + 1]?.ts ?? end;
    const a = Math.max(s.ts, from);
    const b = Math.min(sEnd, to);
    if (b <= a) continue;
    const ms = plannedCalendarMs(a, b);
    if (s.state === 'running') out.running += ms;
    else if (s.state === 'idle') out.idle += ms;
    else if (s.state === 'offline') out.offline += ms;
    else if (s.state === 'planned-stop') out.planned += ms;
    else if (sEnd - s.ts >= MICROSTOP_MS) out.stop += ms;
    else out.micro += ms;
  }
  return out;
}

/** the `Cookie` header of the demo viewer, per gateway URL (a restarted demo has a new port) */
const cookies = new Map<string, string>();

async function entity(url: string, path: string): Promise<EntityMetricsResponse> {
  let cookie = cookies.get(url);
  if (cookie === undefined) {
    cookie = (await signIn(url, DEMO_VIEWER.username, DEMO_VIEWER.password)).cookie;
    cookies.set(url, cookie);
  }
  const res = await fetch(`${url}${path}`, { headers: { cookie } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as EntityMetricsResponse;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('demo metrics', () => {
  let demo: DemoRun | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'greenline-metrics-'));
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 11 });
  });

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('agree with a hand calculation from the stored raw samples', async () => {
    // a whole minute with data on both sides, then time for the readings after it to arrive
    const t0 = Math.ceil((Date.now() + 5000) / MINUTE) * MINUTE;
    const t1 = t0 + MINUTE;
    await sleep(t1 + 8000 - Date.now());
    const url = demo!.url;
    const imm1 = await entity(url, `/api/metrics/machine/imm1?from=${t0}&to=${t1}`);
    const line1 = await entity(url, `/api/metrics/line/line1?from=${t0}&to=${t1}`);

    const db = new Database(join(dataDir, 'demo.db'), { readonly: true, fileMustExist: true });
    try {
      const end = Date.now();
      const state = stateTimes(rows(db, 'l1.imm1.state', end), t0, t1, end);
      const total = rows(db, 'l1.imm1.total', end);
      const good = rows(db, 'l1.imm1.good', end);
      const meter = rows(db, 'l1.meter.import_kwh', end);

      const calendarPlanned = plannedCalendarMs(t0, t1);
      const plannedMs = calendarPlanned - state.planned;
      const runMs = state.running + state.idle + state.micro;
      const units = valueAt(total, t1) - valueAt(total, t0);
      const goodUnits = valueAt(good, t1) - valueAt(good, t0);
      const kwh = kwhAt(meter, t1) - kwhAt(meter, t0);

      const r: MetricsRecord = imm1.record!;
      const hand = {
        plannedMs,
        runMs,
        total: units,
        good: goodUnits,
        availability: plannedMs > 0 ? runMs / plannedMs : null,
        performance: runMs > 0 ? Math.min(1, (IMM1_IDEAL_S * 1000 * units) / runMs) : null,
        quality: units > 0 ? goodUnits / units : null,
      };
      const oee =
        hand.availability !== null && hand.performance !== null && hand.quality !== null
          ? hand.availability * hand.performance * hand.quality
          : null;
      // shown in the test output: the check, number by number
      console.log(
        JSON.stringify(
          {
            window: [new Date(t0).toISOString(), new Date(t1).toISOString()],
            hand: { ...hand, oee, lineKwh: kwh, kgCO2eLocation: kwh * LOCATION_FACTOR },
            gateway: {
              plannedMs: r.plannedMs,
              runMs: r.runMs,
              total: r.total,
              good: r.good,
              availability: r.availability,
              performance: r.performance,
              quality: r.quality,
              oee: r.oee,
              lineKwh: line1.record!.kwh,
              kgCO2eLocation: line1.record!.kgCO2e.location,
            },
          },
          null,
          2,
        ),
      );
      expect(r.plannedMs).toBe(hand.plannedMs);
      expect(r.runMs).toBe(hand.runMs);
      expect(r.total).toBe(hand.total);
      expect(r.good).toBe(hand.good);
      const close = (a: number | null, b: number | null) => {
        if (b === null) expect(a).toBeNull();
        else expect(a).toBeCloseTo(b, 9);
      };
      close(r.availability, hand.availability);
      close(r.performance, hand.performance);
      close(r.quality, hand.quality);
      close(r.oee, oee);
      expect(kwh).toBeGreaterThan(0);
      expect(line1.record!.kwh).toBeCloseTo(kwh, 6);
      expect(line1.record!.kgCO2e.location).toBeCloseTo(kwh * LOCATION_FACTOR, 6);
      expect(line1.record!.kgCO2e.market).toBeCloseTo(kwh * MARKET_FACTOR, 6);
    } finally {
      db.close();
    }
  }, 150_000);

  it('a restart mid-shift continues the shift and the day instead of starting over', async () => {
    const url = demo!.url;
    const deadline = Date.now() + 30_000;
    while (((await entity(url, '/api/metrics/machine/imm1?window=today')).record?.total ?? 0) === 0) {
      if (Date.now() > deadline) throw new Error('imm1 made nothing in 30 s');
      await sleep(500);
    }
    const before = await entity(url, '/api/metrics/machine/imm1?window=today');
    const lineBefore = await entity(url, '/api/metrics/line/line1?window=today');
    // whole minutes before the stop whose readings have all arrived
    const from = before.record!.window.from;
    const to = Math.floor((Date.now() - 6000) / MINUTE) * MINUTE;
    const old = await entity(url, `/api/metrics/machine/imm1?from=${from}&to=${to}`);
    const oldLine = await entity(url, `/api/metrics/line/line1?from=${from}&to=${to}`);

    await demo!.stop();
    demo = undefined;
    await sleep(2000);
    demo = await startDemo({ root, port: 0, freePorts: true, dataDir, seed: 11 });
    const after = await entity(demo.url, '/api/metrics/machine/imm1?window=today');
    const lineAfter = await entity(demo.url, '/api/metrics/line/line1?window=today');
    expect(after.ready).toBe(true);
    const b = before.record!;
    const a = after.record!;
    // nothing is lost: counts, energy and time only grow
    expect(b.total!).toBeGreaterThan(0);
    expect(a.total!).toBeGreaterThanOrEqual(b.total!);
    expect(a.good!).toBeGreaterThanOrEqual(b.good!);
    expect(a.elapsedMs).toBeGreaterThan(b.elapsedMs);
    // the live answer before the stop reached the request's instant; the rebuilt one knows the
    // machine's state up to its last stored reading, up to a poll interval earlier
    expect(a.states.running).toBeGreaterThanOrEqual(b.states.running - 2000);
    expect(lineAfter.record!.kwh!).toBeGreaterThanOrEqual(lineBefore.record!.kwh! - 1e-9);
    // the time the gateway was away is offline, not invented production
    expect(a.states.offline - b.states.offline).toBeGreaterThanOrEqual(1500);

    // the rebuilt engine tells the same story about the time before the stop
    const rebuilt = await entity(demo.url, `/api/metrics/machine/imm1?from=${from}&to=${to}`);
    const rebuiltLine = await entity(demo.url, `/api/metrics/line/line1?from=${from}&to=${to}`);
    const o = old.record!;
    const n = rebuilt.record!;
    expect(n.total).toBe(o.total);
    expect(n.good).toBe(o.good);
    expect(n.runMs).toBe(o.runMs);
    expect(n.plannedMs).toBe(o.plannedMs);
    expect(n.states).toEqual(o.states);
    expect(rebuiltLine.record!.kwh).toBeCloseTo(oldLine.record!.kwh!, 9);
  }, 60_000);
});
