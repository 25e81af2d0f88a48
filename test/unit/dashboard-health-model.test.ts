import { describe, expect, it } from 'vitest';
import type { HealthResponse, PlantView } from '../../gateway/server/contract.js';
import {
  deviceRows,
  hubProblems,
  latencyQuantile,
  metricsProblems,
  problemCount,
  sinkProblems,
  storeProblems,
} from '../../dashboard/src/health/health-model.js';

const NOW = 1_740_816_000_000;
const BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

const plant: PlantView = {
  site: { id: 's', name: 'S', timezone: 'Asia/Hong_Kong' },
  areas: [],
  lines: [],
  devices: [
    {
      id: 'plc',
      name: 'Line PLC',
      protocol: 'modbus-tcp',
      enabled: true,
      tags: [
        { id: 'a', name: 'a', unit: null, type: null, description: null, deviceId: 'plc', expectedIntervalMs: 1000 },
      ],
    },
    {
      id: 'env',
      name: 'Hall sensors',
      protocol: 'mqtt',
      enabled: true,
      tags: [
        { id: 'b', name: 'b', unit: null, type: null, description: null, deviceId: 'env', expectedIntervalMs: 20_000 },
      ],
    },
    { id: 'spare', name: 'Spare PLC', protocol: 'modbus-tcp', enabled: false, tags: [] },
  ],
};

type Device = HealthResponse['devices'][number];

function device(over: Partial<Device> = {}): Device {
  return {
    id: 'plc',
    protocol: 'modbus-tcp',
    endpoint: 'modbus-tcp://10.0.0.5:502',
    state: 'connected',
    lastGoodTs: NOW - 500,
    lastError: null,
    counters: { requests: 1000, errors: 0, timeouts: 0, reconnects: 0, overruns: 0, samples: 5000 },
    errorsByKind: {},
    latencyMs: {
      buckets: BUCKETS,
      counts: [0, 50, 90, 99, 100, 100, 100, 100, 100, 100, 100, 100],
      count: 100,
      sum: 250,
    },
    ...over,
  };
}

function health(devices: Device[], over: Partial<HealthResponse> = {}): HealthResponse {
  return {
    status: 'ok',
    startedAt: NOW - 3_600_000,
    now: NOW,
    devices,
    store: { path: '/x.db', samplesWritten: 10, pendingRows: 0, dropped: 0, lastError: null },
    sinks: [],
    pipeline: { samplesIn: 10, rejected: 0 },
    metrics: {
      ready: true,
      rebuild: { origin: 0, samples: 10, durationMs: 120 },
      samples: 10,
      minutesPersisted: 1,
      events: 0,
      errors: 0,
      lastError: null,
    },
    liveHub: { clients: 1, messagesSent: 10, skippedSlow: 0, badMessages: 0, terminated: 0 },
    ...over,
  };
}

describe('health: latency percentiles', () => {
  it('interpolates within the bucket that holds the rank, as histogram_quantile does', () => {
    const h = device().latencyMs!;
    // 50 of 100 are ≤ 2 ms, none ≤ 1 ms: the median sits at the top of (1, 2]
    expect(latencyQuantile(h, 0.5)).toEqual({ ms: 2, above: false });
    // rank 99 lies in (5, 10] which holds observations 91..99
    expect(latencyQuantile(h, 0.99)).toEqual({ ms: 10, above: false });
    expect(latencyQuantile(h, 0.7)!.ms).toBeCloseTo(2 + (3 * 20) / 40, 9);
  });

  it('gives the last bound when the rank lies beyond it, and nothing without observations', () => {
    const slow = { buckets: [1, 10], counts: [0, 1], count: 4, sum: 40_000 };
    expect(latencyQuantile(slow, 0.99)).toEqual({ ms: 10, above: true });
    expect(latencyQuantile({ buckets: BUCKETS, counts: BUCKETS.map(() => 0), count: 0, sum: 0 }, 0.5)).toBeNull();
    expect(latencyQuantile(undefined, 0.5)).toBeNull();
  });
});

describe('health: devices', () => {
  it('lists every device of the plant, a disabled one too, in the plant order', () => {
    const rows = deviceRows(
      health([device({ id: 'env', protocol: 'mqtt', latencyMs: undefined }), device()]),
      plant,
      null,
    );
    expect(rows.map((r) => [r.id, r.name, r.state])).toEqual([
      ['plc', 'Line PLC', 'connected'],
      ['env', 'Hall sensors', 'connected'],
      ['spare', 'Spare PLC', 'disabled'],
    ]);
    expect(rows[0]!.problems).toEqual([]);
    expect(rows[0]!.p50).toEqual({ ms: 2, above: false });
    expect(rows[1]!.p50).toBeNull();
    expect(rows[2]!.problems).toEqual(['disabled']);
  });

  it('marks a device that is not connected, silent for longer than its tags allow, or failing now', () => {
    const before = health([device()]);
    const now = health([
      device({
        state: 'disconnected',
        lastGoodTs: NOW - 11_000,
        lastError: 'ECONNREFUSED',
        counters: { requests: 1010, errors: 4, timeouts: 1, reconnects: 3, overruns: 0, samples: 5000 },
        errorsByKind: { connect: 3, timeout: 1 },
      }),
    ]);
    const row = deviceRows(now, plant, before)[0]!;
    expect(row.problems).toEqual(['not-connected', 'read-old', 'errors-rising', 'last-error']);
    expect([...row.rising].sort()).toEqual(['errors', 'reconnects', 'timeouts']);
    expect(row.errorsByKind).toEqual([
      ['connect', 3],
      ['timeout', 1],
    ]);
    // an MQTT device publishing every 20 s is late only after a minute
    const env = deviceRows(health([device({ id: 'env', lastGoodTs: NOW - 50_000 })]), plant, null)[1]!;
    expect(env.lateAfterMs).toBe(60_000);
    expect(env.problems).toEqual([]);
    const never = deviceRows(health([device({ lastGoodTs: null })]), plant, null)[0]!;
    expect(never.problems).toContain('no-read-yet');
  });

  it('lists a device the gateway reports but the plant does not', () => {
    const rows = deviceRows(health([device({ id: 'extra' })]), null, null);
    expect(rows.map((r) => r.id)).toEqual(['extra']);
  });
});

describe('health: gateway parts', () => {
  it('marks store errors, drops and a growing backlog', () => {
    const ok = health([]);
    expect(storeProblems(ok, null)).toEqual([]);
    const dropping = health([], { store: { ...ok.store, dropped: 5, lastError: 'SQLITE_FULL', pendingRows: 50_000 } });
    expect(storeProblems(dropping, ok)).toEqual(['error', 'dropping', 'backlog']);
    expect(storeProblems(dropping, dropping)).toEqual(['error', 'dropped', 'backlog']);
  });

  it('marks a sink that fails, drops or raises its alarm', () => {
    expect(sinkProblems({ name: 'influx', backlog: 0, lastError: null, state: 'running' })).toEqual([]);
    expect(
      sinkProblems({
        name: 'influx',
        backlog: 9000,
        lastError: 'ECONNREFUSED',
        state: 'running',
        dropped: 10,
        alarm: { active: true, since: NOW, message: 'quota reached' },
      }),
    ).toEqual(['error', 'alarm', 'dropped']);
    expect(sinkProblems({ name: 'influx', backlog: 0, lastError: null, state: 'failed' })).toEqual(['not-running']);
  });

  it('marks the metrics core while it rebuilds or when it fails, and the live hub when clients lag', () => {
    const base = health([]);
    expect(metricsProblems(base)).toEqual([]);
    expect(
      metricsProblems(health([], { metrics: { ...base.metrics!, ready: false, errors: 2, lastError: 'x' } })),
    ).toEqual(['not-ready', 'errors', 'error']);
    const lagging = health([], { liveHub: { ...base.liveHub, skippedSlow: 3, terminated: 1 } });
    expect(hubProblems(lagging, base)).toEqual(['slow-clients', 'terminated']);
    expect(hubProblems(lagging, null)).toEqual([]);
  });

  it('counts what needs a look', () => {
    const env = device({ id: 'env', protocol: 'mqtt' });
    expect(problemCount(health([device(), env]), plant, null)).toBe(0);
    // an enabled device the gateway does not report is a problem of its own
    expect(problemCount(health([device()]), plant, null)).toBe(1);
    const bad = health([device({ state: 'failed' }), env], {
      store: { path: '/x', samplesWritten: 0, pendingRows: 0, dropped: 1, lastError: null },
    });
    expect(problemCount(bad, plant, null)).toBe(2);
  });
});
