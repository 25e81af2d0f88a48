/**
 * GET /metrics over HTTP: a real Modbus TCP driver polls pymodbus, the server
 * exports its health next to a device with known numbers, a live client moves
 * the hub's counters, and Prometheus' own `promtool check metrics` judges the
 * text.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PlantConfig, type PlantConfigInput } from '../../config/schema.js';
import { LATENCY_BUCKETS_MS } from '../../protocols/health.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver, DriverStatus } from '../../protocols/types.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import type { DeviceHealth, HealthReport, ServerDeps } from '../../gateway/server/ports.js';
import { createServer, type GreenlineServer } from '../../gateway/server/server.js';
import { type PymodbusPeer, startPymodbus } from './peers/pymodbus.js';
import { recordingContext } from './peers/recording-context.js';

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// ---------- the exposition format, parsed just enough to check it ----------

interface ExpoSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  /** family name → declared type */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly ExpoSample[];
  /** the value of the one sample with exactly these labels; undefined when there is none */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** every sample of a name */
  all(name: string): ExpoSample[];
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN' || text === 'Nan') return Number.NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`not a sample value: ${text}`);
  return n;
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: ExpoSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      expect(types.has(type[1]!), `${type[1]} declared twice`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  const same = (a: Readonly<Record<string, string>>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    types,
    samples,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && same(s.labels, labels));
      expect(found.length, `${name}${JSON.stringify(labels)} appears more than once`).toBeLessThanOrEqual(1);
      return found[0]?.value;
    },
    all: (name) => samples.filter((s) => s.name === name),
  };
}

/** `greenline_device_errors_total` of one device, by kind */
function errorsByKind(expo: Exposition, device: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of expo.all('greenline_device_errors_total')) {
    if (s.labels.device === device) out[s.labels.kind ?? ''] = s.value;
  }
  return out;
}

/** `promtool check metrics` on the text, from stdin */
function promtool(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (run.error) throw new Error(`promtool did not run (${run.error.message}); install it with test/setup-peers.sh`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

// ---------- the plant: one real Modbus device, and one with known numbers ----------

const SPEC = {
  hr: {
    size: 10,
    values: [
      { at: 0, type: 'int16', value: 1 },
      { at: 1, type: 'uint32', value: 1234 },
      { at: 3, type: 'uint32', value: 1200 },
    ],
  },
};

function plant(modbusPort: number): PlantConfig {
  const input: PlantConfigInput = {
    site: { id: 'works', name: 'Test Works', timezone: 'Asia/Hong_Kong' },
    areas: [{ id: 'a1', name: 'Assembly' }],
    lines: [
      {
        id: 'L1',
        name: 'Line 1',
        area: 'a1',
        outputMachine: 'M1',
        calendar: 'c1',
        machines: [
          {
            id: 'M1',
            name: 'Press',
            idealCycleTimeS: 2,
            state: { tag: 'm1_state', map: { '1': 'running' } },
            counters: { total: 'm1_total', good: 'm1_good' },
          },
        ],
      },
    ],
    devices: [
      {
        protocol: 'modbus-tcp',
        id: 'plc1',
        host: '127.0.0.1',
        port: modbusPort,
        timeoutMs: 500,
        pollGroups: { default: 100 },
        tags: [
          { id: 'm1_state', address: 'hr:0' },
          { id: 'm1_total', address: 'hr:1', type: 'uint32' },
          { id: 'm1_good', address: 'hr:3', type: 'uint32' },
          // beyond the 10 registers pymodbus holds: exception 2 on every poll
          { id: 'missing', address: 'hr:40' },
        ],
      },
    ],
    calendars: [{ id: 'c1', shifts: [{ id: 'day', start: '08:00', end: '17:00' }] }],
  };
  return PlantConfig.parse(input);
}

/** as the composition root reports a driver */
function deviceHealth(s: DriverStatus): DeviceHealth {
  return {
    id: s.deviceId,
    protocol: s.protocol,
    endpoint: s.endpoint,
    state: s.state,
    lastGoodTs: s.lastGoodTs,
    lastError: s.lastError,
    counters: { ...s.counters },
    ...(s.errorsByKind ? { errorsByKind: { ...s.errorsByKind } } : {}),
    ...(s.latencyMs ? { latencyMs: s.latencyMs } : {}),
  };
}

/** a broker-side device with numbers chosen to check every conversion */
function brokerDevice(now: number): DeviceHealth {
  return {
    id: 'env "north"',
    protocol: 'mqtt',
    endpoint: 'mqtt://127.0.0.1:1883',
    state: 'disconnected',
    lastGoodTs: now - 2500,
    lastError: 'connection to the broker lost',
    // 9 errors, 7 of them by kind: the other 2 show as kind="other" with the one recorded so
    counters: { requests: 4, errors: 9, timeouts: 0, reconnects: 3, messages: 120, seqGaps: 2, fooBar: 6 },
    errorsByKind: { disconnected: 3, decode: 2, sequence: 1, other: 1 },
    latencyMs: { buckets: [1, 5, 250], counts: [2, 5, 7], count: 8, sum: 1234.5 },
  };
}

const GREENLINE_TYPES: Record<string, string> = {
  greenline_metrics_ready: 'gauge',
  greenline_metrics_samples_total: 'counter',
  greenline_metrics_rollups_persisted_total: 'counter',
  greenline_metrics_events_total: 'counter',
  greenline_metrics_errors_total: 'counter',
  greenline_metrics_rebuild_duration_seconds: 'gauge',
  greenline_start_time_seconds: 'gauge',
  greenline_uptime_seconds: 'gauge',
  greenline_device_connected: 'gauge',
  greenline_device_state: 'gauge',
  greenline_device_last_good_read_timestamp_seconds: 'gauge',
  greenline_device_last_good_read_age_seconds: 'gauge',
  greenline_device_errors_total: 'counter',
  greenline_device_requests_total: 'counter',
  greenline_device_timeouts_total: 'counter',
  greenline_device_reconnects_total: 'counter',
  greenline_device_poll_overruns_total: 'counter',
  greenline_device_samples_total: 'counter',
  greenline_device_messages_total: 'counter',
  greenline_device_sparkplug_seq_gaps_total: 'counter',
  greenline_device_foo_bar_total: 'counter',
  greenline_device_request_duration_seconds: 'histogram',
  greenline_store_samples_written_total: 'counter',
  greenline_store_pending_rows: 'gauge',
  greenline_store_dropped_rows_total: 'counter',
  greenline_store_error: 'gauge',
  greenline_pipeline_samples_received_total: 'counter',
  greenline_pipeline_samples_rejected_total: 'counter',
  greenline_sink_backlog: 'gauge',
  greenline_sink_error: 'gauge',
  greenline_sink_backlog_bytes: 'gauge',
  greenline_sink_oldest_age_seconds: 'gauge',
  greenline_sink_send_rate: 'gauge',
  greenline_sink_sent_total: 'counter',
  greenline_sink_failures_total: 'counter',
  greenline_sink_dropped_total: 'counter',
  greenline_sink_rejected_total: 'counter',
  greenline_sink_alarm: 'gauge',
  greenline_live_clients: 'gauge',
  greenline_live_messages_sent_total: 'counter',
  greenline_live_skipped_slow_total: 'counter',
  greenline_live_bad_messages_total: 'counter',
  greenline_live_clients_terminated_total: 'counter',
  greenline_alarms_active: 'gauge',
  greenline_alarms_unacknowledged: 'gauge',
  greenline_alarms_shelved: 'gauge',
  greenline_alarms_out_of_service: 'gauge',
  greenline_alarms_ready: 'gauge',
};

const quiet = { info() {}, warn() {}, error() {} };
const warnings: { obj: object; msg?: string }[] = [];
const recordingLog = { ...quiet, warn: (obj: object, msg?: string) => warnings.push({ obj, msg }) };

/** a device whose histogram does not add up (a bucket above the total): left out, and said so */
const GARBLED: DeviceHealth = {
  id: 'garbled',
  protocol: 'opcua',
  endpoint: 'opc.tcp://127.0.0.1:4840',
  state: 'connecting',
  lastGoodTs: null,
  lastError: null,
  counters: { requests: 1, errors: 0 },
  latencyMs: { buckets: [1, 2], counts: [3, 9], count: 4, sum: 2 },
};

describe('GET /metrics', () => {
  const startedAt = Date.now() - 90_000;
  const ctx = recordingContext();
  let peer: PymodbusPeer;
  let driver: Driver;
  let server: GreenlineServer;
  let base: string;
  let tmp: string;
  let healthCalls = 0;
  /** what the store, pipeline and sinks report; tests change it between scrapes */
  const parts: { store: HealthReport['store']; pipeline: HealthReport['pipeline']; sinks: HealthReport['sinks'] } = {
    store: { path: 'data/greenline.db', samplesWritten: 500, pendingRows: 12, dropped: 0, lastError: null },
    pipeline: { samplesIn: 520, rejected: 3 },
    sinks: [
      {
        name: 'influxdb',
        backlog: 40,
        lastError: null,
        backlogBytes: 4096,
        oldestAgeMs: 2500,
        sendRate: 120.5,
        sent: 9000,
        failures: 3,
        dropped: 7,
        rejected: 1,
        alarm: { active: true, since: 1, message: 'quota reached' },
      },
    ],
  };

  const health = (): HealthReport => {
    healthCalls++;
    const now = Date.now();
    return {
      status: 'degraded',
      startedAt,
      now,
      devices: [deviceHealth(driver.status()), brokerDevice(now), GARBLED],
      ...parts,
    };
  };

  const scrape = async (url = base): Promise<{ res: Response; text: string; expo: Exposition }> => {
    const res = await fetch(`${url}/metrics`);
    const text = await res.text();
    return { res, text, expo: parseExposition(text) };
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'gl-prom-'));
    peer = await startPymodbus({ spec: SPEC });
    const config = plant(peer.port);
    driver = createDriver(config.devices[0]!, ctx, { backoff: { initialMs: 100, maxMs: 400 } });
    const deps: ServerDeps = {
      config,
      live: new MemoryLiveSource(),
      health,
      history: { history: () => [] },
      dashboardDir: tmp,
      log: recordingLog,
    };
    server = createServer(deps, { auth: null });
    ({ url: base } = await server.start('127.0.0.1', 0));
    await driver.start();
    await ctx.until(
      () => ctx.latest('m1_total')?.quality === 'good' && ctx.latest('missing') !== undefined,
      10_000,
      'a good poll and a refused one',
    );
    await ctx.until(() => (driver.status().latencyMs?.count ?? 0) >= 5, 10_000, 'five timed round trips');
  });

  afterAll(async () => {
    await driver?.stop();
    await server?.stop();
    await peer?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('answers in the Prometheus text format that promtool accepts', async () => {
    const { res, text, expo } = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(text.endsWith('\n')).toBe(true);

    const check = promtool(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);

    for (const [name, type] of Object.entries(GREENLINE_TYPES)) expect(expo.types.get(name), name).toBe(type);
    // nothing of ours that this list does not name (a new metric must be documented and typed here)
    const ours = [...expo.types.keys()].filter((n) => n.startsWith('greenline_'));
    expect(ours.filter((n) => !(n in GREENLINE_TYPES) && expo.all(n).length > 0)).toEqual([]);
    // every counter family of ours ends in _total; no gauge does
    for (const n of ours) expect(n.endsWith('_total'), n).toBe(expo.types.get(n) === 'counter');
    // every sample belongs to a declared family
    for (const s of expo.samples) {
      const family = expo.types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
      expect(expo.types.has(family), s.name).toBe(true);
    }

    // Node's process metrics, from prom-client's default collectors
    expect(expo.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(expo.types.get('process_start_time_seconds')).toBe('gauge');
    expect(expo.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(expo.types.get('nodejs_gc_duration_seconds')).toBe('histogram');
    expect(expo.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(expo.value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('promtool is a real judge: it refuses a counter typed as a gauge', async () => {
    const { text } = await scrape();
    const retyped = text.replace(
      '# TYPE greenline_device_requests_total counter',
      '# TYPE greenline_device_requests_total gauge',
    );
    expect(retyped).not.toBe(text);
    const check = promtool(retyped);
    expect(check.status).not.toBe(0);
    expect(check.output).toContain('greenline_device_requests_total');
  });

  it('exports a device as its health reports it: state, last good read, counters, errors by kind, latency', async () => {
    const { expo } = await scrape();
    const env = { device: 'env "north"', protocol: 'mqtt' };

    expect(expo.value('greenline_device_connected', env)).toBe(0);
    expect(expo.value('greenline_device_state', { ...env, state: 'disconnected' })).toBe(1);
    for (const state of ['idle', 'connecting', 'connected', 'stopped', 'failed']) {
      expect(expo.value('greenline_device_state', { ...env, state }), state).toBe(0);
    }
    expect(expo.value('greenline_device_last_good_read_age_seconds', env)).toBe(2.5);
    const lastGood = expo.value('greenline_device_last_good_read_timestamp_seconds', env)!;
    expect(Math.abs(lastGood - (Date.now() - 2500) / 1000)).toBeLessThan(5);

    expect(expo.value('greenline_device_requests_total', env)).toBe(4);
    expect(expo.value('greenline_device_reconnects_total', env)).toBe(3);
    expect(expo.value('greenline_device_timeouts_total', env)).toBe(0);
    expect(expo.value('greenline_device_messages_total', env)).toBe(120);
    expect(expo.value('greenline_device_sparkplug_seq_gaps_total', env)).toBe(2);
    expect(expo.value('greenline_device_foo_bar_total', env)).toBe(6);

    // the kinds add up to the device's 9 errors; the 2 recorded without a kind join `other`
    const kinds = errorsByKind(expo, env.device);
    expect(kinds).toEqual({ disconnected: 3, decode: 2, sequence: 1, other: 3 });

    // buckets of 1, 5 and 250 ms, cumulative; +Inf is every observation
    const h = 'greenline_device_request_duration_seconds';
    expect(expo.value(`${h}_bucket`, { ...env, le: '0.001' })).toBe(2);
    expect(expo.value(`${h}_bucket`, { ...env, le: '0.005' })).toBe(5);
    expect(expo.value(`${h}_bucket`, { ...env, le: '0.25' })).toBe(7);
    expect(expo.value(`${h}_bucket`, { ...env, le: '+Inf' })).toBe(8);
    expect(expo.all(`${h}_bucket`).filter((s) => s.labels.device === env.device)).toHaveLength(4);
    expect(expo.value(`${h}_sum`, env)).toBeCloseTo(1.2345, 9);
    expect(expo.value(`${h}_count`, env)).toBe(8);

    // a histogram that does not add up is left out, the rest of the device stays, and the log says so once
    const garbled = { device: 'garbled', protocol: 'opcua' };
    await scrape();
    expect(expo.all(`${h}_bucket`).filter((s) => s.labels.device === 'garbled')).toEqual([]);
    expect(expo.value(`${h}_count`, garbled)).toBeUndefined();
    expect(expo.value('greenline_device_requests_total', garbled)).toBe(1);
    expect(expo.value('greenline_device_last_good_read_age_seconds', garbled)).toBeUndefined();
    expect(expo.value('greenline_device_state', { ...garbled, state: 'connecting' })).toBe(1);
    expect(warnings.filter((w) => (w.obj as { device?: string }).device === 'garbled')).toHaveLength(1);
  });

  it("exports the Modbus driver's own numbers, which match its status exactly once it stops", async () => {
    const plc = { device: 'plc1', protocol: 'modbus-tcp' };
    const h = 'greenline_device_request_duration_seconds';
    const running = (await scrape()).expo;
    expect(running.value('greenline_device_connected', plc)).toBe(1);
    expect(running.value('greenline_device_state', { ...plc, state: 'connected' })).toBe(1);
    expect(running.value('greenline_device_requests_total', plc)).toBeGreaterThan(0);
    expect(running.value('greenline_device_samples_total', plc)).toBeGreaterThan(0);
    expect(running.value('greenline_device_errors_total', { ...plc, kind: 'exception-2' })).toBeGreaterThan(0);
    expect(running.value('greenline_device_last_good_read_age_seconds', plc)).toBeLessThan(5);
    const buckets = running.all(`${h}_bucket`).filter((s) => s.labels.device === 'plc1');
    expect(buckets.map((s) => s.labels.le)).toEqual([...LATENCY_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.value).toBe(running.value(`${h}_count`, plc));
    expect(running.value(`${h}_count`, plc)).toBeGreaterThanOrEqual(5);
    expect(running.value(`${h}_sum`, plc)).toBeGreaterThan(0);

    // the counters keep moving while the driver polls: the next scrape sees more
    const before = running.value('greenline_device_requests_total', plc)!;
    await ctx.until(() => driver.status().counters.requests > before, 5000, 'more requests');
    const later = (await scrape()).expo;
    expect(later.value('greenline_device_requests_total', plc)).toBeGreaterThan(before);

    await driver.stop();
    const status = driver.status();
    const { expo } = await scrape();
    expect(expo.value('greenline_device_connected', plc)).toBe(0);
    expect(expo.value('greenline_device_state', { ...plc, state: 'stopped' })).toBe(1);
    expect(expo.value('greenline_device_requests_total', plc)).toBe(status.counters.requests);
    expect(expo.value('greenline_device_samples_total', plc)).toBe(status.counters.samples);
    expect(expo.value('greenline_device_timeouts_total', plc)).toBe(status.counters.timeouts);
    expect(expo.value('greenline_device_reconnects_total', plc)).toBe(status.counters.reconnects);
    expect(expo.value('greenline_device_poll_overruns_total', plc)).toBe(status.counters.overruns);
    const kinds = errorsByKind(expo, 'plc1');
    expect(kinds).toEqual(status.errorsByKind);
    expect(Object.values(kinds).reduce((a, b) => a + b, 0)).toBe(status.counters.errors);
    const latency = status.latencyMs!;
    latency.buckets.forEach((ms, i) =>
      expect(expo.value(`${h}_bucket`, { ...plc, le: String(ms / 1000) }), `le ${ms} ms`).toBe(latency.counts[i]),
    );
    expect(expo.value(`${h}_bucket`, { ...plc, le: '+Inf' })).toBe(latency.count);
    expect(expo.value(`${h}_count`, plc)).toBe(latency.count);
    expect(expo.value(`${h}_sum`, plc)).toBeCloseTo(latency.sum / 1000, 9);
    expect(expo.value('greenline_device_last_good_read_timestamp_seconds', plc)).toBe(status.lastGoodTs! / 1000);
    expect(promtool((await scrape()).text).status).toBe(0);
  });

  it('reads the store, pipeline, sinks, uptime and live hub when scraped', async () => {
    const first = (await scrape()).expo;
    expect(first.value('greenline_store_samples_written_total')).toBe(500);
    expect(first.value('greenline_store_pending_rows')).toBe(12);
    expect(first.value('greenline_store_dropped_rows_total')).toBe(0);
    expect(first.value('greenline_store_error')).toBe(0);
    expect(first.value('greenline_pipeline_samples_received_total')).toBe(520);
    expect(first.value('greenline_pipeline_samples_rejected_total')).toBe(3);
    expect(first.value('greenline_sink_backlog', { sink: 'influxdb' })).toBe(40);
    expect(first.value('greenline_sink_error', { sink: 'influxdb' })).toBe(0);
    expect(first.value('greenline_sink_backlog_bytes', { sink: 'influxdb' })).toBe(4096);
    expect(first.value('greenline_sink_oldest_age_seconds', { sink: 'influxdb' })).toBe(2.5);
    expect(first.value('greenline_sink_send_rate', { sink: 'influxdb' })).toBe(120.5);
    expect(first.value('greenline_sink_sent_total', { sink: 'influxdb' })).toBe(9000);
    expect(first.value('greenline_sink_failures_total', { sink: 'influxdb' })).toBe(3);
    expect(first.value('greenline_sink_dropped_total', { sink: 'influxdb' })).toBe(7);
    expect(first.value('greenline_sink_rejected_total', { sink: 'influxdb' })).toBe(1);
    expect(first.value('greenline_sink_alarm', { sink: 'influxdb' })).toBe(1);
    expect(first.value('greenline_start_time_seconds')).toBe(startedAt / 1000);
    const uptime = first.value('greenline_uptime_seconds')!;
    expect(uptime).toBeGreaterThanOrEqual(90);
    expect(uptime).toBeLessThan(600);
    expect(first.value('greenline_live_clients')).toBe(0);

    // a live client: its hello counts as sent, its garbage as a bad message
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/live/ws`);
    const received: string[] = [];
    ws.on('message', (data) => received.push(String(data)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await ctx.until(() => received.some((m) => m.includes('"hello"')), 5000, 'hello');
    ws.send('not json');
    await ctx.until(() => received.some((m) => m.includes('GL_ERR_BAD_MESSAGE')), 5000, 'the error answer');

    parts.store = { ...parts.store, samplesWritten: 750, pendingRows: 0, dropped: 5, lastError: 'disk full' };
    parts.pipeline = { samplesIn: 800, rejected: 4 };
    parts.sinks = [{ name: 'influxdb', backlog: 0, lastError: 'connection refused' }];
    const calls = healthCalls;
    const second = (await scrape()).expo;
    expect(healthCalls - calls).toBe(1); // one health report per scrape, shared by every metric
    expect(second.value('greenline_store_samples_written_total')).toBe(750);
    expect(second.value('greenline_store_pending_rows')).toBe(0);
    expect(second.value('greenline_store_dropped_rows_total')).toBe(5);
    expect(second.value('greenline_store_error')).toBe(1);
    expect(second.value('greenline_pipeline_samples_received_total')).toBe(800);
    expect(second.value('greenline_pipeline_samples_rejected_total')).toBe(4);
    expect(second.value('greenline_sink_backlog', { sink: 'influxdb' })).toBe(0);
    expect(second.value('greenline_sink_error', { sink: 'influxdb' })).toBe(1);

    const hub = server.hub.counters();
    expect(second.value('greenline_live_clients')).toBe(1);
    expect(second.value('greenline_live_bad_messages_total')).toBe(1);
    expect(second.value('greenline_live_messages_sent_total')).toBe(hub.messagesSent);
    expect(hub.messagesSent).toBeGreaterThanOrEqual(2);
    expect(second.value('greenline_live_skipped_slow_total')).toBe(0);
    expect(second.value('greenline_live_clients_terminated_total')).toBe(0);

    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
    await ctx.until(() => server.hub.counters().clients === 0, 5000, 'the client to leave');
    expect((await scrape()).expo.value('greenline_live_clients')).toBe(0);
  });

  it('keeps two servers in one process apart', async () => {
    const now = Date.now();
    const other = createServer(
      {
        config: plant(1),
        live: new MemoryLiveSource(),
        health: () => ({
          status: 'ok',
          startedAt: now,
          now,
          devices: [],
          store: { path: ':memory:', samplesWritten: 1, pendingRows: 0, dropped: 0, lastError: null },
          sinks: [],
          pipeline: { samplesIn: 1, rejected: 0 },
        }),
        history: { history: () => [] },
        dashboardDir: tmp,
        log: quiet,
      },
      { auth: null },
    );
    try {
      const { url } = await other.start('127.0.0.1', 0);
      const theirs = await scrape(url);
      const ours = await scrape();
      expect(theirs.res.status).toBe(200);
      expect(theirs.expo.value('greenline_store_samples_written_total')).toBe(1);
      expect(ours.expo.value('greenline_store_samples_written_total')).toBe(parts.store.samplesWritten);
      expect(theirs.expo.all('greenline_device_connected')).toEqual([]);
      expect(ours.expo.all('greenline_device_connected')).toHaveLength(3);
      // both carry the process metrics, once each
      expect(theirs.expo.types.get('process_cpu_seconds_total')).toBe('counter');
      expect(promtool(theirs.text).status).toBe(0);
    } finally {
      await other.stop();
    }
  });
});
