/**
 * A misbehaving Modbus TCP server: every kind of broken answer ends as a
 * bad-quality Sample with a reason and a counter, never as a crash, a stall
 * or an unhandled rejection, and the driver recovers once the server behaves.
 * Also: values that do not decode, and rate-limited logs for a device that
 * fails all the time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusTcpDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver, Sample } from '../../protocols/types.js';
import { BadModbusServer, type Misbehaviour } from './peers/bad-modbus-server.js';
import { freePort } from './peers/free-port.js';
import { deepFreeze, recordingContext } from './peers/recording-context.js';

const TIMEOUT_MS = 200;
const INTERVAL = 100;
const FAST_BACKOFF = { initialMs: 50, maxMs: 200 };

const TAGS = [
  { id: 'u0', address: 'hr:0' },
  { id: 'f2', address: 'hr:2', type: 'float32' },
  { id: 'i6', address: 'hr:6', type: 'int32' },
];

function device(id: string, port: number, more: Record<string, unknown> = {}) {
  return deepFreeze(
    ModbusTcpDevice.parse({
      protocol: 'modbus-tcp',
      id,
      host: '127.0.0.1',
      port,
      timeoutMs: TIMEOUT_MS,
      pollGroups: { default: INTERVAL },
      tags: TAGS,
      ...more,
    }),
  );
}

const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});

afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

describe('a misbehaving server', () => {
  let server: BadModbusServer;
  let driver: Driver;
  const ctx = recordingContext();

  beforeAll(async () => {
    server = await BadModbusServer.start({ holdingRegisters: 10, lateMs: TIMEOUT_MS * 2 });
    // 0x4048_F5C3 = 3.14 (float32); -7 as int32
    server.set(0, [42, 0, 0x4048, 0xf5c3, 0, 0, 0xffff, 0xfff9]);
    driver = createDriver(device('bad', server.port), ctx, { backoff: FAST_BACKOFF });
    await driver.start();
    await ctx.until(() => ctx.latest('i6')?.quality === 'good', 5000, 'a first good cycle');
  });

  afterAll(async () => {
    await driver?.stop();
    await server?.stop();
  });

  const since = (from: number, id: string): Sample[] => ctx.samples.slice(from).filter((s) => s.tagId === id);

  const cases: Array<{ mode: Misbehaviour; reason: RegExp; kinds: string[] }> = [
    { mode: 'truncated', reason: /^timeout$/, kinds: ['timeout'] },
    { mode: 'wrong-byte-count', reason: /^protocol error: .*(registers|length)/, kinds: ['protocol'] },
    { mode: 'wrong-transaction-id', reason: /^timeout$/, kinds: ['timeout'] },
    { mode: 'wrong-function-code', reason: /^protocol error: .*code/, kinds: ['protocol'] },
    { mode: 'wrong-unit-id', reason: /^protocol error: .*address/, kinds: ['protocol'] },
    { mode: 'garbage', reason: /^(timeout|protocol error: .+)$/, kinds: ['timeout', 'protocol'] },
    { mode: 'late', reason: /^timeout$/, kinds: ['timeout'] },
    { mode: 'close-mid-frame', reason: /^disconnected$/, kinds: ['disconnected'] },
    { mode: 'silent', reason: /^timeout$/, kinds: ['timeout'] },
  ];

  for (const c of cases) {
    it(`${c.mode}: bad quality with a reason and a counter, then recovery`, async () => {
      const before = driver.status();
      const kindCount = (s: typeof before) => c.kinds.reduce((n, k) => n + (s.errorsByKind?.[k] ?? 0), 0);
      const from = ctx.samples.length;
      server.mode = c.mode;
      await ctx.until(
        () => since(from, 'u0').some((s) => s.quality === 'bad' && c.reason.test(s.reason ?? '')),
        3000,
        `a bad sample matching ${c.reason}`,
      );
      const during = driver.status();
      expect(during.counters.errors).toBeGreaterThan(before.counters.errors);
      expect(kindCount(during)).toBeGreaterThan(kindCount(before));
      // nothing good was made up from a broken answer
      for (const s of ctx.samples.slice(from)) {
        if (s.quality === 'good') expect(s.value, `${s.tagId} ${c.mode}`).toBe({ u0: 42, f2: 3.14, i6: -7 }[s.tagId]);
      }

      server.mode = 'ok';
      const recovering = ctx.samples.length;
      // at worst three failures in a row (up to 3 × timeout), a reconnect, and a cycle
      await ctx.until(
        () => TAGS.every((t) => since(recovering, t.id).some((s) => s.quality === 'good')),
        3 * (TIMEOUT_MS + 250) + 2000,
        'recovery',
      );
      expect(ctx.latest('u0')).toMatchObject({ quality: 'good', value: 42 });
      expect(ctx.latest('f2')?.value as number).toBeCloseTo(3.14, 5);
      expect(ctx.latest('i6')?.value).toBe(-7);
    });
  }

  it('NaN and infinite floats: that tag bad with a decode error and a counter, the others good', async () => {
    const cases: Array<[number[], string]> = [
      [[0x7fc0, 0x0000], 'decode error: NaN'],
      [[0x7f80, 0x0000], 'decode error: Infinity'],
      [[0xff80, 0x0000], 'decode error: -Infinity'],
    ];
    for (const [registers, reason] of cases) {
      const decodeErrors = driver.status().errorsByKind?.decode ?? 0;
      server.set(2, registers);
      await ctx.until(() => ctx.latest('f2')?.reason === reason, 2000, reason);
      expect(ctx.latest('f2')).toMatchObject({ quality: 'bad', value: null });
      expect(ctx.latest('u0')?.quality).toBe('good');
      expect(driver.status().errorsByKind?.decode).toBeGreaterThan(decodeErrors);
    }
    server.set(2, [0x4048, 0xf5c3]);
    await ctx.until(() => ctx.latest('f2')?.quality === 'good', 2000, 'a good float again');
  });

  it('never an unhandled rejection or exception, and the driver is still connected', () => {
    expect(unhandled).toEqual([]);
    expect(driver.status().state).toBe('connected');
    expect(driver.status().counters.reconnects).toBeGreaterThan(0);
  });
});

describe('rate-limited logs', () => {
  const servers: BadModbusServer[] = [];
  const drivers: Driver[] = [];
  afterAll(async () => {
    await Promise.all(drivers.map((d) => d.stop()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  const problems = (ctx: ReturnType<typeof recordingContext>) =>
    ctx.lines.filter((l) => l.level === 'warn' || l.level === 'error');

  it('a device refusing every read for 3 s logs one line, not thirty', async () => {
    const server = await BadModbusServer.start({ holdingRegisters: 10, exception: () => 4 });
    servers.push(server);
    const ctx = recordingContext();
    const driver = createDriver(device('failing', server.port), ctx, { backoff: FAST_BACKOFF });
    drivers.push(driver);
    await driver.start();
    await new Promise((r) => setTimeout(r, 3000));
    const failures = driver.status().errorsByKind?.['exception-4'] ?? 0;
    expect(failures).toBeGreaterThanOrEqual(15);
    expect(problems(ctx).length).toBeLessThanOrEqual(2);
    expect(problems(ctx)[0]?.obj.kind).toBe('exception-4');
  });

  it('a device refusing connections every 100 ms for 3 s logs one line, not thirty', async () => {
    const port = await freePort();
    const ctx = recordingContext();
    const driver = createDriver(device('refusing', port), ctx, {
      backoff: { initialMs: 100, maxMs: 100, jitter: 0 },
    });
    drivers.push(driver);
    await driver.start();
    await new Promise((r) => setTimeout(r, 3000));
    const status = driver.status();
    expect(status.errorsByKind?.connect).toBeGreaterThanOrEqual(15);
    expect(status.counters.reconnects).toBeGreaterThanOrEqual(15);
    expect(problems(ctx).length).toBeLessThanOrEqual(2);
    expect(problems(ctx)[0]?.obj.kind).toBe('connect-failed');
  });
});
