/**
 * CSV exports against a real SQLite store and a real server over HTTP. The
 * per-minute metrics come from a real MetricsEngine fed with simulated
 * readings over a few days of a Europe/London site (both clock changes of
 * 2025), persisted the way the metrics service persists them; the dashboard's
 * numbers come from a real MetricsService over the same store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../config/loader.js';
import {
  type Accumulator,
  accumulatorFromJson,
  type CoreSample,
  dayNumberOf,
  type EntityRef,
  instantOf,
  MetricsEngine,
  sumAccumulators,
} from '../../gateway/core/index.js';
import { MetricsService } from '../../gateway/pipeline/index.js';
import type { ApiError, EntityMetricsResponse } from '../../gateway/server/contract.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import type { ExportSource, HealthReport, ServerDeps } from '../../gateway/server/ports.js';
import { createServer, type GreenlineServer } from '../../gateway/server/server.js';
import { SqliteStore } from '../../gateway/store/index.js';

const TZ = 'Europe/London';
const MIN = 60_000;
const HOUR = 3_600_000;
const STEP = 20_000;
/** the server's clock: after all the data */
const NOW = Date.parse('2025-11-01T12:00:00Z');

/** a site-local wall time */
const local = (date: string, h = 0, m = 0) => instantOf(dayNumberOf(date), (h * 60 + m) * MIN, TZ);

const PLANT_YAML = `
site:
  id: works
  name: Test Works
  timezone: ${TZ}
  carbonTables: [grid, green]
areas:
  - { id: a1, name: Moulding }
  - { id: a2, name: Packing }
lines:
  - id: L1
    name: Line 1
    area: a1
    outputMachine: M2
    calendar: days
    energy: { kwhTag: l1_kwh }
    machines:
      - id: M1
        name: Press
        idealCycleTimeS: 2
        state: { tag: m1_state, map: { '0': offline, '1': running, '2': idle } }
        counters: { total: m1_total, good: m1_good }
        energy: { kwhTag: m1_kwh }
      - id: M2
        name: Trimmer
        idealCycleTimeS: 2
        state: { tag: m2_state, map: { '0': offline, '1': running, '2': idle } }
        counters: { total: m2_total, good: m2_good }
  - id: L2
    name: Line 2
    area: a2
    outputMachine: M3
    calendar: days
    machines:
      - id: M3
        name: Packer
        idealCycleTimeS: 3
        state: { tag: m3_state, map: { '0': offline, '1': running, '2': idle } }
        counters: { total: m3_total, reject: m3_reject }
        energy: { kwTag: m3_kw }
      - id: M4
        name: Wrapper
        idealCycleTimeS: 3
        state: { tag: m4_state, map: { '0': offline, '1': running, '2': idle } }
        energy: { kwhTag: m4_kwh }
devices:
  - protocol: modbus-tcp
    id: plc1
    host: 127.0.0.1
    tags:
      - { id: m1_state, address: '40001' }
      - { id: m1_total, address: '40002', type: uint32 }
      - { id: m1_good, address: '40004', type: uint32 }
      - { id: m1_kwh, address: '40006', type: float64, unit: kWh }
      - { id: m2_state, address: '40010' }
      - { id: m2_total, address: '40011', type: uint32 }
      - { id: m2_good, address: '40013', type: uint32 }
      - { id: l1_kwh, address: '40020', type: float64, unit: kWh }
      - { id: m3_state, address: '40030' }
      - { id: m3_total, address: '40031', type: uint32 }
      - { id: m3_reject, address: '40033', type: uint32 }
      - { id: m3_kw, address: '40035', type: float32, unit: kW }
      - { id: m4_state, address: '40040' }
      - { id: m4_kwh, address: '40041', type: float64, unit: kWh }
  - protocol: mqtt
    id: notes
    url: mqtt://127.0.0.1:1883
    tags:
      - { id: note, topic: plant/note, type: string }
      - { id: big, topic: plant/big }
calendars:
  - id: days
    shifts: [{ id: day, start: '06:00', end: '22:00' }]
carbonTables:
  - id: grid
    factors:
      - { from: '2025-01-01', to: '2025-03-28', kgCO2ePerKwh: 0.25, source: 'Grid 2024, "demo"', method: location }
      - { from: '2025-03-29', kgCO2ePerKwh: 0.2, source: '+Grid 2025 update', method: location }
  - id: green
    factors:
      - { from: '2025-03-31', kgCO2ePerKwh: 0.05, source: REC contract 2025, method: market }
`;

const plant = loadConfigText(PLANT_YAML);

// ---------- simulated readings ----------

const KW = {
  m1: { 1: 12, 2: 3 },
  m2: { 1: 6, 2: 2 },
  m3: { 1: 8, 2: 2 },
} as const;

/** raw state of a machine at `t`: running, idle for a few minutes of a fixed cycle */
function stateAt(machine: 'm1' | 'm2' | 'm3' | 'm4', t: number): 1 | 2 {
  const m = Math.floor(t / MIN);
  switch (machine) {
    case 'm1':
      return m % 97 < 11 ? 2 : 1;
    case 'm2':
      return m % 61 < 7 ? 2 : 1;
    case 'm3':
      return m % 45 < 5 ? 2 : 1;
    case 'm4':
      return 1;
  }
}

/**
 * Every tag every 20 s from `from` to `to`. M4's kWh meter answers badly for
 * 20 minutes from `gap` (its register keeps counting meanwhile).
 */
function simulate(from: number, to: number, gap?: number): CoreSample[] {
  const out: CoreSample[] = [];
  const c = { m1: 500, m2: 400, m3: 300 };
  const kwh = { m1: 1000, l1: 5000, m4: 2000 };
  for (let t = from; t <= to; t += STEP) {
    const s = { m1: stateAt('m1', t), m2: stateAt('m2', t), m3: stateAt('m3', t), m4: stateAt('m4', t) };
    if (t > from) {
      const h = STEP / HOUR;
      if (s.m1 === 1) c.m1 += 9;
      if (s.m2 === 1) c.m2 += 8;
      if (s.m3 === 1) c.m3 += 6;
      kwh.m1 += KW.m1[s.m1] * h;
      kwh.l1 += (KW.m1[s.m1] + KW.m2[s.m2] + 1) * h;
      kwh.m4 += 4 * h;
    }
    const g = (tagId: string, value: number): CoreSample => ({ tagId, ts: t, value, quality: 'good' });
    out.push(
      g('m1_state', s.m1),
      g('m1_total', c.m1),
      g('m1_good', c.m1 - Math.floor(c.m1 / 40)),
      g('m1_kwh', kwh.m1),
      g('m2_state', s.m2),
      g('m2_total', c.m2),
      g('m2_good', c.m2 - Math.floor(c.m2 / 40)),
      g('l1_kwh', kwh.l1),
      g('m3_state', s.m3),
      g('m3_total', c.m3),
      g('m3_reject', Math.floor(c.m3 / 25)),
      g('m3_kw', KW.m3[s.m3]),
      g('m4_state', s.m4),
    );
    if (gap !== undefined && t >= gap && t < gap + 20 * MIN) {
      out.push({ tagId: 'm4_kwh', ts: t, value: null, quality: 'bad', reason: 'timeout' });
    } else out.push(g('m4_kwh', kwh.m4));
  }
  return out;
}

// ---------- harness ----------

let dir: string;
let store: SqliteStore;
let service: MetricsService;
let server: GreenlineServer;
let base: string;
const counted = { rawRows: 0 };
const logged: { level: string; msg?: string }[] = [];

const quiet = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

function flush(): void {
  while (store.writer.pendingRows > 0) if (!store.writer.flushOne()) throw new Error(String(store.stats().lastError));
}

/** feeds a real engine in order, persisting closed minutes as the metrics service does */
function runEngine(samples: readonly CoreSample[], origin: number): void {
  const engine = new MetricsEngine({
    plant,
    origin,
    setupCountsAs: plant.setupCountsAs,
    lineMetrics: plant.lineMetrics,
  });
  const persist = () => {
    const minutes = engine.drainClosedMinutes();
    store.putMetricsBatch(
      minutes.map((m) => ({ entityType: m.entity.type, entityId: m.entity.id, minuteTs: m.minute, payload: m.acc })),
    );
  };
  for (let i = 0; i < samples.length; i += 14 * 90) {
    engine.ingestBatch(samples.slice(i, i + 14 * 90));
    persist();
  }
  persist();
}

/** 30 min past the end of each run, so every minute up to the end is closed and persisted */
const RUN1 = { from: local('2025-03-28'), to: local('2025-04-01') + 30 * MIN, gap: local('2025-03-29', 10) };
const RUN2 = { from: local('2025-10-25', 12), to: local('2025-10-27') + 30 * MIN };
const BIG_ROWS = 500_000;
const BIG_FROM = Date.parse('2025-06-01T00:00:00Z');
const NOTES = [
  '=HYPERLINK("http://example.invalid","open")',
  '+1',
  '-2',
  '@SUM(A1)',
  'a,b',
  'say "hi"',
  'two\nlines',
  'plain',
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gl-export-'));
  store = new SqliteStore({
    path: join(dir, 'greenline.db'),
    rawRetentionDays: 3650,
    rollupRetentionDays: 3650,
    batchMaxRows: 50_000,
    batchMaxDelayMs: 50,
    log: quiet(),
    pruneFirstDelayMs: 3_600_000,
  });
  await store.start();

  const run1 = simulate(RUN1.from, RUN1.to, RUN1.gap);
  const run2 = simulate(RUN2.from, RUN2.to);
  runEngine(run1, RUN1.from);
  runEngine(run2, RUN2.from);
  store.writer.write(run1);
  store.writer.write(run2);
  store.writer.write(
    NOTES.map((value, i) => ({ tagId: 'note', ts: local('2025-03-29', 9, i), value, quality: 'good' as const })),
  );
  store.writer.write([
    { tagId: 'note', ts: local('2025-03-29', 9, 30), value: null, quality: 'bad' as const, reason: 'timeout, "late"' },
  ]);
  flush();
  for (let i = 0; i < BIG_ROWS; i += 50_000) {
    const batch: CoreSample[] = [];
    for (let k = i; k < i + 50_000; k++)
      batch.push({ tagId: 'big', ts: BIG_FROM + k * 100, value: k / 1000, quality: 'good' });
    store.writer.write(batch);
    flush();
  }

  service = new MetricsService({ plant, store, log: quiet(), now: () => NOW });
  await service.start();

  const exportsSource: ExportSource = {
    *rawSamplePages(tagIds, from, to, pageRows) {
      for (const page of store.rawSamplePages(tagIds, from, to, pageRows)) {
        counted.rawRows += page.length;
        yield page;
      }
    },
    rollupPages: (tagIds, from, to, pageRows) => store.rollupPages(tagIds, from, to, pageRows),
    metricsPages: (type, id, from, to, pageRows) => store.metricsPages(type, id, from, to, pageRows),
  };
  // a whole report: the server checks every answer against its schema before it sends it
  const health: HealthReport = {
    status: 'ok',
    startedAt: NOW,
    now: NOW,
    devices: [],
    store: { path: ':memory:', samplesWritten: 0, pendingRows: 0, dropped: 0, lastError: null },
    sinks: [],
    pipeline: { samplesIn: 0, rejected: 0 },
  };
  const deps: ServerDeps = {
    config: plant,
    live: new MemoryLiveSource(),
    health: () => health,
    history: store,
    metrics: service,
    exports: exportsSource,
    dashboardDir: join(dir, 'no-dashboard'),
    log: {
      info: (_o, msg) => logged.push({ level: 'info', msg }),
      warn: (_o, msg) => logged.push({ level: 'warn', msg }),
      error: (_o, msg) => logged.push({ level: 'error', msg }),
    },
  };
  server = createServer(deps, { auth: null, now: () => NOW });
  ({ url: base } = await server.start('127.0.0.1', 0));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  service?.stop();
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// ---------- reading CSV ----------

/** an RFC 4180 reader */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else if (c === '\n') throw new Error(`a bare LF outside quotes at ${i}`);
    else cell += c;
  }
  if (cell !== '' || row.length > 0) throw new Error('the last record does not end with CRLF');
  return rows;
}

interface Csv {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Buffer;
  readonly text: string;
  readonly header: string[];
  readonly rows: Record<string, string>[];
}

async function getCsv(path: string): Promise<Csv> {
  const res = await fetch(base + path);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${bytes.toString()}`);
  const text = bytes.toString('utf8');
  const [header, ...records] = parseCsv(text.replace(/^\uFEFF/, ''));
  const rows = records.map((r) => {
    expect(r).toHaveLength(header!.length);
    return Object.fromEntries(header!.map((h, i) => [h, r[i]!]));
  });
  return { status: res.status, headers: res.headers, bytes, text, header: header!, rows };
}

async function getError(path: string): Promise<{ status: number; body: ApiError }> {
  const res = await fetch(base + path);
  return { status: res.status, body: (await res.json()) as ApiError };
}

const num = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));
const iso = (t: number) => new Date(t).toISOString();
const energyPath = (q: Record<string, string>) => `/api/export/energy.csv?${new URLSearchParams(q)}`;

function stored(entity: EntityRef, from: number, to: number): Accumulator {
  return sumAccumulators(
    store.metrics(entity.type, entity.id, from, to - 1).map((r) => accumulatorFromJson(r.payload)!),
  );
}
const kwhOf = (a: Accumulator) => a.kwhProducing + a.kwhIdle + a.kwhStopped + a.kwhUnattributed;

function close(actual: number | null, expected: number, digits = 5): void {
  expect(actual).not.toBeNull();
  expect(actual!).toBeCloseTo(expected, digits);
}

// ---------- energy.csv ----------

describe('GET /api/export/energy.csv', () => {
  const day = { from: iso(RUN1.from), to: iso(local('2025-04-01')) };

  it('is a UTF-8 CSV with BOM and CRLF, named after the site and range, sent as an attachment', async () => {
    const csv = await getCsv(energyPath({ from: '2025-03-28', to: '2025-03-31', period: 'day', level: 'line' }));
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(
      'attachment; filename="greenline-energy-works-2025-03-28-2025-03-31.csv"',
    );
    expect(csv.headers.get('cache-control')).toBe('no-store');
    expect([...csv.bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(csv.text.endsWith('\r\n')).toBe(true);
    expect(csv.text.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
    expect(csv.header).toEqual([
      'period_start',
      'period_end',
      'site',
      'area',
      'line',
      'machine',
      'meter',
      'energy_type',
      'kwh',
      'kwh_basis',
      'basis_note',
      'units_produced',
      'kwh_per_unit',
      'location_factor_kg_co2e_per_kwh',
      'location_factor_source',
      'location_factor_year',
      'location_method',
      'location_kg_co2e',
      'location_t_co2e',
      'location_kg_co2e_per_unit',
      'market_factor_kg_co2e_per_kwh',
      'market_factor_source',
      'market_factor_year',
      'market_method',
      'market_kg_co2e',
      'market_t_co2e',
      'market_kg_co2e_per_unit',
    ]);
    // four days (the bare `to` date is inclusive) × two lines, days with their offsets (BST from 30 March)
    expect(csv.rows.map((r) => `${r.period_start} ${r.line}`)).toEqual([
      '2025-03-28T00:00:00+00:00 L1',
      '2025-03-28T00:00:00+00:00 L2',
      '2025-03-29T00:00:00+00:00 L1',
      '2025-03-29T00:00:00+00:00 L2',
      '2025-03-30T00:00:00+00:00 L1',
      '2025-03-30T00:00:00+00:00 L2',
      '2025-03-31T00:00:00+01:00 L1',
      '2025-03-31T00:00:00+01:00 L2',
    ]);
    expect(csv.rows[4]!.period_end).toBe('2025-03-31T00:00:00+01:00');
    const l1 = csv.rows[0]!;
    expect(l1).toMatchObject({ site: 'works', area: 'a1', machine: '', meter: 'l1_kwh', energy_type: 'electricity' });
    expect(csv.rows[1]!.meter).toBe('m3_kw + m4_kwh');
    // a factor source that starts like a formula is made inert and quoted; commas and quotes survive
    expect(csv.text).toContain(`"'+Grid 2025 update"`);
    expect(l1.location_factor_source).toBe('Grid 2024, "demo"');
    expect(csv.text).toContain('"Grid 2024, ""demo"""');
    expect(csv.rows[2]!.location_factor_source).toBe("'+Grid 2025 update");
  });

  it('machine totals equal the sums of the stored minutes (kWh, units, kg CO2e)', async () => {
    const csv = await getCsv(energyPath({ ...day, period: 'day', level: 'machine' }));
    const to = local('2025-04-01');
    expect(csv.rows).toHaveLength(4 * 4);
    const total = (id: string, col: string) =>
      csv.rows.filter((r) => r.machine === id).reduce((s, r) => s + (num(r[col]) ?? 0), 0);
    for (const id of ['M1', 'M3', 'M4']) {
      const acc = stored({ type: 'machine', id }, RUN1.from, to);
      expect(kwhOf(acc)).toBeGreaterThan(100);
      close(total(id, 'kwh'), kwhOf(acc), 4);
      close(total(id, 'location_kg_co2e'), acc.kgCO2eLocation, 4);
      close(total(id, 'market_kg_co2e'), acc.kgCO2eMarket, 4);
    }
    const m1 = stored({ type: 'machine', id: 'M1' }, RUN1.from, to);
    expect(total('M1', 'units_produced')).toBe(m1.good);
    const m3 = stored({ type: 'machine', id: 'M3' }, RUN1.from, to);
    expect(total('M3', 'units_produced')).toBe(m3.total - m3.reject);
    // M2 has no meter: its rows say so and carry its units only
    const m2 = csv.rows.filter((r) => r.machine === 'M2');
    expect(m2.every((r) => r.kwh_basis === 'not metered' && r.kwh === '' && r.location_kg_co2e === '')).toBe(true);
    expect(total('M2', 'units_produced')).toBe(stored({ type: 'machine', id: 'M2' }, RUN1.from, to).good);
    // M4 has no counters: no units, no ratio
    expect(
      csv.rows.filter((r) => r.machine === 'M4').every((r) => r.units_produced === '' && r.kwh_per_unit === ''),
    ).toBe(true);
    // t CO2e is kg / 1000
    for (const r of csv.rows.filter((x) => x.location_kg_co2e !== '')) {
      close(num(r.location_t_co2e), num(r.location_kg_co2e)! / 1000, 9);
    }
  });

  it('a site row is the sum of its lines, and line meters are not added to their sub-meters', async () => {
    const to = local('2025-04-01');
    const site = await getCsv(energyPath({ ...day, period: 'month', level: 'site' }));
    expect(site.rows).toHaveLength(1);
    const row = site.rows[0]!;
    expect(row).toMatchObject({ site: 'works', area: '', line: '', machine: '', meter: 'l1_kwh + m3_kw + m4_kwh' });
    const l1 = stored({ type: 'line', id: 'L1' }, RUN1.from, to);
    const m1 = stored({ type: 'machine', id: 'M1' }, RUN1.from, to);
    const m2 = stored({ type: 'machine', id: 'M2' }, RUN1.from, to);
    const m3 = stored({ type: 'machine', id: 'M3' }, RUN1.from, to);
    const m4 = stored({ type: 'machine', id: 'M4' }, RUN1.from, to);
    const kwh = kwhOf(l1) + kwhOf(m3) + kwhOf(m4);
    close(num(row.kwh), kwh, 4);
    expect(num(row.kwh)! - kwh).toBeCloseTo(0, 4);
    expect(Math.abs(num(row.kwh)! - (kwh + kwhOf(m1)))).toBeGreaterThan(100);
    // units: each line's output machine (L1: M2, L2: M3)
    expect(num(row.units_produced)).toBe(m2.good + (m3.total - m3.reject));
    close(num(row.location_kg_co2e), l1.kgCO2eLocation + m3.kgCO2eLocation + m4.kgCO2eLocation, 4);
    close(num(row.kwh_per_unit), kwh / num(row.units_produced)!, 8);

    const lines = await getCsv(energyPath({ ...day, period: 'month', level: 'line' }));
    const sum = (col: string) => lines.rows.reduce((s, r) => s + num(r[col])!, 0);
    close(num(row.kwh), sum('kwh'), 5);
    close(num(row.location_kg_co2e), sum('location_kg_co2e'), 5);
    close(num(row.market_kg_co2e), sum('market_kg_co2e'), 5);
    expect(num(row.units_produced)).toBe(sum('units_produced'));
  });

  it('rows equal what the dashboard shows for the same range', async () => {
    const csv = await getCsv(energyPath({ ...day, period: 'day', level: 'line' }));
    const machines = await getCsv(energyPath({ ...day, period: 'day', level: 'machine' }));
    for (const r of [...csv.rows, ...machines.rows]) {
      const type = r.machine === '' ? 'line' : 'machine';
      const id = r.machine === '' ? r.line! : r.machine!;
      const from = Date.parse(r.period_start!);
      const to = Date.parse(r.period_end!);
      const res = await fetch(`${base}/api/metrics/${type}/${id}?from=${from}&to=${to}`);
      const shown = ((await res.json()) as EntityMetricsResponse).record!;
      expect(shown.window).toMatchObject({ from, to });
      if (shown.kwh === null) expect(r.kwh).toBe('');
      else close(num(r.kwh), shown.kwh, 6);
      if (shown.good === null) expect(r.units_produced).toBe('');
      else expect(num(r.units_produced)).toBe(shown.good);
      if (shown.kwhPerGood !== null) close(num(r.kwh_per_unit), shown.kwhPerGood, 9);
      if (shown.kgCO2e.location !== null) close(num(r.location_kg_co2e), shown.kgCO2e.location, 6);
      if (shown.kgCO2e.market !== null) close(num(r.market_kg_co2e), shown.kgCO2e.market, 6);
      if (shown.kgCO2ePerGood.location !== null) {
        close(num(r.location_kg_co2e_per_unit), shown.kgCO2ePerGood.location, 9);
      }
    }
  });

  it('hourly rows add up to the daily row, for every entity', async () => {
    const q = { from: '2025-03-29', to: '2025-03-29' };
    for (const level of ['site', 'line', 'machine']) {
      const hours = await getCsv(energyPath({ ...q, period: 'hour', level }));
      const days = await getCsv(energyPath({ ...q, period: 'day', level }));
      for (const d of days.rows) {
        const mine = hours.rows.filter((h) => h.line === d.line && h.machine === d.machine);
        expect(mine).toHaveLength(24);
        expect(mine[0]!.period_start).toBe(d.period_start);
        expect(mine.at(-1)!.period_end).toBe(d.period_end);
        for (const col of ['kwh', 'location_kg_co2e', 'market_kg_co2e', 'units_produced']) {
          const cells = mine.map((h) => num(h[col]));
          if (num(d[col]) === null) expect(cells.every((c) => c === null)).toBe(true);
          // each row is rounded to 6 decimals: 24 of them may be 24 × 0.5e-6 apart
          else
            close(
              cells.reduce((s, c) => s! + (c ?? 0), 0),
              num(d[col])!,
              4,
            );
        }
      }
    }
  });

  it('a day on which the clocks change has 23 or 25 hourly rows', async () => {
    const spring = await getCsv(
      energyPath({ from: '2025-03-30', to: '2025-03-30', period: 'hour', level: 'line', line: 'L1' }),
    );
    expect(spring.rows).toHaveLength(23);
    expect(spring.rows.slice(0, 3).map((r) => r.period_start)).toEqual([
      '2025-03-30T00:00:00+00:00',
      '2025-03-30T02:00:00+01:00',
      '2025-03-30T03:00:00+01:00',
    ]);
    const autumn = await getCsv(
      energyPath({ from: '2025-10-26', to: '2025-10-26', period: 'hour', level: 'line', line: 'L1' }),
    );
    expect(autumn.rows).toHaveLength(25);
    expect(autumn.rows.slice(1, 4).map((r) => r.period_start)).toEqual([
      '2025-10-26T01:00:00+01:00',
      '2025-10-26T01:00:00+00:00',
      '2025-10-26T02:00:00+00:00',
    ]);
    const day = await getCsv(
      energyPath({ from: '2025-10-26', to: '2025-10-26', period: 'day', level: 'line', line: 'L1' }),
    );
    expect(day.rows).toHaveLength(1);
    expect(day.rows[0]).toMatchObject({
      period_start: '2025-10-26T00:00:00+01:00',
      period_end: '2025-10-27T00:00:00+00:00',
    });
    close(
      autumn.rows.reduce((s, r) => s + num(r.kwh)!, 0),
      num(day.rows[0]!.kwh)!,
      4,
    );
    expect(autumn.rows.every((r) => r.kwh_basis === 'measured')).toBe(true);
    expect(num(day.rows[0]!.kwh)).toBeGreaterThan(25 * 7);
  });

  it('a factor change within a period is said, with the effective factor; market falls back to location', async () => {
    const month = await getCsv(energyPath({ ...day, period: 'month', level: 'line', line: 'L1' }));
    const m = month.rows[0]!;
    expect(m.location_factor_source).toMatch(
      /^several factors: Grid 2024, "demo" \(0\.25 kg CO2e\/kWh for [\d.]+ kWh\); \+Grid 2025 update \(0\.2 kg CO2e\/kWh for [\d.]+ kWh\)$/,
    );
    expect(m.location_factor_year).toBe('2024; 2025');
    expect(m.location_method).toBe('location-based');
    const effective = num(m.location_factor_kg_co2e_per_kwh)!;
    expect(effective).toBeGreaterThan(0.2);
    expect(effective).toBeLessThan(0.25);
    close(effective, num(m.location_kg_co2e)! / num(m.kwh)!, 6);
    // the kWh of each factor add up to the row's
    const parts = [...m.location_factor_source!.matchAll(/for ([\d.]+) kWh/g)].map((x) => Number(x[1]));
    close(
      parts.reduce((a, b) => a + b, 0),
      num(m.kwh)!,
      2,
    );
    expect(m.market_method).toBe('market-based (location-based fallback for part)');
    expect(m.market_factor_source).toMatch(/^several factors: .*REC contract 2025 \(0\.05 kg CO2e\/kWh/);

    const days = await getCsv(energyPath({ ...day, period: 'day', level: 'line', line: 'L1' }));
    expect(days.rows.map((r) => r.location_factor_kg_co2e_per_kwh)).toEqual(['0.25', '0.2', '0.2', '0.2']);
    expect(days.rows.map((r) => r.location_factor_year)).toEqual(['2024', '2025', '2025', '2025']);
    expect(days.rows.map((r) => r.market_factor_kg_co2e_per_kwh)).toEqual(['0.25', '0.2', '0.2', '0.05']);
    expect(days.rows.map((r) => r.market_method)).toEqual([
      'market-based (location-based fallback)',
      'market-based (location-based fallback)',
      'market-based (location-based fallback)',
      'market-based',
    ]);
    expect(days.rows[3]).toMatchObject({ market_factor_source: 'REC contract 2025', market_factor_year: '2025' });
    for (const r of days.rows) {
      close(num(r.location_kg_co2e), num(r.kwh)! * num(r.location_factor_kg_co2e_per_kwh)!, 5);
      close(num(r.market_kg_co2e), num(r.kwh)! * num(r.market_factor_kg_co2e_per_kwh)!, 5);
    }
  });

  it('says measured for gap-free kWh registers, estimated for kW integration and data gaps', async () => {
    const hours = await getCsv(energyPath({ from: '2025-03-29', to: '2025-03-29', period: 'hour', level: 'machine' }));
    const of = (id: string) => hours.rows.filter((r) => r.machine === id);
    expect(of('M1').every((r) => r.kwh_basis === 'measured' && r.basis_note === '')).toBe(true);
    expect(of('M3').every((r) => r.kwh_basis === 'estimated' && r.basis_note === 'integrated from kW: m3_kw')).toBe(
      true,
    );
    const m4 = of('M4');
    const gapHour = m4.find((r) => r.period_start === '2025-03-29T10:00:00+00:00')!;
    expect(gapHour.kwh_basis).toBe('estimated');
    expect(gapHour.basis_note).toMatch(/^[\d.]+ kWh read after data gaps \(time of use unknown\)$/);
    const gapKwh = Number(/^([\d.]+)/.exec(gapHour.basis_note!)![1]);
    // the meter counted on through the gap: about 20 minutes at 4 kW
    expect(gapKwh).toBeGreaterThan(1.2);
    expect(gapKwh).toBeLessThan(1.5);
    expect(m4.filter((r) => r.kwh_basis === 'estimated')).toHaveLength(1);

    const lines = await getCsv(energyPath({ from: '2025-03-29', to: '2025-03-29', period: 'day', level: 'site' }));
    expect(lines.rows[0]!.kwh_basis).toBe('estimated');
    expect(lines.rows[0]!.basis_note).toMatch(/^L2: integrated from kW: m3_kw; L2: [\d.]+ kWh read after data gaps/);

    // before the gateway ran: no data, nothing made up
    const before = await getCsv(energyPath({ from: '2025-03-27', to: '2025-03-28', period: 'day', level: 'line' }));
    expect(before.rows.map((r) => r.kwh_basis)).toEqual(['no data', 'no data', 'measured', 'estimated']);
    expect(before.rows[0]).toMatchObject({ kwh: '', units_produced: '', location_kg_co2e: '' });
    // a period the data only partly covers is estimated, with how much is missing
    const partial = await getCsv(
      energyPath({ from: iso(RUN1.from - 30 * MIN), to: iso(RUN1.from + 30 * MIN), period: 'month', level: 'line' }),
    );
    expect(partial.rows[0]).toMatchObject({ line: 'L1', kwh_basis: 'estimated', basis_note: '30 min without data' });
    const firstHalfHour = await getCsv(
      energyPath({ from: iso(RUN1.from), to: iso(RUN1.from + 30 * MIN), period: 'month', level: 'line', line: 'L1' }),
    );
    expect(firstHalfHour.rows[0]).toMatchObject({ kwh_basis: 'measured', kwh: partial.rows[0]!.kwh });
  });

  it('filters lines and machines', async () => {
    const one = await getCsv(energyPath({ ...day, period: 'day', level: 'machine', line: 'L2' }));
    expect([...new Set(one.rows.map((r) => r.machine))]).toEqual(['M3', 'M4']);
    const m3 = await getCsv(energyPath({ ...day, period: 'day', level: 'machine', machine: 'M3' }));
    expect(m3.rows.map((r) => r.machine)).toEqual(['M3', 'M3', 'M3', 'M3']);
    expect(m3.rows[0]).toMatchObject({ line: 'L2', area: 'a2', meter: 'm3_kw' });
    const both = await getCsv(energyPath({ ...day, period: 'day', level: 'machine', line: 'L2', machine: 'M3' }));
    expect(both.rows).toHaveLength(4);
  });

  it('answers every bad query with 400 and the field path', async () => {
    const ok = { from: '2025-03-28', to: '2025-03-29', period: 'day', level: 'line' };
    const cases: [Record<string, string>, string[]][] = [
      [{}, ['query.from', 'query.to', 'query.period', 'query.level']],
      [{ ...ok, from: 'yesterday' }, ['query.from']],
      [{ ...ok, from: '2025-02-30' }, ['query.from']],
      [{ ...ok, to: '2025-03-28T12:00' }, ['query.to']],
      [{ ...ok, from: '2025-03-29T00:00:00Z', to: '2025-03-28T00:00:00Z' }, ['query.to']],
      [{ ...ok, from: '2024-01-01', to: '2025-03-01' }, ['query.to']],
      [{ ...ok, from: '2026-01-01', to: '2026-01-02' }, ['query.from']],
      [{ ...ok, period: 'week' }, ['query.period']],
      [{ ...ok, level: 'plant' }, ['query.level']],
      [{ ...ok, level: 'site', line: 'L1' }, ['query.line']],
      [{ ...ok, level: 'site', machine: 'M1' }, ['query.machine']],
      [{ ...ok, level: 'line', machine: 'M1' }, ['query.machine']],
      [{ ...ok, level: 'machine', line: 'L1', machine: 'M3' }, ['query.machine']],
      [{ ...ok, line: '1-bad' }, ['query.line']],
      [{ ...ok, colour: 'green' }, ['query']],
    ];
    for (const [q, paths] of cases) {
      const { status, body } = await getError(energyPath(q));
      expect(status, JSON.stringify(q)).toBe(400);
      expect(body.error.code).toBe('GL_ERR_BAD_REQUEST');
      expect(body.error.issues?.map((i) => i.path).sort(), JSON.stringify(q)).toEqual([...paths].sort());
    }
    const twice = await getError(
      `/api/export/energy.csv?from=2025-03-28&from=2025-03-29&to=2025-03-30&period=day&level=line`,
    );
    expect(twice.status).toBe(400);
    expect(twice.body.error.issues).toEqual([{ path: 'query.from', message: 'must be given once' }]);
  });

  it('answers 404 for an unknown line or machine', async () => {
    const ok = { from: '2025-03-28', to: '2025-03-29', period: 'day', level: 'machine' };
    for (const q of [
      { ...ok, line: 'L9' },
      { ...ok, machine: 'M9' },
      { ...ok, level: 'line', line: 'L9' },
    ]) {
      const { status, body } = await getError(energyPath(q));
      expect(status).toBe(404);
      expect(body.error.code).toBe('GL_ERR_NOT_FOUND');
    }
  });
});

// ---------- tags.csv ----------

describe('GET /api/export/tags.csv', () => {
  const tagsPath = (q: Record<string, string>) => `/api/export/tags.csv?${new URLSearchParams(q)}`;

  it('raw rows equal the stored samples, merged in time order', async () => {
    const from = local('2025-03-29', 9);
    const to = local('2025-03-29', 11);
    const csv = await getCsv(tagsPath({ tags: 'note,m4_kwh', from: iso(from), to: iso(to), resolution: 'raw' }));
    expect(csv.header).toEqual(['timestamp', 'tag', 'value', 'quality', 'reason']);
    expect(csv.headers.get('content-disposition')).toBe(
      'attachment; filename="greenline-tags-works-2025-03-29T0900-2025-03-29T1100.csv"',
    );
    const expected = [...store.rawSamples('m4_kwh', from, to - 1), ...store.rawSamples('note', from, to - 1)].sort(
      (a, b) => a.ts - b.ts || (a.tagId < b.tagId ? -1 : 1),
    );
    expect(expected.length).toBeGreaterThan(300);
    expect(csv.rows).toHaveLength(expected.length);
    csv.rows.forEach((r, i) => {
      const e = expected[i]!;
      expect(Date.parse(r.timestamp!)).toBe(e.ts);
      expect(r.timestamp).toMatch(/^2025-03-29T\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
      expect(r.tag).toBe(e.tagId);
      expect(r.quality).toBe(e.quality);
      expect(r.reason).toBe(e.reason ?? '');
      if (e.value === null) expect(r.value).toBe('');
      else if (typeof e.value === 'number') expect(Number(r.value)).toBe(e.value);
      else if (/^[=+\-@]/.test(String(e.value))) expect(r.value).toBe(`'${e.value}`);
      else expect(r.value).toBe(String(e.value));
    });
    // formula injection: every formula-like value is inert and quoted; the rest read back as stored
    for (const v of ['=HYPERLINK(""http://example.invalid"",""open"")', '+1', '-2', '@SUM(A1)']) {
      expect(csv.text).toContain(`"'${v}"`);
    }
    expect(csv.text).toContain('"a,b"');
    expect(csv.text).toContain('"say ""hi"""');
    expect(csv.text).toContain('"two\nlines"');
    expect(csv.text).toContain(',bad,"timeout, ""late"""\r\n');
  });

  it('1m rows equal the stored rollups', async () => {
    const from = local('2025-03-29', 9);
    const to = local('2025-03-29', 11);
    const csv = await getCsv(tagsPath({ tags: 'm3_kw,m1_kwh', from: iso(from), to: iso(to), resolution: '1m' }));
    expect(csv.header).toEqual(['minute_start', 'tag', 'min', 'max', 'avg', 'last', 'count', 'good_count']);
    expect(csv.rows).toHaveLength(240);
    const expected = [
      ...store.rollups('m1_kwh', from, to - 1).map((r) => ({ ...r, tagId: 'm1_kwh' })),
      ...store.rollups('m3_kw', from, to - 1).map((r) => ({ ...r, tagId: 'm3_kw' })),
    ].sort((a, b) => a.minuteTs - b.minuteTs || (a.tagId < b.tagId ? -1 : 1));
    csv.rows.forEach((r, i) => {
      const e = expected[i]!;
      expect(Date.parse(r.minute_start!)).toBe(e.minuteTs);
      expect(r.tag).toBe(e.tagId);
      expect([num(r.min), num(r.max), num(r.avg), num(r.last), num(r.count), num(r.good_count)]).toEqual([
        e.min,
        e.max,
        e.avg,
        e.last,
        e.count,
        e.goodCount,
      ]);
    });
  });

  it('streams a large export: memory stays flat and the first bytes arrive long before the last row is read', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    counted.rawRows = 0;
    const started = performance.now();
    const res = await fetch(
      base + tagsPath({ tags: 'big', from: iso(BIG_FROM), to: iso(BIG_FROM + BIG_ROWS * 100), resolution: 'raw' }),
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let chunks = 0;
    let bytes = 0;
    let lines = 0;
    let readAtFirstChunk = -1;
    let firstChunkMs = 0;
    let heapPeak = 0;
    let rssPeak = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (readAtFirstChunk < 0) {
        readAtFirstChunk = counted.rawRows;
        firstChunkMs = performance.now() - started;
      }
      chunks++;
      bytes += value.byteLength;
      for (const b of value) if (b === 0x0a) lines++;
      if (chunks % 100 === 0) {
        gc();
        const m = process.memoryUsage();
        heapPeak = Math.max(heapPeak, m.heapUsed - before.heapUsed);
        rssPeak = Math.max(rssPeak, m.rss - before.rss);
      }
    }
    const totalMs = performance.now() - started;
    const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
    console.log(
      `tags.csv raw: ${BIG_ROWS} rows, ${mib(bytes)} MiB in ${Math.round(totalMs)} ms; first bytes after ${Math.round(firstChunkMs)} ms ` +
        `with ${readAtFirstChunk} rows read; live heap growth ≤ ${mib(heapPeak)} MiB, RSS growth ≤ ${mib(rssPeak)} MiB`,
    );
    expect(lines).toBe(BIG_ROWS + 1);
    expect(counted.rawRows).toBe(BIG_ROWS);
    expect(readAtFirstChunk).toBeGreaterThan(0);
    expect(readAtFirstChunk).toBeLessThan(BIG_ROWS / 10);
    // the file is ~23 MiB, the rows as objects several times that: holding either would show here
    expect(bytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(heapPeak).toBeLessThan(16 * 1024 * 1024);
    expect(rssPeak).toBeLessThan(96 * 1024 * 1024);
  });

  it('a slow client holds the export, not the store: writes go on, and leaving ends the export', async () => {
    counted.rawRows = 0;
    const controller = new AbortController();
    try {
      const res = await fetch(
        base + tagsPath({ tags: 'big', from: iso(BIG_FROM), to: iso(BIG_FROM + BIG_ROWS * 100), resolution: 'raw' }),
        { signal: controller.signal },
      );
      const reader = res.body!.getReader();
      await reader.read();
      // the reply's backpressure stops the reading once the socket buffers are full
      await new Promise((r) => setTimeout(r, 300));
      const stalled = counted.rawRows;
      await new Promise((r) => setTimeout(r, 300));
      expect(counted.rawRows).toBe(stalled);
      expect(stalled).toBeLessThan(BIG_ROWS / 2);
      // no statement is left open between pages: the store takes writes in the middle of an export
      store.writer.write([{ tagId: 'note', ts: NOW - HOUR, value: 'written meanwhile', quality: 'good' }]);
      flush();
      expect(store.rawSamples('note', NOW - HOUR, NOW - HOUR).map((r) => r.value)).toEqual(['written meanwhile']);
      controller.abort();
      await new Promise((r) => setTimeout(r, 200));
      const afterAbort = counted.rawRows;
      await new Promise((r) => setTimeout(r, 200));
      expect(counted.rawRows).toBe(afterAbort);
      expect(counted.rawRows).toBeLessThan(BIG_ROWS / 2);
      const health = await fetch(`${base}/api/health`);
      expect(health.status).toBe(200);
    } finally {
      controller.abort();
    }
  });

  it('answers every bad query with 400 and the field path, unknown tags with 404', async () => {
    const ok = { tags: 'note', from: '2025-03-29', to: '2025-03-29', resolution: 'raw' };
    const many = Array.from({ length: 101 }, (_, i) => `t${i}`).join(',');
    const cases: [Record<string, string>, string[]][] = [
      [{}, ['query.tags', 'query.from', 'query.to', 'query.resolution']],
      [{ ...ok, tags: 'note,1bad' }, ['query.tags[1]']],
      [{ ...ok, tags: ' , ,' }, ['query.tags']],
      [{ ...ok, tags: many }, ['query.tags']],
      [{ ...ok, resolution: '5m' }, ['query.resolution']],
      [{ ...ok, to: 'tomorrow' }, ['query.to']],
      [{ ...ok, from: '2025-03-30', to: '2025-03-29' }, ['query.to']],
      [{ ...ok, from: '2020-01-01' }, ['query.to']],
    ];
    for (const [q, paths] of cases) {
      const { status, body } = await getError(tagsPath(q));
      expect(status, JSON.stringify(q)).toBe(400);
      expect(body.error.issues?.map((i) => i.path).sort(), JSON.stringify(q)).toEqual([...paths].sort());
    }
    const missing = await getError(tagsPath({ ...ok, tags: 'note,nope,gone' }));
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain('"nope", "gone"');
  });
});

describe('store pages', () => {
  it('merge several tags in time order across page boundaries, nothing lost or repeated', () => {
    const from = local('2025-03-29', 9);
    const to = local('2025-03-29', 12) - 1;
    const tags = ['note', 'm4_kwh', 'm1_kwh', 'unknown'];
    const pages = [...store.rawSamplePages(tags, from, to, 100)];
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.slice(0, -1).every((p) => p.length === 100)).toBe(true);
    const expected = tags
      .flatMap((t) => store.rawSamples(t, from, to))
      .sort((a, b) => a.ts - b.ts || (a.tagId < b.tagId ? -1 : 1));
    expect(pages.flat()).toEqual(expected);
    const rollups = [...store.rollupPages(tags, from, to, 50)].flat();
    expect(rollups).toEqual(
      tags
        .flatMap((t) => store.rollups(t, from, to).map((r) => ({ tagId: t, ...r })))
        .sort((a, b) => a.minuteTs - b.minuteTs || (a.tagId < b.tagId ? -1 : 1)),
    );
    // 28, 29 and 30 March: 24 + 24 + 23 hours of minutes
    const minutes = [...store.metricsPages('machine', 'M1', RUN1.from, local('2025-03-31') - 1, 1000)];
    expect(minutes.map((p) => p.length)).toEqual([1000, 1000, 1000, 1000, 260]);
    expect(minutes.flat()).toEqual(store.metrics('machine', 'M1', RUN1.from, local('2025-03-31') - 1));
  });
});

describe('stopping the server', () => {
  it('cuts a stalled export short instead of waiting for its client', async () => {
    const other = createServer(
      {
        config: plant,
        live: new MemoryLiveSource(),
        health: () => ({ status: 'ok' }) as HealthReport,
        history: store,
        exports: store,
        dashboardDir: join(dir, 'none'),
        log: { info() {}, warn() {}, error() {} },
      },
      { auth: null, now: () => NOW },
    );
    const { url } = await other.start('127.0.0.1', 0);
    const res = await fetch(
      `${url}/api/export/tags.csv?tags=big&from=${BIG_FROM}&to=${BIG_FROM + BIG_ROWS * 100}&resolution=raw`,
    );
    const reader = res.body!.getReader();
    await reader.read();
    const started = performance.now();
    await other.stop();
    expect(performance.now() - started).toBeLessThan(2000);
    // what the client still gets ends in an error: the file is visibly incomplete
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return 'complete';
      })(),
    ).rejects.toThrow();
  });
});

describe('exports without a store', () => {
  it('answer 503', async () => {
    const bare = createServer(
      {
        config: plant,
        live: new MemoryLiveSource(),
        health: () => ({ status: 'ok' }) as HealthReport,
        history: store,
        dashboardDir: join(dir, 'none'),
        log: { info() {}, warn() {}, error() {} },
      },
      { auth: null, now: () => NOW },
    );
    const { url } = await bare.start('127.0.0.1', 0);
    try {
      const res = await fetch(`${url}/api/export/tags.csv?tags=note&from=2025-03-29&to=2025-03-29&resolution=raw`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as ApiError).error.code).toBe('GL_ERR_UNAVAILABLE');
    } finally {
      await bare.stop();
    }
  });
});
