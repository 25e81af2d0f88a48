/**
 * What a device refuses: exception 2 (Illegal Data Address) on a merged read
 * is split down to the missing addresses, remembered, planned around and
 * tried again later; exception 1 (no such area), 3 (read too long) and 4
 * (device failure) each per block. Against pymodbus (holes in a sparse
 * register map) and the scripted raw server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusTcpDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import { ModbusDriver } from '../../protocols/modbus/driver.js';
import type { Driver } from '../../protocols/types.js';
import { BadModbusServer } from './peers/bad-modbus-server.js';
import { type PymodbusPeer, type PymodbusSpec, startPymodbus } from './peers/pymodbus.js';
import { deepFreeze, type RecordingContext, recordingContext } from './peers/recording-context.js';

const EXC2 = 'exception 2 (illegal data address)';
const FAST_BACKOFF = { initialMs: 50, maxMs: 200 };
const INTERVAL = 100;

// Register 10 and registers 30–31 do not exist. Without that knowledge the
// planner reads hr:0 … hr:33 in one request (every gap is within maxGapRegisters 8).
const SPEC: PymodbusSpec = {
  hr: {
    size: 40,
    holes: [
      [10, 1],
      [30, 2],
    ],
    values: [
      { at: 0, type: 'float32', value: 1.5 },
      { at: 2, type: 'uint16', value: 2 },
      { at: 4, type: 'int32', value: -4 },
      { at: 8, type: 'uint16', value: 8 },
      { at: 12, type: 'float32', value: 12.25 },
      { at: 16, type: 'uint16', value: 16 },
      { at: 24, type: 'uint16', value: 24 },
      { at: 33, type: 'uint16', value: 33 },
    ],
  },
};
const TAGS = [
  { id: 'a', address: 'hr:0', type: 'float32' },
  { id: 'b', address: 'hr:2' },
  { id: 'c', address: 'hr:4', type: 'int32' },
  { id: 'd', address: 'hr:8' },
  { id: 'hole', address: 'hr:10' },
  { id: 'e', address: 'hr:12', type: 'float32' },
  { id: 'f', address: 'hr:16' },
  { id: 'g', address: 'hr:24' },
  { id: 'h', address: 'hr:33' },
];
const GOOD = { a: 1.5, b: 2, c: -4, d: 8, e: 12.25, f: 16, g: 24, h: 33 } as const;

function device(id: string, port: number, tags: unknown[] = TAGS, more: Record<string, unknown> = {}) {
  return deepFreeze(
    ModbusTcpDevice.parse({
      protocol: 'modbus-tcp',
      id,
      host: '127.0.0.1',
      port,
      timeoutMs: 500,
      pollGroups: { default: INTERVAL },
      tags,
      ...more,
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** resolves when the next sample of `tagId` arrives: the same point of a poll cycle each time */
async function nextSample(ctx: RecordingContext, tagId: string): Promise<void> {
  const n = ctx.of(tagId).length;
  await ctx.until(() => ctx.of(tagId).length > n, 3000, `a sample of ${tagId}`);
}

/**
 * Requests the driver sent per poll cycle over a window, counting cycles by
 * the samples of `tagId`. Both ends are taken as a sample of that tag
 * arrives: by then its cycle has sent all of its requests and the next one
 * none, so whole cycles are counted.
 */
async function requestsPerCycle(driver: Driver, ctx: RecordingContext, tagId: string, windowMs: number) {
  await nextSample(ctx, tagId);
  const cycles0 = ctx.of(tagId).length;
  const requests0 = driver.status().counters.requests;
  await sleep(windowMs);
  await nextSample(ctx, tagId);
  const cycles = ctx.of(tagId).length - cycles0;
  const requests = driver.status().counters.requests - requests0;
  return { cycles, requests, perCycle: requests / cycles };
}

function expectGoodValues(ctx: RecordingContext): void {
  for (const [id, value] of Object.entries(GOOD)) {
    expect(ctx.latest(id), id).toMatchObject({ quality: 'good', value });
  }
}

describe('exception 2 on a merged read (pymodbus with holes in its register map)', () => {
  let peer: PymodbusPeer;
  let driver: Driver;
  const ctx = recordingContext();

  beforeAll(async () => {
    peer = await startPymodbus({ spec: SPEC });
    driver = createDriver(device('holes', peer.port), ctx, { backoff: FAST_BACKOFF });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    await peer?.stop();
  });

  it('the first cycle already reads every tag but the one on the missing address', async () => {
    await ctx.until(() => ctx.latest('h') !== undefined && ctx.latest('hole') !== undefined, 5000, 'a first cycle');
    // the very first samples of each tag: the split happens inside the first cycle
    for (const id of Object.keys(GOOD)) expect(ctx.of(id)[0], id).toMatchObject({ quality: 'good' });
    expect(ctx.of('hole')[0]).toMatchObject({ quality: 'bad', value: null, reason: EXC2 });
    expectGoodValues(ctx);
  });

  it('remembers the missing addresses: three requests per cycle, the minimum, and no new errors', async () => {
    await ctx.until(() => ctx.of('a').length >= 3, 3000, 'a few cycles');
    const errors0 = driver.status().counters.errors;
    const { cycles, perCycle } = await requestsPerCycle(driver, ctx, 'a', 1500);
    expect(cycles).toBeGreaterThanOrEqual(5);
    // hr:0–8 | hr:12–24 | hr:33: any read that joins two of them covers a missing address
    expect(perCycle).toBe(3);
    expect(driver.status().counters.errors).toBe(errors0);
    expectGoodValues(ctx);
  });

  it('reports the tag on the missing address bad every cycle without asking for it', async () => {
    const holeCount = ctx.of('hole').length;
    const aCount = ctx.of('a').length;
    await sleep(600);
    const holeCycles = ctx.of('hole').length - holeCount;
    const aCycles = ctx.of('a').length - aCount;
    expect(holeCycles).toBeGreaterThanOrEqual(aCycles - 1);
    expect(holeCycles).toBeLessThanOrEqual(aCycles + 1);
    expect(ctx.latest('hole')).toMatchObject({ quality: 'bad', reason: EXC2 });
    const status = driver.status();
    expect(status.errorsByKind?.['exception-2']).toBeGreaterThanOrEqual(3);
    expect(status.latencyMs?.count).toBeGreaterThan(0);
    // one log line per thing learned, not one per cycle
    const refusedLines = ctx.lines.filter((l) => String(l.obj.kind).startsWith('refused:'));
    expect(refusedLines.length).toBeGreaterThanOrEqual(2);
    expect(refusedLines.length).toBeLessThanOrEqual(4);
  });

  it('tries the refused addresses again after a reconnect: a re-programmed device is read in full', async () => {
    const port = peer.port;
    await peer.stop();
    await ctx.until(() => ctx.latest('a')?.reason === 'disconnected', 3000, 'disconnected');
    // the same device after a program download: register 10 exists now (30–31 still do not)
    peer = await startPymodbus({
      port,
      spec: { hr: { ...SPEC.hr!, holes: [[30, 2]], values: [...SPEC.hr!.values!, { at: 10, value: 10 }] } },
    });
    await ctx.until(() => ctx.latest('hole')?.value === 10, 5000, 'the new register to be read');
    expect(ctx.latest('hole')?.quality).toBe('good');
    expectGoodValues(ctx);
    await sleep(2 * INTERVAL);
    // hr:0–24 | hr:33
    const { perCycle } = await requestsPerCycle(driver, ctx, 'a', 1000);
    expect(perCycle).toBe(2);
  });
});

describe('re-probing on a timer', () => {
  let peer: PymodbusPeer;
  let driver: ModbusDriver;
  const ctx = recordingContext();

  beforeAll(async () => {
    peer = await startPymodbus({ spec: SPEC });
    driver = new ModbusDriver(device('reprobe', peer.port), ctx, { backoff: FAST_BACKOFF, reprobeMs: 700 });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    await peer?.stop();
  });

  it('a register added while connected is found at the next probe', async () => {
    await ctx.until(() => ctx.latest('hole')?.reason === EXC2, 5000, 'the hole');
    await sleep(300);
    const aBefore = ctx.of('a').length;
    await peer.set('hr', { at: 10, value: 1234 });
    const t0 = Date.now();
    await ctx.until(() => ctx.latest('hole')?.value === 1234, 5000, 'the new register');
    // at worst one probe just missed the new register, and the next one finds it
    expect(Date.now() - t0).toBeLessThan(2 * 700 + 1000);
    expect(ctx.latest('hole')?.quality).toBe('good');
    // the other tags never stopped
    expect(
      ctx
        .of('a')
        .slice(aBefore)
        .every((s) => s.quality === 'good'),
    ).toBe(true);
    expectGoodValues(ctx);
  });

  it('an address still missing is asked for once per re-probe interval, not every cycle', async () => {
    await sleep(2 * INTERVAL);
    // hr:0–24 every cycle; hr:33 every cycle; the read across 30–31 once per 700 ms
    const { cycles, requests } = await requestsPerCycle(driver, ctx, 'a', 1500);
    const probes = requests - 2 * cycles;
    expect(probes).toBeGreaterThanOrEqual(0);
    expect(probes).toBeLessThanOrEqual(Math.ceil(1500 / 700) + 1);
  });
});

describe('exceptions 1, 3 and 4, per block (scripted server)', () => {
  const servers: BadModbusServer[] = [];
  const drivers: Driver[] = [];
  afterAll(async () => {
    await Promise.all(drivers.map((d) => d.stop()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function run(server: BadModbusServer, id: string, tags: unknown[], reprobeMs?: number) {
    servers.push(server);
    const ctx = recordingContext();
    const driver = new ModbusDriver(device(id, server.port, tags), ctx, { backoff: FAST_BACKOFF, reprobeMs });
    drivers.push(driver);
    await driver.start();
    return { ctx, driver };
  }

  /** requests per cycle, as the driver counts them (probes included) */
  async function perCycle(driver: Driver, ctx: RecordingContext, tagId: string) {
    return (await requestsPerCycle(driver, ctx, tagId, 1000)).perCycle;
  }

  it('exception 1 (no input registers): the input-register tags go bad and are no longer asked for', async () => {
    let hasInputRegisters = false;
    const server = await BadModbusServer.start({
      holdingRegisters: [5, 6, 7],
      inputRegisters: [0, 0, 0, 0, 0, 55],
      exception: (fc) => (fc === 4 && !hasInputRegisters ? 1 : undefined),
    });
    const reprobeMs = 1500;
    const { ctx, driver } = await run(
      server,
      'no-ir',
      [
        { id: 'h0', address: 'hr:0' },
        { id: 'h2', address: 'hr:2' },
        { id: 'i0', address: 'ir:0' },
        { id: 'i5', address: 'ir:5' },
      ],
      reprobeMs,
    );
    await ctx.until(() => ctx.of('h0').length >= 3, 3000, 'a few cycles');
    expect(ctx.latest('h0')).toMatchObject({ quality: 'good', value: 5 });
    expect(ctx.latest('h2')).toMatchObject({ quality: 'good', value: 7 });
    for (const id of ['i0', 'i5']) {
      expect(ctx.latest(id), id).toMatchObject({ quality: 'bad', reason: 'exception 1 (illegal function)' });
    }
    expect(await perCycle(driver, ctx, 'h0')).toBeCloseTo(1, 0);
    expect(driver.status().errorsByKind?.['exception-1']).toBe(1);
    // a firmware update adds the input registers: the next probe finds them
    hasInputRegisters = true;
    await ctx.until(() => ctx.latest('i5')?.value === 55, reprobeMs + 1000, 'the input registers');
    expect(ctx.latest('i0')).toMatchObject({ quality: 'good', value: 0 });
  });

  it('exception 3 (a read too long for the device): reads get shorter until they fit; no tag goes bad', async () => {
    const values = Array.from({ length: 60 }, (_, i) => 100 + i);
    const server = await BadModbusServer.start({ holdingRegisters: values, maxRegistersPerRead: 20 });
    const tags = values.map((_, i) => ({ id: `r${i}`, address: `hr:${i}` }));
    const { ctx, driver } = await run(server, 'short-reads', tags);
    await ctx.until(() => ctx.of('r0').length >= 5, 3000, 'a few cycles');
    expect(await perCycle(driver, ctx, 'r0')).toBe(4); // 60 registers in reads of at most 20, split in halves: 15 each
    for (let i = 0; i < 60; i++) {
      expect(
        ctx.of(`r${i}`).every((s) => s.quality === 'good' && s.value === 100 + i),
        `r${i}`,
      ).toBe(true);
    }
    const errors = driver.status().errorsByKind?.['exception-3'] ?? 0;
    expect(errors).toBeGreaterThan(0);
    await sleep(500);
    expect(driver.status().errorsByKind?.['exception-3']).toBe(errors);
  });

  it('exception 4 (device failure) is taken as passing: the block stays planned and recovers', async () => {
    let failing = true;
    const server = await BadModbusServer.start({
      holdingRegisters: 200,
      exception: (fc, start) => (failing && fc === 3 && start >= 100 ? 4 : undefined),
    });
    const { ctx, driver } = await run(server, 'flaky', [
      { id: 'low', address: 'hr:0' },
      { id: 'high', address: 'hr:150' },
    ]);
    await ctx.until(() => ctx.of('high').length >= 5, 3000, 'a few cycles');
    expect(ctx.latest('low')?.quality).toBe('good');
    expect(ctx.of('high').every((s) => s.reason === 'exception 4 (server device failure)')).toBe(true);
    expect(await perCycle(driver, ctx, 'low')).toBe(2);
    failing = false;
    await ctx.until(() => ctx.latest('high')?.quality === 'good', 1000, 'recovery');
    expect(driver.status().errorsByKind?.['exception-4']).toBeGreaterThanOrEqual(5);
  });
});
