import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlantConfig } from '../../config/schema.js';
import type {
  ApiError,
  HealthResponse,
  HistoryResponse,
  LiveResponse,
  PlantView,
} from '../../gateway/server/contract.js';
import { MemoryLiveSource } from '../../gateway/server/memory-live-source.js';
import type { HealthReport, HistoryPoint, ServerDeps } from '../../gateway/server/ports.js';
import { createServer, type GreenlineServer } from '../../gateway/server/server.js';

const NOW = Date.parse('2025-03-01T08:00:00Z');

const config = PlantConfig.parse({
  site: { id: 'works', name: 'Test Works', timezone: 'Asia/Hong_Kong' },
  areas: [{ id: 'a1', name: 'Assembly' }],
  lines: [
    {
      id: 'L1',
      name: 'Line 1',
      area: 'a1',
      outputMachine: 'M1',
      calendar: 'c1',
      energy: { kwhTag: 'line_kwh' },
      machines: [
        {
          id: 'M1',
          name: 'Press',
          idealCycleTimeS: 2,
          state: {
            tag: 'm1_state',
            map: { '0': 'offline', '1': 'running', '2': { state: 'idle', reason: 'starved' } },
          },
          counters: { total: 'm1_total', good: 'm1_good' },
        },
      ],
    },
  ],
  devices: [
    {
      protocol: 'modbus-tcp',
      id: 'plc1',
      host: '10.0.0.5',
      pollGroups: { default: 500 },
      tags: [
        { id: 'm1_state', address: '40001' },
        { id: 'm1_total', address: '40002', type: 'uint32' },
        { id: 'm1_good', address: '40004', type: 'uint32' },
        { id: 'line_kwh', address: '40006', type: 'float32', unit: 'kWh', name: 'Line energy' },
      ],
    },
    {
      protocol: 'mqtt',
      id: 'env',
      url: 'mqtt://10.0.0.2:1883',
      username: 'sensor-user',
      password: 'mqtt-secret-123',
      staleAfterMs: 30_000,
      tags: [{ id: 'hall_temp', topic: 'env/temp', unit: '°C', name: 'Hall temperature', description: 'north wall' }],
    },
  ],
  calendars: [{ id: 'c1', shifts: [{ id: 'day', start: '08:00', end: '17:00' }] }],
  sinks: {
    influxdb: { url: 'http://127.0.0.1:8086', database: 'gl', username: 'influx-user', password: 'influx-secret-456' },
  },
  users: [{ username: 'op1', role: 'operator', password: 'operator-secret-789' }],
});

const health: HealthReport = {
  status: 'ok',
  startedAt: NOW - 60_000,
  now: NOW,
  devices: [
    {
      id: 'plc1',
      protocol: 'modbus-tcp',
      endpoint: '10.0.0.5:502',
      state: 'connected',
      lastGoodTs: NOW,
      lastError: null,
      counters: { requests: 10 },
    },
  ],
  store: { path: 'data/greenline.db', samplesWritten: 5, pendingRows: 0, dropped: 0, lastError: null },
  sinks: [],
  pipeline: { samplesIn: 5, rejected: 0 },
};

const historyCalls: { tagId: string; from: number; to: number; maxPoints: number }[] = [];
let historyFails = false;
const logged: { level: string; obj: object; msg?: string }[] = [];

function deps(dashboardDir: string, live = new MemoryLiveSource()): ServerDeps {
  return {
    config,
    live,
    health: () => health,
    history: {
      history(tagId, from, to, maxPoints): HistoryPoint[] {
        if (historyFails) throw new Error('disk on fire at /secret/path');
        historyCalls.push({ tagId, from, to, maxPoints });
        return [{ ts: from, value: 1.5, quality: 'good' }];
      },
    },
    dashboardDir,
    log: {
      info: (obj, msg) => logged.push({ level: 'info', obj, msg }),
      warn: (obj, msg) => logged.push({ level: 'warn', obj, msg }),
      error: (obj, msg) => logged.push({ level: 'error', obj, msg }),
    },
    demo: true,
  };
}

let tmp: string;
let builtDir: string;
let live: MemoryLiveSource;
let server: GreenlineServer;
let base: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gl-server-'));
  builtDir = join(tmp, 'built');
  mkdirSync(join(builtDir, 'assets'), { recursive: true });
  writeFileSync(join(builtDir, 'index.html'), '<!doctype html><title>greenline</title><div id="app"></div>');
  writeFileSync(join(builtDir, 'assets', 'index-abc123.js'), 'console.log(1)');
  live = new MemoryLiveSource();
  server = createServer(deps(builtDir, live), { auth: null, now: () => NOW });
  ({ url: base } = await server.start('127.0.0.1', 0));
});

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function get<T = unknown>(path: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(base + path);
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body: body as T, headers: res.headers };
}

describe('server routes', () => {
  it('listens on a free loopback port', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('GET /api/health returns the health report and live hub counters', async () => {
    const { status, body } = await get<HealthResponse>('/api/health');
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.devices[0]?.id).toBe('plc1');
    expect(body.liveHub).toMatchObject({ clients: 0, skippedSlow: 0 });
  });

  it('GET /api/plant describes site, lines, machines and devices without secrets', async () => {
    const res = await fetch(`${base}/api/plant`);
    const text = await res.text();
    for (const secret of [
      'mqtt-secret-123',
      'sensor-user',
      'influx-secret-456',
      'influx-user',
      'operator-secret-789',
      'op1',
      'password',
      'username',
      '10.0.0.5',
      '10.0.0.2',
    ]) {
      expect(text).not.toContain(secret);
    }
    const plant = JSON.parse(text) as PlantView;
    expect(plant.site).toEqual({ id: 'works', name: 'Test Works', timezone: 'Asia/Hong_Kong' });
    expect(plant.areas).toEqual([{ id: 'a1', name: 'Assembly' }]);
    const line = plant.lines[0]!;
    expect(line.tags).toEqual([{ tagId: 'line_kwh', role: 'energyKwh' }]);
    const machine = line.machines[0]!;
    expect(machine.tags).toEqual([
      { tagId: 'm1_state', role: 'state' },
      { tagId: 'm1_total', role: 'countTotal' },
      { tagId: 'm1_good', role: 'countGood' },
    ]);
    expect(machine.stateMap).toEqual({ '0': 'offline', '1': 'running', '2': 'idle' });
    expect(plant.devices.map((d) => d.id)).toEqual(['plc1', 'env']);
    expect(plant.devices[0]!.tags[3]).toEqual({
      id: 'line_kwh',
      name: 'Line energy',
      unit: 'kWh',
      type: 'float32',
      description: null,
      deviceId: 'plc1',
      expectedIntervalMs: 500,
    });
    expect(plant.devices[1]!.tags[0]).toMatchObject({
      id: 'hall_temp',
      description: 'north wall',
      type: 'float64',
      expectedIntervalMs: 10_000,
    });
  });

  it('GET /api/live lists every configured tag, "no data yet" for tags that never reported', async () => {
    live.push([{ tagId: 'hall_temp', value: 21.5, quality: 'good', ts: NOW - 1000, receivedAt: NOW - 990 }]);
    live.push([{ tagId: 'calc_oee', value: 0.8, quality: 'good', ts: NOW, receivedAt: NOW }]);
    const { status, body } = await get<LiveResponse>('/api/live');
    expect(status).toBe(200);
    expect(body.serverTime).toBe(NOW);
    expect(body.tags.map((t) => t.tagId)).toEqual([
      'm1_state',
      'm1_total',
      'm1_good',
      'line_kwh',
      'hall_temp',
      'calc_oee',
    ]);
    expect(body.tags.find((t) => t.tagId === 'hall_temp')).toEqual({
      tagId: 'hall_temp',
      name: 'Hall temperature',
      unit: '°C',
      deviceId: 'env',
      value: 21.5,
      quality: 'good',
      reason: null,
      ts: NOW - 1000,
      receivedAt: NOW - 990,
    });
    expect(body.tags.find((t) => t.tagId === 'm1_state')).toMatchObject({
      value: null,
      quality: 'bad',
      reason: 'no data yet',
      ts: null,
      receivedAt: null,
    });
    expect(body.tags.find((t) => t.tagId === 'calc_oee')).toMatchObject({ deviceId: null, value: 0.8 });
  });

  describe('GET /api/tags/:id/history', () => {
    it('defaults to the last hour and 600 points', async () => {
      historyCalls.length = 0;
      const { status, body } = await get<HistoryResponse>('/api/tags/line_kwh/history');
      expect(status).toBe(200);
      expect(historyCalls).toEqual([{ tagId: 'line_kwh', from: NOW - 3_600_000, to: NOW, maxPoints: 600 }]);
      expect(body).toEqual({
        tagId: 'line_kwh',
        from: NOW - 3_600_000,
        to: NOW,
        maxPoints: 600,
        points: [{ ts: NOW - 3_600_000, value: 1.5, quality: 'good' }],
      });
    });

    it('takes ms or ISO date-times with an offset', async () => {
      historyCalls.length = 0;
      const from = '2025-03-01T07:30:00+08:00';
      const { status } = await get(
        `/api/tags/hall_temp/history?from=${encodeURIComponent(from)}&to=${NOW}&maxPoints=5000`,
      );
      expect(status).toBe(200);
      expect(historyCalls).toEqual([{ tagId: 'hall_temp', from: Date.parse(from), to: NOW, maxPoints: 5000 }]);
    });

    it('answers 400 with every problem and its field path', async () => {
      const { status, body } = await get<ApiError>('/api/tags/line_kwh/history?from=yesterday&maxPoints=0');
      expect(status).toBe(400);
      expect(body.error.code).toBe('GL_ERR_BAD_REQUEST');
      expect(body.error.issues?.map((i) => i.path).sort()).toEqual(['query.from', 'query.maxPoints']);
      for (const issue of body.error.issues ?? []) expect(issue.message.length).toBeGreaterThan(5);
    });

    it.each([
      ['maxPoints above 5000', '?maxPoints=5001', 'query.maxPoints'],
      ['maxPoints not a number', '?maxPoints=lots', 'query.maxPoints'],
      ['to before from', `?from=${NOW}&to=${NOW - 1}`, 'query.to'],
      ['to equal to from', `?from=${NOW}&to=${NOW}`, 'query.to'],
      ['from in the future without to', `?from=${NOW + 10}`, 'query.from'],
      ['ISO without an offset', '?from=2025-03-01T07:30:00', 'query.from'],
      ['an unknown parameter', '?maxpoints=10', 'query'],
      ['a repeated parameter', `?from=1&from=2`, 'query.from'],
    ])('answers 400 for %s', async (_label, query, path) => {
      const { status, body } = await get<ApiError>(`/api/tags/line_kwh/history${query}`);
      expect(status).toBe(400);
      expect(body.error.code).toBe('GL_ERR_BAD_REQUEST');
      expect(body.error.issues?.map((i) => i.path)).toContain(path);
    });

    it('answers 400 for a malformed tag id and 404 for an unknown one', async () => {
      const bad = await get<ApiError>('/api/tags/1-bad/history');
      expect(bad.status).toBe(400);
      expect(bad.body.error.issues?.[0]?.path).toBe('params.id');
      const unknown = await get<ApiError>('/api/tags/no_such_tag/history');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('GL_ERR_NOT_FOUND');
      expect(unknown.body.error.message).toContain('no_such_tag');
    });

    it('hides internal failures behind GL_ERR_INTERNAL and logs them', async () => {
      historyFails = true;
      logged.length = 0;
      try {
        const res = await fetch(`${base}/api/tags/line_kwh/history`);
        const text = await res.text();
        expect(res.status).toBe(500);
        expect(JSON.parse(text).error.code).toBe('GL_ERR_INTERNAL');
        expect(text).not.toContain('disk on fire');
        expect(text).not.toContain('at ');
        expect(logged.some((l) => l.level === 'error' && JSON.stringify(l.obj).includes('disk on fire'))).toBe(true);
      } finally {
        historyFails = false;
      }
    });
  });

  it('answers unknown API paths with a JSON 404', async () => {
    const { status, body } = await get<ApiError>('/api/nothing-here');
    expect(status).toBe(404);
    expect(body.error.code).toBe('GL_ERR_NOT_FOUND');
  });

  it('answers a plain GET on the live WebSocket path with 426', async () => {
    const { status, body } = await get<ApiError>('/api/live/ws');
    expect(status).toBe(426);
    expect(body.error.code).toBe('GL_ERR_UPGRADE_REQUIRED');
  });

  it.each([
    '/api/health',
    '/api/nothing-here',
    '/api/tags/line_kwh/history?maxPoints=0',
    '/',
    '/assets/index-abc123.js',
    '/missing.js',
  ])('sets security headers on %s', async (path) => {
    const { headers } = await get(path);
    expect(headers.get('content-security-policy')).toBe(
      "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    );
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
    expect(headers.get('x-frame-options')).toBe('DENY');
  });

  describe('dashboard files', () => {
    it('serves index.html at / and as the fallback for page paths', async () => {
      for (const path of ['/', '/lines/L1', '/index.html']) {
        const { status, body, headers } = await get<string>(path);
        expect(status, path).toBe(200);
        expect(body).toContain('<div id="app">');
        expect(headers.get('content-type')).toContain('text/html');
        expect(headers.get('cache-control')).toBe('no-cache');
      }
    });

    it('serves hashed assets with a long cache and 404s missing files', async () => {
      const asset = await get<string>('/assets/index-abc123.js');
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      expect((await get('/assets/index-zzz.js')).status).toBe(404);
    });

    it('answers 503 with a clear message when the dashboard is not built', async () => {
      const emptyDir = join(tmp, 'empty');
      mkdirSync(emptyDir);
      const other = createServer(deps(emptyDir), { auth: null, now: () => NOW });
      try {
        const res = await other.app.inject({ method: 'GET', url: '/' });
        expect(res.statusCode).toBe(503);
        expect(res.body).toBe('dashboard not built: run npm run build');
        expect((await other.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
        const missing = createServer(deps(join(tmp, 'does-not-exist')), { auth: null });
        expect((await missing.app.inject({ method: 'GET', url: '/lines' })).statusCode).toBe(503);
        await missing.stop();
      } finally {
        await other.stop();
      }
    });
  });
});
