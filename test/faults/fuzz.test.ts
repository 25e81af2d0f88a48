/**
 * Fuzzing with fast-check, through real sockets:
 * - MQTT payloads into the MQTT driver through a real mosquitto;
 * - Modbus answers from a raw socket server sending random frames (some with
 *   the request's header and a random PDU, some plain random bytes) to the
 *   Modbus driver;
 * - API bodies and query strings against the real server (the sign-in rig:
 *   real store, real routes): every answer a 2xx, or a 4xx with a JSON error;
 *   never a 5xx, never a crash;
 * - config files through loadConfigText: every failure a ConfigError whose
 *   problems all carry a path, never another exception.
 * After the drivers' fuzzing, a valid input still gives a good sample.
 */
import net from 'node:net';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../config/errors.js';
import { loadConfigText } from '../../config/loader.js';
import { ModbusTcpDevice, MqttDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { DriverContext, Sample } from '../../protocols/types.js';
import { PASSWORD, PLANT, ROLE_USERS, startAuthRig } from '../integration/peers/auth-rig.js';
import { type MosquittoPeer, startMosquitto } from '../integration/peers/mosquitto.js';
import { sleep, waitFor } from './rig.js';

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

function countingContext(): { ctx: DriverContext; samples: Sample[] } {
  const samples: Sample[] = [];
  return {
    samples,
    ctx: {
      now: Date.now,
      log: quietLog,
      emit: (batch) => {
        for (const s of batch) samples.push(s);
        if (samples.length > 10_000) samples.splice(0, samples.length - 1000);
      },
    },
  };
}

describe('MQTT payloads through mosquitto', () => {
  let broker: MosquittoPeer;
  afterAll(async () => broker?.stop());

  it('never crashes the driver, and a valid payload after the fuzz is read', async () => {
    broker = await startMosquitto();
    const device = MqttDevice.parse({
      protocol: 'mqtt',
      id: 'fz',
      url: broker.url,
      format: 'json',
      qos: 0,
      tags: [
        { id: 'fz.num', topic: 'fuzz/a', jsonPath: 'v' },
        { id: 'fz.deep', topic: 'fuzz/+', jsonPath: 'x.y[0]', timestampPath: 'ts' },
      ],
    });
    const { ctx, samples } = countingContext();
    const driver = createDriver(device, ctx, { backoff: { initialMs: 100, maxMs: 1000 } });
    await driver.start();
    const pub = mqtt.connect(broker.url);
    await new Promise<void>((r) => pub.once('connect', () => r()));
    await waitFor(() => driver.status().state === 'connected', 5000);
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
      fc.json().map((j) => Buffer.from(j)),
      fc
        .record({ v: fc.anything(), ts: fc.anything(), x: fc.anything() })
        .map((o) => Buffer.from(JSON.stringify(o) ?? 'null')),
      fc.string().map((s) => Buffer.from(`{"v":${s}`)),
    );
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(payload, { minLength: 1, maxLength: 20 }), async (batch) => {
        for (const p of batch) {
          pub.publish(sent % 2 ? 'fuzz/a' : 'fuzz/b', p);
          sent++;
        }
        await sleep(5);
        return driver.status().state === 'connected';
      }),
      { numRuns: 100 },
    );
    await sleep(300);
    const before = samples.length;
    pub.publish('fuzz/a', JSON.stringify({ v: 42.5 }));
    await waitFor(() => samples.slice(before).some((s) => s.tagId === 'fz.num' && s.value === 42.5), 3000);
    const bad = samples.filter((s) => s.quality !== 'good').length;
    console.log(
      `fuzz mqtt: ${sent} payloads, driver ${driver.status().state}, ${bad} bad-quality samples among the last ${samples.length}`,
    );
    pub.end(true);
    await driver.stop();
  });
});

describe('Modbus answers from a raw socket', () => {
  it('never crashes the driver, which reads again once the answers are right', async () => {
    let frames: Buffer[] = [];
    let valid = false;
    let answered = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.on('data', (req: Buffer) => {
        if (req.length < 12) return;
        answered++;
        if (valid) {
          // FC 3 answer of `count` zero registers, the request's header
          const count = req.readUInt16BE(10);
          const out = Buffer.alloc(9 + 2 * count);
          req.copy(out, 0, 0, 4);
          out.writeUInt16BE(3 + 2 * count, 4);
          out[6] = req[6]!;
          out[7] = req[7]!;
          out[8] = 2 * count;
          socket.write(out);
          return;
        }
        const f = frames[answered % Math.max(1, frames.length)] ?? Buffer.alloc(0);
        if (f.length > 0 && f[0]! & 1) {
          // the request's transaction id, protocol, unit and function code, a random rest
          const h = Buffer.from(req.subarray(0, 8));
          h.writeUInt16BE(Math.min(253, f.length + 2), 4);
          socket.write(Buffer.concat([h, f]));
        } else socket.write(f);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const device = ModbusTcpDevice.parse({
      protocol: 'modbus-tcp',
      id: 'fm',
      host: '127.0.0.1',
      port,
      timeoutMs: 100,
      pollGroups: { default: 50 },
      tags: [
        { id: 'fm.a', address: 'hr:0', type: 'uint16' },
        { id: 'fm.b', address: 'hr:1', type: 'int16' },
        { id: 'fm.c', address: 'hr:2', type: 'float32' },
      ],
    });
    const { ctx, samples } = countingContext();
    const driver = createDriver(device, ctx, { backoff: { initialMs: 20, maxMs: 100 } });
    await driver.start();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        async (list) => {
          frames = list.map((b) => Buffer.from(b));
          await sleep(60);
          return true;
        },
      ),
      { numRuns: 60 },
    );
    valid = true;
    const before = samples.length;
    await waitFor(() => samples.slice(before).some((s) => s.tagId === 'fm.c' && s.quality === 'good'), 5000);
    const st = driver.status();
    console.log(`fuzz modbus: ${answered} answers, errors by kind ${JSON.stringify(st.errorsByKind)}`);
    await driver.stop();
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe('API bodies and query strings against the real server', () => {
  it('answers 2xx or a JSON 4xx, never 5xx', async () => {
    const rig = await startAuthRig();
    try {
      const admin = await rig.login(ROLE_USERS.admin);
      const paths = [
        '/api/health',
        '/api/plant',
        '/api/live',
        '/api/tags/m1_state/history',
        '/api/tags/%00/history',
        '/api/metrics',
        '/api/metrics/line/L1',
        '/api/metrics/machine/M1/series',
        '/api/metrics/line/L1/baseline',
        '/api/export/energy.csv',
        '/api/export/tags.csv',
        '/api/alarms',
        '/api/alarms/line-kwh-high',
        '/api/alarms/stats',
        '/api/alarms/audit',
        '/api/alarms/line-kwh-high/acknowledge',
        '/api/alarms/line-kwh-high/shelve',
        '/api/alarms/nope/out-of-service',
        '/api/me',
        '/api/me/password',
        '/api/users',
        '/api/users/nobody-here',
        '/api/tokens',
        '/api/tokens/123',
        '/api/login',
      ];
      const keys = [
        'from',
        'to',
        'maxPoints',
        'window',
        'days',
        'period',
        'level',
        'line',
        'machine',
        'tags',
        'resolution',
        'alarmId',
        'limit',
      ];
      const value = fc.oneof(
        fc.string(),
        fc.integer().map(String),
        fc.double().map(String),
        fc.constantFrom('today', 'shift', 'hour', '2025-03-01T08:00:00+08:00', '', '-1', '1e309', 'NaN', '[]'),
      );
      const request = fc.record({
        method: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT'),
        path: fc.constantFrom(...paths),
        query: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...keys), fc.string()), value), { maxLength: 5 }),
        body: fc.oneof(
          fc.constant(undefined),
          fc.json(),
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        json: fc.boolean(),
      });
      let calls = 0;
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const qs = new URLSearchParams(r.query).toString();
          // never sign the fuzzing admin out or change the users it needs
          if (r.path.startsWith('/api/users') && r.method !== 'GET') return true;
          if (r.path === '/api/me/password') return true;
          const headers: Record<string, string> = { cookie: admin };
          if (r.json) headers['content-type'] = 'application/json';
          const res = await fetch(`${rig.url}${r.path}${qs ? `?${qs}` : ''}`, {
            method: r.method,
            headers,
            body: r.method === 'GET' ? undefined : r.body,
          });
          calls++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const text = await res.text();
          if (res.status >= 500) throw new Error(`${r.method} ${r.path}?${qs} → ${res.status} ${text}`);
          if (res.status >= 400) {
            const body = JSON.parse(text) as { error?: { code?: string } };
            if (typeof body.error?.code !== 'string') throw new Error(`${res.status} without a JSON error: ${text}`);
          }
          return true;
        }),
        { numRuns: 400 },
      );
      // the login form: bodies of every shape
      await fc.assert(
        fc.asyncProperty(fc.anything(), async (body) => {
          const res = await fetch(`${rig.url}/api/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body) ?? 'null',
          });
          await res.text();
          return res.status < 500;
        }),
        { numRuns: 50 },
      );
      console.log(`fuzz api: ${calls} calls, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
      expect(PASSWORD.length).toBeGreaterThan(0);
    } finally {
      await rig.close();
    }
  });
});

describe('config files through loadConfigText', () => {
  const isConfigErrorWithPaths = (err: unknown) =>
    err instanceof ConfigError && err.problems.length > 0 && err.problems.every((p) => typeof p.path === 'string');

  const check = (text: string) => {
    try {
      loadConfigText(text);
    } catch (err) {
      if (!isConfigErrorWithPaths(err)) throw err;
    }
  };

  it('random text and random YAML values: a ConfigError with paths or a config', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (t) => check(t)),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.anything(), (v) => check(stringify(v) ?? '')),
      { numRuns: 300 },
    );
  });

  it('the test plant with parts replaced by random values', () => {
    const base = JSON.parse(JSON.stringify(PLANT)) as Record<string, unknown>;
    const keys = Object.keys(base);
    fc.assert(
      fc.property(
        fc.constantFrom(...keys, 'store', 'server', 'users', 'sinks', 'extra'),
        fc.anything(),
        fc.constantFrom('replace', 'nested'),
        (key, value, how) => {
          const plant: Record<string, unknown> = JSON.parse(JSON.stringify(base));
          if (how === 'replace') plant[key] = value;
          else plant.devices = [{ ...(PLANT.devices[0] as object), [String(key)]: value }];
          check(stringify(plant));
        },
      ),
      { numRuns: 400 },
    );
  });
});
