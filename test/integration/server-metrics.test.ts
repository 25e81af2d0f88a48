import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfigText } from '../../config/loader.js';
import type { CoreSample, EntityRef, WindowSpec } from '../../gateway/core/index.js';
import { MetricsService } from '../../gateway/pipeline/index.js';
import type {
  ApiError,
  EntityMetricsResponse,
  LiveServerMessage,
  MetricsOverview,
  MetricsSeriesResponse,
} from '../../gateway/server/contract.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import type { HealthReport, ServerDeps } from '../../gateway/server/ports.js';
import { createServer, type GreenlineServer } from '../../gateway/server/server.js';
import { SqliteStore } from '../../gateway/store/index.js';
import { freePort } from './peers/free-port.js';

const MIN = 60_000;
/** a wall-clock time on 2025-03-04 (a Tuesday) in Hong Kong (UTC+8, no DST) */
const hk = (h: number, m = 0, s = 0, ms = 0) => Date.UTC(2025, 2, 4, h - 8, m, s, ms);

const plant = loadConfigText(`
site:
  id: works
  name: Test Works
  timezone: Asia/Hong_Kong
  carbonTables: [grid]
areas:
  - { id: a1, name: Assembly }
lines:
  - id: L1
    name: Line 1
    area: a1
    outputMachine: M2
    calendar: day
    machines:
      - id: M1
        name: Filler
        idealCycleTimeS: 2
        state:
          tag: m1_state
          map: { '0': offline, '1': running, '3': unplanned-stop }
        counters: { total: m1_total, good: m1_good }
        energy: { kwhTag: m1_kwh }
      - id: M2
        name: Capper
        idealCycleTimeS: 2.5
        state:
          tag: m2_state
          map: { '0': offline, '1': running, '3': unplanned-stop }
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
calendars:
  - id: day
    shifts:
      - id: early
        start: '07:00'
        end: '15:00'
        breaks: [{ start: '10:00', end: '10:15' }]
      - id: late
        start: '16:00'
        end: '22:00'
carbonTables:
  - id: grid
    factors:
      - { from: '2024-01-01', kgCO2ePerKwh: 0.39, source: CLP Power 2023, method: location }
`);

/** the server's (and the service's) clock: mid-shift, not on a whole minute */
const NOW = hk(9, 30, 30, 500);

/**
 * Known readings from 06:50: both machines run from 07:00, M1 stops 08:00–08:10;
 * every 10 s a running machine makes 4 units (M1: every 5th tick one of them
 * is rejected), M1's meter draws 12 kW running and 2 kW stopped.
 */
function knownSamples(): CoreSample[] {
  const out: CoreSample[] = [];
  let total1 = 100;
  let reject1 = 0;
  let total2 = 500;
  let kwh = 1000;
  let tick = 0;
  for (let t = hk(6, 50); t < NOW - 5000; t += 10_000, tick++) {
    const m1Running = t >= hk(7) && (t < hk(8) || t >= hk(8, 10));
    const m2Running = t >= hk(7);
    if (m1Running) {
      total1 += 4;
      if (tick % 5 === 0) reject1++;
    }
    if (m2Running) total2 += 4;
    kwh += ((m1Running ? 12 : 2) * 10) / 3600;
    if (tick % 6 === 0 || t === hk(7) || t === hk(8) || t === hk(8, 10)) {
      out.push({ tagId: 'm1_state', ts: t, value: t < hk(7) ? 0 : m1Running ? 1 : 3, quality: 'good' });
      out.push({ tagId: 'm2_state', ts: t + 1, value: m2Running ? 1 : 0, quality: 'good' });
    }
    out.push({ tagId: 'm1_total', ts: t, value: total1, quality: 'good' });
    out.push({ tagId: 'm1_good', ts: t, value: total1 - reject1, quality: 'good' });
    out.push({ tagId: 'm1_kwh', ts: t, value: kwh, quality: 'good' });
    out.push({ tagId: 'm2_total', ts: t + 1, value: total2, quality: 'good' });
    out.push({ tagId: 'm2_good', ts: t + 1, value: total2, quality: 'good' });
  }
  return out;
}

const health: HealthReport = {
  status: 'ok',
  startedAt: 0,
  now: 0,
  devices: [],
  store: { path: '', samplesWritten: 0, pendingRows: 0, dropped: 0, lastError: null },
  sinks: [],
  pipeline: { samplesIn: 0, rejected: 0 },
};
const quiet = { info() {}, warn() {}, error() {} };
const storeLog = { debug() {}, info() {}, warn() {}, error() {} };

let tmp: string;
let store: SqliteStore;
let metrics: MetricsService;
const clock = { t: NOW };
const running: GreenlineServer[] = [];
const sockets: WebSocket[] = [];
let base: string;
let wsUrl: string;
/** a gateway without metrics */
let bare: string;
/** a gateway whose metrics are still being rebuilt */
let rebuilding: string;

function deps(source: MetricsService | undefined): ServerDeps {
  return {
    config: plant,
    live: new MemoryLiveSource(),
    health: () => health,
    history: { history: () => [] },
    ...(source ? { metrics: source } : {}),
    dashboardDir: tmp,
    log: quiet,
  };
}

async function startServer(source: MetricsService | undefined): Promise<string> {
  const server = createServer(deps(source), { auth: null, now: () => clock.t });
  running.push(server);
  const { url } = await server.start('127.0.0.1', await freePort());
  return url;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gl-server-metrics-'));
  store = new SqliteStore({
    path: join(tmp, 'greenline.db'),
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 10_000,
    batchMaxDelayMs: 20,
    log: storeLog,
    pruneFirstDelayMs: 3_600_000,
  });
  await store.start();
  const samples = knownSamples();
  store.writer.write(samples);
  while (store.writer.pendingRows > 0) if (!store.writer.flushOne()) throw new Error(String(store.stats().lastError));
  // started at the last reading (a start later on would be a downtime: offline, no data), then time goes on
  clock.t = samples.at(-1)!.ts;
  metrics = new MetricsService({ plant, store, log: quiet, now: () => clock.t });
  await metrics.start();
  clock.t = NOW;
  base = await startServer(metrics);
  wsUrl = `${base.replace('http', 'ws')}/api/live/ws`;
  bare = await startServer(undefined);
  // constructed, never started: what a client sees while the rebuild runs
  rebuilding = await startServer(new MetricsService({ plant, store, log: quiet, now: () => clock.t }));
});

afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate();
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  metrics?.stop();
  await store?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function get<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/** what JSON makes of a value (-0 → 0, undefined dropped) */
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const M1: EntityRef = { type: 'machine', id: 'M1' };
const M2: EntityRef = { type: 'machine', id: 'M2' };
const L1: EntityRef = { type: 'line', id: 'L1' };

describe('metrics over HTTP', () => {
  it('the overview holds every line and machine with the service figures', async () => {
    const { status, body } = await get<MetricsOverview>(`${base}/api/metrics?window=today`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ serverTime: NOW, window: 'today', timezone: 'Asia/Hong_Kong', ready: true });
    expect(body.lines).toHaveLength(1);
    const line = body.lines[0]!;
    expect(line).toMatchObject({ id: 'L1', name: 'Line 1', area: 'a1', outputMachine: 'M2' });
    expect(line.machines.map((m) => [m.id, m.name])).toEqual([
      ['M1', 'Filler'],
      ['M2', 'Capper'],
    ]);
    const today: WindowSpec = { kind: 'today' };
    expect(line.record).toEqual(json(metrics.snapshot(L1, today, NOW)));
    expect(line.machines[0]!.record).toEqual(json(metrics.snapshot(M1, today, NOW)));
    expect(line.machines[1]!.record).toEqual(json(metrics.snapshot(M2, today, NOW)));
    expect(line.machines[0]!.status).toEqual(json(metrics.machineStatus('M1')));

    // the known readings: 07:00–09:30 at 4 units per 10 s, M1 stopped 08:00–08:10
    const m1 = line.machines[0]!.record!;
    expect(m1.window).toMatchObject({ kind: 'today', from: hk(0), asOf: NOW });
    const m1Totals = knownSamples().filter((s) => s.tagId === 'm1_total');
    expect(m1.total).toBe((m1Totals.at(-1)!.value as number) - 100);
    expect(m1.total).toBe(4 * (6 * 150 + 3 - 60)); // 07:00:00 … 09:30:20, less the stop
    expect(m1.reject).toBeGreaterThan(0);
    expect(m1.states.unplannedStop).toBe(10 * MIN);
    expect(m1.stops).toBe(1);
    expect(m1.kwh).toBeGreaterThan(25);
    expect(m1.kgCO2e.location).toBeCloseTo(m1.kwh! * 0.39, 9);
    expect(line.record!.total).toBe(line.machines[1]!.record!.total); // the output machine's
    expect(line.machines[1]!.record!.kwh).toBeNull(); // no meter
    expect(line.machines[0]!.status).toMatchObject({ state: 'running', noData: false });
  });

  it.each([
    ['shift', 'current-shift'],
    ['prev-shift', 'previous-shift'],
    ['hour', 'last-hour'],
  ] as const)('window=%s is the %s window', async (name, kind) => {
    const { status, body } = await get<MetricsOverview>(`${base}/api/metrics?window=${name}`);
    expect(status).toBe(200);
    expect(body.window).toBe(name);
    expect(body.lines[0]!.machines[0]!.record).toEqual(json(metrics.snapshot(M1, { kind }, NOW)));
  });

  it('without a window is the current shift; from/to is a range', async () => {
    const plain = await get<MetricsOverview>(`${base}/api/metrics`);
    expect(plain.body.window).toBe('shift');
    expect(plain.body.lines[0]!.record!.window).toMatchObject({ kind: 'current-shift', from: hk(7), to: hk(15) });
    const from = '2025-03-04T07:30:00+08:00';
    const range = await get<MetricsOverview>(`${base}/api/metrics?from=${encodeURIComponent(from)}&to=${hk(8, 30)}`);
    expect(range.status).toBe(200);
    expect(range.body.window).toBe('range');
    expect(range.body.lines[0]!.machines[0]!.record).toEqual(
      json(metrics.snapshot(M1, { kind: 'range', from: hk(7, 30), to: hk(8, 30) }, NOW)),
    );
  });

  it('one entity, by window or range', async () => {
    const { status, body } = await get<EntityMetricsResponse>(`${base}/api/metrics/machine/M1?window=hour`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ serverTime: NOW, entity: M1, name: 'Filler', ready: true });
    expect(body.status).toEqual(json(metrics.machineStatus('M1')));
    expect(body.record).toEqual(json(metrics.snapshot(M1, { kind: 'last-hour' }, NOW)));
    const line = await get<EntityMetricsResponse>(`${base}/api/metrics/line/L1?from=${hk(7)}&to=${hk(8)}`);
    expect(line.status).toBe(200);
    expect(line.body).toMatchObject({ entity: L1, name: 'Line 1', status: null });
    expect(line.body.record).toEqual(json(metrics.snapshot(L1, { kind: 'range', from: hk(7), to: hk(8) }, NOW)));
    expect(line.body.record!.total).toBe(4 * 360);
  });

  it('a series of whole-minute buckets, at most maxPoints, that add up to the window', async () => {
    for (const [query, window] of [
      ['window=today&maxPoints=7', { kind: 'today' }],
      ['window=shift', { kind: 'current-shift' }],
      ['window=hour&maxPoints=1', { kind: 'last-hour' }],
      ['window=hour&maxPoints=2000', { kind: 'last-hour' }],
      [
        `from=${hk(7, 0, 30)}&to=${hk(8, 20, 10)}&maxPoints=9`,
        { kind: 'range', from: hk(7, 0, 30), to: hk(8, 20, 10) },
      ],
    ] as const) {
      for (const entity of [M1, L1]) {
        const { status, body } = await get<MetricsSeriesResponse>(
          `${base}/api/metrics/${entity.type}/${entity.id}/series?${query}`,
        );
        expect(status, query).toBe(200);
        const max = Number(/maxPoints=(\d+)/.exec(query)?.[1] ?? 240);
        const whole = metrics.snapshot(entity, window, NOW)!;
        expect(body.entity).toEqual(entity);
        expect(body.bucketMs % MIN, query).toBe(0);
        expect(body.bucketMs, query).toBeGreaterThanOrEqual(MIN);
        expect(body.points.length, query).toBeGreaterThan(0);
        expect(body.points.length, query).toBeLessThanOrEqual(max);
        expect(body.from, query).toBe(whole.window.from);
        body.points.forEach((p, i) => {
          expect(p.from, `${query} point ${i}`).toBe(body.from + i * body.bucketMs);
          expect(p.to - p.from, `${query} point ${i}`).toBeLessThanOrEqual(body.bucketMs);
          if (i > 0) expect(p.from).toBe(body.points[i - 1]!.to);
        });
        // the points reach now, whole minutes
        expect(body.points.at(-1)!.to).toBe(Math.ceil(Math.min(whole.window.to, NOW) / MIN) * MIN);
        const sum = (f: (p: (typeof body.points)[number]) => number | null) =>
          body.points.reduce((s, p) => s + (f(p) ?? 0), 0);
        expect(
          sum((p) => p.total),
          query,
        ).toBe(whole.total);
        expect(
          sum((p) => p.good),
          query,
        ).toBe(whole.good);
        expect(
          sum((p) => p.reject),
          query,
        ).toBe(whole.reject);
        expect(
          sum((p) => p.plannedMs),
          query,
        ).toBe(whole.plannedMs);
        expect(
          sum((p) => p.runMs),
          query,
        ).toBe(whole.runMs);
        expect(
          sum((p) => p.stopMs),
          query,
        ).toBe(whole.stopMs);
        expect(
          sum((p) => p.kwh),
          query,
        ).toBeCloseTo(whole.kwh ?? 0, 9);
        expect(
          sum((p) => p.kgCO2e),
          query,
        ).toBeCloseTo(whole.kgCO2e.location ?? 0, 9);
      }
    }
  });

  it('a series of a window that does not exist now is empty', async () => {
    const saved = clock.t;
    clock.t = hk(15, 30, 20, 250); // between the shifts
    try {
      const { status, body } = await get<MetricsSeriesResponse>(`${base}/api/metrics/machine/M1/series?window=shift`);
      expect(status).toBe(200);
      expect(body.points).toEqual([]);
      const overview = await get<MetricsOverview>(`${base}/api/metrics?window=shift`);
      expect(overview.body.lines[0]!.record).toBeNull();
      expect(overview.body.lines[0]!.machines[0]!.record).toBeNull();
    } finally {
      clock.t = saved;
    }
  });

  it.each([
    ['a window not named', '/api/metrics?window=week', 'query.window'],
    ['a window and from', `/api/metrics?window=today&from=${hk(7)}`, 'query.window'],
    ['a window and to', `/api/metrics?window=today&to=${hk(7)}`, 'query.window'],
    ['to without from', `/api/metrics?to=${hk(7)}`, 'query.from'],
    ['from after to', `/api/metrics?from=${hk(8)}&to=${hk(7)}`, 'query.to'],
    ['from equal to to', `/api/metrics?from=${hk(8)}&to=${hk(8)}`, 'query.to'],
    ['from in the future without to', `/api/metrics?from=${NOW + 1000}`, 'query.from'],
    ['from not a time', '/api/metrics?from=yesterday', 'query.from'],
    ['a range over 400 days', `/api/metrics?from=${hk(7) - 401 * 86_400_000}&to=${hk(7)}`, 'query.from'],
    ['an unknown query key', '/api/metrics?window=today&line=L1', 'query'],
    ['a repeated window', '/api/metrics?window=today&window=hour', 'query.window'],
    ['an unknown key on an entity', '/api/metrics/machine/M1?windows=today', 'query'],
    ['maxPoints 0', '/api/metrics/machine/M1/series?maxPoints=0', 'query.maxPoints'],
    ['maxPoints 99999', '/api/metrics/machine/M1/series?maxPoints=99999', 'query.maxPoints'],
    ['maxPoints abc', '/api/metrics/machine/M1/series?maxPoints=abc', 'query.maxPoints'],
    ['maxPoints 2.5', '/api/metrics/machine/M1/series?maxPoints=2.5', 'query.maxPoints'],
    ['maxPoints on the overview', '/api/metrics?maxPoints=10', 'query'],
    ['a series window not named', '/api/metrics/line/L1/series?window=week', 'query.window'],
    ['a bad entity type', '/api/metrics/robot/M1', 'params.type'],
    ['a bad entity type on a series', '/api/metrics/machines/M1/series', 'params.type'],
    ['an id that is not an id', '/api/metrics/machine/1-bad', 'params.id'],
  ])('answers 400 for %s', async (_label, path, issuePath) => {
    const { status, body } = await get<ApiError>(`${base}${path}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('GL_ERR_BAD_REQUEST');
    expect(body.error.issues?.map((i) => i.path)).toContain(issuePath);
    for (const issue of body.error.issues ?? []) expect(issue.message.length).toBeGreaterThan(5);
  });

  it('names the allowed windows in a 400', async () => {
    const { body } = await get<ApiError>(`${base}/api/metrics?window=week`);
    for (const w of ['shift', 'prev-shift', 'hour', 'today']) expect(body.error.message).toContain(w);
  });

  it.each([
    '/api/metrics/machine/M9',
    '/api/metrics/line/M1',
    '/api/metrics/machine/L1',
    '/api/metrics/machine/M9/series',
  ])('answers 404 for %s', async (path) => {
    const { status, body } = await get<ApiError>(`${base}${path}`);
    expect(status).toBe(404);
    expect(body.error.code).toBe('GL_ERR_NOT_FOUND');
    expect(body.error.message).toContain('/api/plant');
  });

  it('says so while the metrics are rebuilt: not ready, no records, empty series', async () => {
    const overview = await get<MetricsOverview>(`${rebuilding}/api/metrics?window=today`);
    expect(overview.status).toBe(200);
    expect(overview.body.ready).toBe(false);
    expect(overview.body.lines[0]!.record).toBeNull();
    expect(overview.body.lines[0]!.machines.map((m) => [m.status, m.record])).toEqual([
      [null, null],
      [null, null],
    ]);
    const entity = await get<EntityMetricsResponse>(`${rebuilding}/api/metrics/machine/M2?window=shift`);
    expect(entity.body).toMatchObject({ ready: false, status: null, record: null, name: 'Capper' });
    const series = await get<MetricsSeriesResponse>(`${rebuilding}/api/metrics/line/L1/series?window=today`);
    expect(series.status).toBe(200);
    expect(series.body.points).toEqual([]);
  });

  it.each(['/api/metrics', '/api/metrics/machine/M1', '/api/metrics/machine/M1/series?window=today'])(
    'answers 503 for %s without a metrics source',
    async (path) => {
      const { status, body } = await get<ApiError>(`${bare}${path}`);
      expect(status).toBe(503);
      expect(body.error.code).toBe('GL_ERR_UNAVAILABLE');
    },
  );
});

// ---------- live hub ----------

class Client {
  readonly messages: LiveServerMessage[] = [];
  readonly at: number[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as LiveServerMessage);
      this.at.push(performance.now());
    });
  }

  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    sockets.push(ws);
    const client = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.until(() => client.of('hello').length > 0);
    return client;
  }

  of<T extends LiveServerMessage['type']>(type: T): Extract<LiveServerMessage, { type: T }>[] {
    return this.messages.filter((m): m is Extract<LiveServerMessage, { type: T }> => m.type === type);
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  async until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!cond()) {
      if (performance.now() > deadline) {
        throw new Error(`not within ${timeoutMs} ms; last: ${JSON.stringify(this.messages.slice(-2)).slice(0, 400)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

describe('metrics over the live WebSocket', () => {
  it('pushes the overview at once and then about every second, until told to stop', async () => {
    const c = await Client.open(wsUrl);
    const asked = performance.now();
    c.send({ type: 'metrics', window: 'today' });
    await c.until(() => c.of('metrics').length >= 1, 500);
    const first = c.of('metrics')[0]!;
    const firstAt = c.at[c.messages.indexOf(first)]!;
    expect(firstAt - asked).toBeLessThan(300);
    expect(first.overview).toEqual(
      json({
        serverTime: NOW,
        window: 'today',
        timezone: 'Asia/Hong_Kong',
        ready: true,
        lines: (await get<MetricsOverview>(`${base}/api/metrics?window=today`)).body.lines,
      }),
    );
    expect(first.overview.lines[0]!.machines[0]!.record).toEqual(json(metrics.snapshot(M1, { kind: 'today' }, NOW)));

    await c.until(() => c.of('metrics').length >= 2, 1500);
    const second = c.of('metrics')[1]!;
    expect(second.overview.window).toBe('today');

    // another window replaces the first
    c.send({ type: 'metrics', window: 'hour' });
    await c.until(() => c.of('metrics').some((m) => m.overview.window === 'hour'), 500);

    c.send({ type: 'metrics', window: null });
    // a push already on its way may still land; after that, nothing for more than a push interval
    await new Promise((r) => setTimeout(r, 100));
    const count = c.of('metrics').length;
    await new Promise((r) => setTimeout(r, 1300));
    expect(c.of('metrics').length).toBe(count);
    expect(c.of('error')).toEqual([]);
  });

  it('refuses a window it does not know, naming the allowed ones', async () => {
    const c = await Client.open(wsUrl);
    c.send({ type: 'metrics', window: 'week' });
    await c.until(() => c.of('error').length === 1, 1000);
    const err = c.of('error')[0]!;
    expect(err.code).toBe('GL_ERR_BAD_MESSAGE');
    for (const w of ['shift', 'prev-shift', 'hour', 'today']) expect(err.message).toContain(`"${w}"`);
    c.send({ type: 'metrics' });
    await c.until(() => c.of('error').length === 2, 1000);
    expect(c.of('error')[1]!.message).toContain('window');
    // the connection stays usable
    c.send({ type: 'metrics', window: 'shift' });
    await c.until(() => c.of('metrics').length === 1, 1000);
    expect(c.of('metrics')[0]!.overview.window).toBe('shift');
  });

  it('tells a client of a gateway without metrics that there are none', async () => {
    const c = await Client.open(`${bare.replace('http', 'ws')}/api/live/ws`);
    c.send({ type: 'metrics', window: 'today' });
    await c.until(() => c.of('error').length === 1, 1000);
    expect(c.of('error')[0]!.code).toBe('GL_ERR_NOT_FOUND');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.of('metrics')).toEqual([]);
  });
});
