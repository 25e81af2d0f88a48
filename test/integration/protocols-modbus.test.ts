/**
 * The Modbus driver against an independent Modbus implementation (pymodbus):
 * values in several types and word orders, a Modbus exception, a crash and a
 * restart of the device, RTU framing over TCP, and isolation between devices.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusRtuDevice, ModbusTcpDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver } from '../../protocols/types.js';
import { type PymodbusPeer, type PymodbusSpec, startPymodbus } from './peers/pymodbus.js';
import { deepFreeze, recordingContext } from './peers/recording-context.js';
import { type PtyPair, startPtyPair } from './peers/socat.js';

const SPEC: PymodbusSpec = {
  hr: {
    size: 20,
    values: [
      { at: 0, type: 'float32', order: 'ABCD', value: 123.456 },
      { at: 2, type: 'float32', order: 'CDAB', value: -45.25 },
      { at: 4, type: 'uint32', order: 'ABCD', value: 4_000_000_000 },
      { at: 6, type: 'uint32', order: 'CDAB', value: 123_456_789 },
      { at: 8, type: 'int16', value: -1234 },
      { at: 10, type: 'string', length: 4, value: 'PUMP-01' },
      { at: 14, type: 'bool', bit: 3, value: true },
    ],
  },
  co: { size: 8, values: [{ at: 3, value: true }] },
};

const tags = [
  { id: 'f_abcd', address: 'hr:0', type: 'float32', wordOrder: 'ABCD' },
  { id: 'f_cdab', address: 'hr:2', type: 'float32', wordOrder: 'CDAB' },
  { id: 'u_abcd', address: 'hr:4', type: 'uint32' },
  { id: 'u_cdab', address: 'hr:6', type: 'uint32', wordOrder: 'CDAB' },
  { id: 'i16', address: 'hr:8', type: 'int16' },
  { id: 'name', address: 'hr:10', type: 'string', length: 4 },
  { id: 'flag', address: 'hr:14.3', type: 'bool' },
  { id: 'coil3', address: 'coil:3', type: 'bool' },
  { id: 'coil2', address: '00003', type: 'bool' },
  // beyond the 20 registers pymodbus holds: exception 2, in a block of its own
  { id: 'missing', address: 'hr:40' },
];
const TAG_IDS = tags.map((t) => t.id);
const FAST_BACKOFF = { initialMs: 100, maxMs: 400 };

function tcpDevice(id: string, port: number, more: Record<string, unknown> = {}) {
  return ModbusTcpDevice.parse({
    protocol: 'modbus-tcp',
    id,
    host: '127.0.0.1',
    port,
    timeoutMs: 300,
    pollGroups: { default: 100 },
    tags,
    ...more,
  });
}

describe('Modbus TCP against pymodbus', () => {
  let peer: PymodbusPeer;
  let driver: Driver;
  const ctx = recordingContext();

  beforeAll(async () => {
    peer = await startPymodbus({ spec: SPEC });
    driver = createDriver(deepFreeze(tcpDevice('plc1', peer.port)), ctx, { backoff: FAST_BACKOFF });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    await peer?.stop();
  });

  it('reads values in several types and word orders', async () => {
    await ctx.until(() => ctx.latest('coil3')?.quality === 'good', 5000, 'the first good cycle');
    const value = (id: string) => ctx.latest(id)?.value;
    expect(value('f_abcd') as number).toBeCloseTo(123.456, 3);
    expect(value('f_cdab')).toBe(-45.25);
    expect(value('u_abcd')).toBe(4_000_000_000);
    expect(value('u_cdab')).toBe(123_456_789);
    expect(value('i16')).toBe(-1234);
    expect(value('name')).toBe('PUMP-01');
    expect(value('flag')).toBe(true);
    expect(value('coil3')).toBe(true);
    expect(value('coil2')).toBe(false);
    for (const id of TAG_IDS.filter((t) => t !== 'missing')) expect(ctx.latest(id)?.quality, id).toBe('good');
  });

  it('a Modbus exception marks only the tags of that block', async () => {
    await ctx.until(() => ctx.latest('missing') !== undefined, 2000, 'the missing tag');
    expect(ctx.latest('missing')).toMatchObject({
      quality: 'bad',
      value: null,
      reason: 'exception 2 (illegal data address)',
    });
    expect(ctx.latest('i16')?.quality).toBe('good');
    const status = driver.status();
    expect(status.endpoint).toBe(`modbus-tcp://127.0.0.1:${peer.port}`);
    expect(status.state).toBe('connected');
    expect(status.counters.requests).toBeGreaterThan(0);
    expect(status.counters.errors).toBeGreaterThan(0);
    expect(status.lastGoodTs).not.toBeNull();
  });

  it('follows a value that changes on the device', async () => {
    await peer.set('hr', { at: 8, type: 'int16', value: 4321 });
    await ctx.until(() => ctx.latest('i16')?.value === 4321, 2000, 'the new value');
  });

  it('marks every tag disconnected once when the device dies, and recovers when it is back', async () => {
    const before = ctx.samples.length;
    const killedAt = Date.now();
    await peer.stop('SIGKILL');
    await ctx.until(
      () => TAG_IDS.every((id) => ctx.latest(id)?.reason === 'disconnected'),
      300 + 1000,
      'disconnected tags',
    );
    expect(Date.now() - killedAt).toBeLessThan(1300);
    expect(driver.status().state).not.toBe('connected');

    // while it stays down, no more samples: each tag was marked once
    await new Promise((r) => setTimeout(r, 800));
    const during = ctx.samples.slice(before);
    for (const id of TAG_IDS) {
      expect(
        during.filter((s) => s.tagId === id && s.reason === 'disconnected'),
        id,
      ).toHaveLength(1);
    }
    expect(during.every((s) => s.quality === 'bad')).toBe(true);

    await peer.restart();
    await ctx.until(() => ctx.latest('f_abcd')?.quality === 'good', 5000, 'good values after the restart');
    expect(ctx.latest('name')?.value).toBe('PUMP-01');
    const status = driver.status();
    expect(status.state).toBe('connected');
    expect(status.counters.reconnects).toBeGreaterThan(0);
  });
});

describe('Modbus RTU framing over TCP against pymodbus', () => {
  let peer: PymodbusPeer;
  let driver: Driver;
  const ctx = recordingContext();

  beforeAll(async () => {
    peer = await startPymodbus({ spec: SPEC, framer: 'rtu' });
    const device = ModbusRtuDevice.parse({
      protocol: 'modbus-rtu',
      id: 'rtu1',
      transport: 'tcp',
      host: '127.0.0.1',
      port: peer.port,
      timeoutMs: 300,
      pollGroups: { default: 100 },
      tags,
    });
    driver = createDriver(deepFreeze(device), ctx, { backoff: FAST_BACKOFF });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    await peer?.stop();
  });

  it('reads the same values', async () => {
    await ctx.until(
      () => ctx.latest('coil3')?.quality === 'good' && ctx.latest('missing') !== undefined,
      5000,
      'a cycle',
    );
    expect(ctx.latest('f_cdab')?.value).toBe(-45.25);
    expect(ctx.latest('u_cdab')?.value).toBe(123_456_789);
    expect(ctx.latest('name')?.value).toBe('PUMP-01');
    expect(ctx.latest('missing')?.reason).toBe('exception 2 (illegal data address)');
    expect(driver.status().endpoint).toBe(`modbus-rtu+tcp://127.0.0.1:${peer.port}`);
  });
});

describe('Modbus RTU on a serial line (socat pty pair) against pymodbus', () => {
  let line: PtyPair;
  let peer: PymodbusPeer;
  let driver: Driver;
  const ctx = recordingContext();

  beforeAll(async () => {
    line = await startPtyPair();
    peer = await startPymodbus({ spec: SPEC, serial: line.deviceSide });
    const device = ModbusRtuDevice.parse({
      protocol: 'modbus-rtu',
      id: 'rtu-serial',
      transport: 'serial',
      path: line.hostSide,
      baudRate: 19200,
      parity: 'even',
      timeoutMs: 300,
      pollGroups: { default: 100 },
      tags,
    });
    driver = createDriver(deepFreeze(device), ctx, { backoff: FAST_BACKOFF });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    await peer?.stop();
    await line?.stop();
  });

  it('reads the same values', async () => {
    await ctx.until(
      () => ctx.latest('coil3')?.quality === 'good' && ctx.latest('missing') !== undefined,
      5000,
      'a cycle',
    );
    expect(ctx.latest('f_abcd')?.value as number).toBeCloseTo(123.456, 3);
    expect(ctx.latest('u_cdab')?.value).toBe(123_456_789);
    expect(ctx.latest('name')?.value).toBe('PUMP-01');
    expect(ctx.latest('missing')?.reason).toBe('exception 2 (illegal data address)');
    expect(driver.status().endpoint).toBe(`modbus-rtu:${line.hostSide}?19200-8E1`);
  });

  it('a silent bus times out, re-opens the port, and recovers when the device answers again', async () => {
    await peer.mute(true);
    await ctx.until(() => ctx.latest('i16')?.reason === 'timeout', 3000, 'timeouts');
    // three timeouts in a row re-open the port; the tags then show disconnected
    await ctx.until(() => ctx.latest('i16')?.reason === 'disconnected', 5000, 'disconnected');
    expect(driver.status().counters.timeouts).toBeGreaterThanOrEqual(3);
    await ctx.until(() => driver.status().counters.reconnects > 0, 2000, 'the port to be re-opened');
    await peer.mute(false);
    await ctx.until(() => ctx.latest('i16')?.quality === 'good', 8000, 'good values again');
    expect(ctx.latest('name')?.value).toBe('PUMP-01');
  });

  it('a serial line that goes away (adapter unplugged) shows as disconnected at once', async () => {
    await line.stop();
    await ctx.until(() => ctx.latest('i16')?.reason === 'disconnected', 1000, 'disconnected');
    expect(driver.status().state).not.toBe('connected');
  });
});

describe('device isolation', () => {
  const peers: PymodbusPeer[] = [];
  const drivers: Driver[] = [];
  const contexts = [recordingContext(), recordingContext(), recordingContext(), recordingContext()];
  let silent: net.Server;
  const silentSockets = new Set<net.Socket>();
  const INTERVAL = 100;

  beforeAll(async () => {
    peers.push(...(await Promise.all([0, 1, 2].map(() => startPymodbus({ spec: SPEC })))));
    // a fourth device that accepts connections and never answers
    silent = net.createServer((s) => {
      silentSockets.add(s);
      s.on('close', () => silentSockets.delete(s));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const ports = [...peers.map((p) => p.port), silentPort];
    ports.forEach((port, i) => {
      const device = tcpDevice(`dev${i}`, port, {
        pollGroups: { default: INTERVAL },
        tags: tags.filter((t) => t.id !== 'missing'),
      });
      drivers.push(createDriver(deepFreeze(device), contexts[i]!, { backoff: FAST_BACKOFF }));
    });
    await Promise.all(drivers.map((d) => d.start()));
  });

  afterAll(async () => {
    await Promise.all(drivers.map((d) => d.stop()));
    await Promise.all(peers.map((p) => p.stop()));
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  });

  const cycles = (i: number, from: number, to: number) =>
    contexts[i]!.samples.filter((s) => s.tagId === 'i16' && s.quality === 'good' && s.ts >= from && s.ts < to).length;

  it('a dead and a silent device do not slow the others down', async () => {
    for (const i of [0, 1, 2]) {
      await contexts[i]!.until(() => contexts[i]!.latest('i16')?.quality === 'good', 5000, `device ${i}`);
    }
    const windowMs = 3000;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const t1 = Date.now();
    await peers[2]!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, windowMs));
    const t2 = Date.now();

    const expected = windowMs / INTERVAL;
    for (const i of [0, 1]) {
      const before = cycles(i, t0, t1);
      const after = cycles(i, t1, t2);
      expect(before, `device ${i} before`).toBeGreaterThanOrEqual(expected * 0.9);
      expect(after, `device ${i} after`).toBeGreaterThanOrEqual(expected * 0.9);
      expect(Math.abs(after - before) / before, `device ${i} rate change`).toBeLessThanOrEqual(0.1);
      expect(drivers[i]!.status().counters.overruns).toBe(0);
    }
    // the killed device shows as disconnected and keeps trying
    expect(contexts[2]!.latest('i16')?.reason).toBe('disconnected');
    expect(drivers[2]!.status().counters.reconnects).toBeGreaterThan(0);
    // the silent one times out and reconnects after three timeouts in a row
    const silentStatus = drivers[3]!.status();
    expect(silentStatus.counters.timeouts).toBeGreaterThanOrEqual(3);
    expect(silentStatus.counters.reconnects).toBeGreaterThan(0);
    expect(contexts[3]!.of('i16').some((s) => s.reason === 'timeout')).toBe(true);
    // its 100 ms schedule outruns 300 ms timeouts: ticks are skipped and counted, requests do not pile up
    expect(silentStatus.counters.overruns).toBeGreaterThan(0);
    expect(silentStatus.counters.requests).toBeLessThanOrEqual(Math.ceil((t2 - t0) / 300) + 4);
  });
});
