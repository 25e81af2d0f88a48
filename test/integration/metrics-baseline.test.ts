/**
 * The energy baseline of a line (ISO 50006) from stored history, through the
 * metrics service and the HTTP route: a line whose every hour used exactly
 * c + m·units gives back c and m.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../config/loader.js';
import type { CoreSample } from '../../gateway/core/index.js';
import { MetricsService } from '../../gateway/pipeline/index.js';
import type { BaselineResponse } from '../../gateway/server/contract.js';
import { createServer, type GreenlineServer } from '../../gateway/server/index.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import { SqliteStore } from '../../gateway/store/index.js';

const MIN = 60_000;
const HOUR = 3_600_000;
/** 2025-03-03 00:00 in Hong Kong */
const START = Date.UTC(2025, 2, 2, 16, 0);
const C = 14; // kWh per hour with nothing made
const M = 0.0125; // kWh per unit

const plant = loadConfigText(`
site: { id: s, name: S, timezone: Asia/Hong_Kong }
areas: [{ id: a, name: A }]
lines:
  - id: L1
    name: Line 1
    area: a
    outputMachine: P1
    calendar: day
    energy: { kwhTag: meter }
    machines:
      - id: P1
        name: Press
        idealCycleTimeS: 1
        state: { tag: state, map: { '1': running, '2': idle } }
        counters: { total: total, good: good }
devices:
  - protocol: modbus-tcp
    id: plc
    host: 127.0.0.1
    tags:
      - { id: state, address: 'hr:0', type: uint16 }
      - { id: total, address: 'hr:1', type: uint32 }
      - { id: good, address: 'hr:3', type: uint32 }
      - { id: meter, address: 'hr:5', type: float64, unit: kWh }
calendars:
  - id: day
    shifts: [{ id: day, start: '07:00', end: '19:00' }]
`);

/** units made in hour h: 60 × (1…7), so every minute makes a whole number */
const unitsIn = (h: number) => 60 * (1 + ((h * 5) % 7));

/** a reading every minute; within hour h the line draws C + M·units(h) kW, evenly */
function history(hours: number): CoreSample[] {
  const out: CoreSample[] = [];
  let count = 0;
  let kwh = 1000;
  const push = (ts: number) => {
    out.push({ tagId: 'state', ts, value: 1, quality: 'good' });
    out.push({ tagId: 'total', ts, value: count, quality: 'good' });
    out.push({ tagId: 'good', ts, value: count, quality: 'good' });
    out.push({ tagId: 'meter', ts, value: kwh, quality: 'good' });
  };
  push(START);
  for (let h = 0; h < hours; h++) {
    const perMinute = unitsIn(h) / 60;
    const kwhPerMinute = (C + M * unitsIn(h)) / 60;
    for (let m = 1; m <= 60; m++) {
      count += perMinute;
      kwh += kwhPerMinute;
      push(START + h * HOUR + m * MIN);
    }
  }
  return out;
}

describe('energy baseline from stored history', () => {
  let dir: string;
  let store: SqliteStore;
  let service: MetricsService;
  let server: GreenlineServer;
  let url: string;
  const HOURS = 84; // ends 2025-03-06 12:00, in the day shift
  const now = START + HOURS * HOUR;
  const log = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'greenline-baseline-'));
    store = new SqliteStore({ ...plant.store, path: join(dir, 'g.db'), log, pruneFirstDelayMs: 3_600_000 });
    await store.start();
    // a first service follows the line live for three days, persisting its minutes as it goes
    const samples = history(HOURS);
    let clock = START;
    const first = new MetricsService({ plant, store, log, now: () => clock, persistEveryMs: 5 });
    await first.start();
    for (let h = 0; h < HOURS; h++) {
      const batch = samples.filter((s) => s.ts >= START + h * HOUR && s.ts < START + (h + 1) * HOUR);
      store.writer.write(batch);
      first.onSamples(batch);
      clock = START + (h + 1) * HOUR;
      await new Promise((r) => setTimeout(r, 15));
    }
    const last = samples.filter((s) => s.ts >= START + HOURS * HOUR);
    store.writer.write(last);
    first.onSamples(last);
    clock = now;
    first.stop();
    while (store.writer.pendingRows > 0) store.writer.flushOne();
    // the gateway restarts: the last day or so rebuilt from raw samples, older hours from persisted minutes
    service = new MetricsService({ plant, store, log, now: () => now });
    await service.start();
    server = createServer(
      {
        config: plant,
        live: new MemoryLiveSource(),
        health: () => {
          throw new Error('not used');
        },
        history: store,
        metrics: service,
        dashboardDir: dir,
        log,
      },
      { auth: null, now: () => now },
    );
    url = (await server.start('127.0.0.1', 0)).url;
  });

  afterAll(async () => {
    await server?.stop();
    service?.stop();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fits c and m of a line that used exactly c + m·units each hour', () => {
    const report = service.baseline('L1', 2, now)!;
    expect(report.to).toBe(START + HOURS * HOUR);
    expect(report.from).toBe(report.to - 48 * HOUR);
    expect(report.used).toBe(48);
    expect(report.excluded).toBe(0);
    expect(report.model!.intercept).toBeCloseTo(C, 6);
    expect(report.model!.slope).toBeCloseTo(M, 9);
    expect(report.model!.r2).toBeCloseTo(1, 9);
  });

  it('leaves out hours without data, and compares the current shift with the model', () => {
    const report = service.baseline('L1', 4, now)!;
    // the first half day of four had no data (before the history starts)
    expect(report.used).toBe(HOURS);
    expect(report.excluded).toBe(96 - HOURS);
    // the running shift so far (07:00–12:00) followed the same law: EnPI 1
    const current = report.current!;
    expect(current.from).toBe(START + 3 * 24 * HOUR + 7 * HOUR);
    expect(current.enpi).toBeCloseTo(1, 6);
    expect(current.expectedKwh).toBeCloseTo(current.actualKwh, 6);
  });

  it('answers over HTTP, with 400 and 404 for bad input', async () => {
    const res = await fetch(`${url}/api/metrics/line/L1/baseline?days=2`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as BaselineResponse;
    expect(body.model!.slope).toBeCloseTo(M, 9);
    expect(body.serverTime).toBe(now);

    const bad = await fetch(`${url}/api/metrics/line/L1/baseline?days=0`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe('query.days');
    const unknownKey = await fetch(`${url}/api/metrics/line/L1/baseline?weeks=2`);
    expect(unknownKey.status).toBe(400);
    const missing = await fetch(`${url}/api/metrics/line/nope/baseline`);
    expect(missing.status).toBe(404);
  });
});
