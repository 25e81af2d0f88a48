/**
 * The MQTT driver against a real broker (mosquitto): JSON values with the
 * payload's timestamp, wildcard topics, raw payloads, malformed, oversized
 * and non-finite payloads, stale tags, and the broker going away and coming
 * back.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { type MqttClient, connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttDevice } from '../../config/schema.js';
import { createDriver } from '../../protocols/index.js';
import type { Driver } from '../../protocols/types.js';
import { type MosquittoPeer, startMosquitto } from './peers/mosquitto.js';
import { deepFreeze, recordingContext } from './peers/recording-context.js';

describe('MQTT JSON driver against mosquitto', () => {
  let broker: MosquittoPeer;
  let driver: Driver;
  let publisher: MqttClient;
  const ctx = recordingContext();

  const device = () =>
    MqttDevice.parse({
      protocol: 'mqtt',
      id: 'meter1',
      url: broker.url,
      qos: 1,
      staleAfterMs: 1500,
      maxPayloadBytes: 4096,
      tags: [
        { id: 'power', topic: 'plant/meter1', jsonPath: 'power.kw', timestampPath: 'ts' },
        { id: 'energy', topic: 'plant/meter1', jsonPath: '$.energy[0].kwh', type: 'float64' },
        { id: 'state', topic: 'plant/cnc1/state', type: 'string' },
        { id: 'count', topic: 'plant/cnc1/count', type: 'uint32' },
        { id: 'quiet', topic: 'plant/quiet' },
        { id: 'door', topic: 'plant/door', type: 'bool', qos: 0 },
        { id: 'anyTemp', topic: 'wild/+/temp', jsonPath: 'v' },
        { id: 'hallAll', topic: 'wild/hall/#', type: 'string', qos: 2 },
        { id: 'hallTemp', topic: 'wild/hall/temp', jsonPath: 'v', type: 'int16' },
      ],
    });

  const publish = (topic: string, payload: unknown) =>
    publisher.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });

  beforeAll(async () => {
    broker = await startMosquitto();
    publisher = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 2000 });
    driver = createDriver(deepFreeze(device()), ctx, { backoff: { initialMs: 100, maxMs: 400 } });
    await driver.start();
    await ctx.until(() => driver.status().state === 'connected', 5000, 'the driver to connect');
    // the subscription is set up right after CONNACK; give it a moment
    await new Promise((r) => setTimeout(r, 200));
  });

  afterAll(async () => {
    await driver?.stop();
    await publisher?.endAsync(true);
    await broker?.stop();
  });

  it('emits values with the payload timestamp', async () => {
    const ts = Date.parse('2025-03-04T05:06:07.089Z');
    await publish('plant/meter1', { power: { kw: 12.75 }, energy: [{ kwh: 1034.5 }], ts });
    await publish('plant/cnc1/state', 'RUNNING');
    await publish('plant/cnc1/count', '1234');
    await ctx.until(() => ctx.latest('count') !== undefined && ctx.latest('state') !== undefined, 3000, 'values');
    expect(ctx.latest('power')).toEqual({ tagId: 'power', ts, value: 12.75, quality: 'good' });
    const energy = ctx.latest('energy')!;
    expect(energy).toMatchObject({ value: 1034.5, quality: 'good' });
    expect(Math.abs(energy.ts - Date.now())).toBeLessThan(2000); // receive time: no timestampPath
    expect(ctx.latest('state')).toMatchObject({ value: 'RUNNING', quality: 'good' });
    expect(ctx.latest('count')).toMatchObject({ value: 1234, quality: 'good' });
    await publish('plant/meter1', { power: { kw: 13 }, energy: [{ kwh: 1035 }], ts: '2025-03-04T05:06:08Z' });
    await ctx.until(() => ctx.latest('power')?.value === 13, 3000, 'the ISO timestamp');
    expect(ctx.latest('power')!.ts).toBe(Date.parse('2025-03-04T05:06:08Z'));
  });

  it('a malformed payload is a decode error for its tags, and the driver carries on', async () => {
    const errorsBefore = driver.status().counters.errors;
    await publish('plant/meter1', '{"power": {"kw": 1');
    await ctx.until(() => ctx.latest('power')?.quality === 'bad', 3000, 'the decode error');
    expect(ctx.latest('power')).toMatchObject({ value: null, reason: 'decode error: payload is not JSON' });
    expect(ctx.latest('energy')?.reason).toBe('decode error: payload is not JSON');

    await publish('plant/meter1', { power: { watts: 5 }, energy: [{ kwh: 'lots' }] });
    await ctx.until(
      () => ctx.latest('power')?.reason === 'decode error: no "power.kw" in payload',
      3000,
      'missing path',
    );
    expect(ctx.latest('energy')?.reason).toBe('decode error: expected a number, got string');
    await publish('plant/cnc1/count', '-5');
    await ctx.until(() => ctx.latest('count')?.reason === 'decode error: -5 is out of range for uint32', 3000, 'range');
    expect(driver.status().counters.errors).toBeGreaterThanOrEqual(errorsBefore + 5);

    await publish('plant/meter1', { power: { kw: 7.5 }, energy: [{ kwh: 1040 }], ts: Date.now() });
    await ctx.until(() => ctx.latest('power')?.value === 7.5, 3000, 'good again');
    // decode errors are logged, rate-limited per tag
    const logged = ctx.lines.filter((l) => l.obj.kind === 'decode:power');
    expect(logged).toHaveLength(1);
  });

  it('a wildcard tag follows the newest message on any matching topic', async () => {
    await publish('wild/cnc1/temp', { v: 30.5 });
    await ctx.until(() => ctx.latest('anyTemp')?.value === 30.5, 3000, 'the + match');
    await publish('wild/hall/temp', { v: 21 });
    await ctx.until(() => ctx.latest('hallTemp')?.value === 21, 3000, 'the exact tag');
    // one message feeds every tag whose filter matches it, once each
    expect(ctx.latest('anyTemp')?.value).toBe(21);
    expect(ctx.latest('hallAll')?.value).toBe('{"v":21}');
    await publish('wild/hall/door/state', 'open');
    await ctx.until(() => ctx.latest('hallAll')?.value === 'open', 3000, 'the # match');
    expect(ctx.latest('anyTemp')?.value).toBe(21);
    // wild/hall/# covers wild/hall/temp: the broker was asked once, so no message arrives twice
    expect(ctx.of('hallTemp').filter((s) => s.value === 21)).toHaveLength(1);
  });

  it('reads raw payloads by the tag type: ON/OFF for a bool', async () => {
    await publish('plant/door', 'ON');
    await ctx.until(() => ctx.latest('door')?.value === true, 3000, 'ON');
    await publish('plant/door', 'off');
    await ctx.until(() => ctx.latest('door')?.value === false, 3000, 'off');
    await publish('plant/door', 'ajar');
    await ctx.until(() => ctx.latest('door')?.quality === 'bad', 3000, 'a word that is not a boolean');
    expect(ctx.latest('door')?.reason).toBe('decode error: expected a boolean, got string');
  });

  it('NaN, Infinity and an oversized payload are bad with a reason, and counted', async () => {
    const before = driver.status().counters.errors;
    await publish('plant/cnc1/count', 'NaN');
    await ctx.until(() => ctx.latest('count')?.reason === 'decode error: NaN', 3000, 'NaN');
    await publish('plant/meter1', '{"power":{"kw":1e999},"energy":[{"kwh":"-Infinity"}]}');
    await ctx.until(() => ctx.latest('power')?.reason === 'decode error: Infinity', 3000, 'Infinity');
    expect(ctx.latest('energy')?.reason).toBe('decode error: -Infinity');

    await publish('plant/meter1', { power: { kw: 1 }, pad: 'x'.repeat(5000) });
    await ctx.until(() => ctx.latest('power')?.reason?.startsWith('payload too large') === true, 3000, 'the drop');
    expect(ctx.latest('power')?.reason).toMatch(/^payload too large \(50\d\d bytes > maxPayloadBytes 4096\)$/);
    expect(ctx.latest('energy')?.reason).toBe(ctx.latest('power')?.reason);
    expect(driver.status().counters.errors).toBeGreaterThanOrEqual(before + 4);

    // and the next good message is read as usual
    await publish('plant/meter1', { power: { kw: 2.5 }, energy: [{ kwh: 1 }] });
    await ctx.until(() => ctx.latest('power')?.value === 2.5, 3000, 'good again');
  });

  it('a tag without messages goes stale once', async () => {
    await ctx.until(() => ctx.latest('quiet')?.quality === 'stale', 3000, 'the stale tag');
    await new Promise((r) => setTimeout(r, 600));
    expect(ctx.of('quiet').filter((s) => s.quality === 'stale')).toHaveLength(1);
    expect(ctx.latest('quiet')?.reason).toBe('no message for 1500 ms');
  });

  it('marks every tag disconnected when the broker dies, and recovers when it is back', async () => {
    const before = ctx.samples.length;
    await broker.stop();
    const ids = ['power', 'energy', 'state', 'count', 'quiet'];
    await ctx.until(() => ids.every((id) => ctx.latest(id)?.reason === 'disconnected'), 3000, 'disconnected tags');
    await new Promise((r) => setTimeout(r, 600));
    for (const id of ids) {
      expect(
        ctx.samples.slice(before).filter((s) => s.tagId === id && s.reason === 'disconnected'),
        id,
      ).toHaveLength(1);
    }
    expect(driver.status().state).not.toBe('connected');

    await broker.restart();
    await ctx.until(() => driver.status().state === 'connected', 5000, 'the driver to reconnect');
    await ctx.until(() => publisher.connected, 5000, 'the publisher to reconnect');
    await new Promise((r) => setTimeout(r, 200));
    await publish('plant/meter1', { power: { kw: 21 }, energy: [{ kwh: 2000 }] });
    await ctx.until(() => ctx.latest('power')?.value === 21, 3000, 'values after the restart');
    expect(ctx.latest('power')?.quality).toBe('good');
    expect(driver.status().counters.reconnects).toBeGreaterThan(0);
  });

  it('does not mutate its frozen config and reports a redacted endpoint', () => {
    expect(driver.status().endpoint).toBe(broker.url);
    const withPassword = MqttDevice.parse({ ...device(), url: `mqtt://u:secret@127.0.0.1:${broker.port}` });
    const other = createDriver(withPassword, recordingContext());
    expect(other.status().endpoint).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(other.status().state).toBe('idle');
  });

  it('counts what it received and dropped', () => {
    const c = (driver.status() as ReturnType<typeof driver.status> & { counters: Record<string, number> }).counters;
    expect(c.messages).toBeGreaterThan(10);
    expect(c.dropped).toBe(1);
    expect(c.decodeErrors).toBeGreaterThanOrEqual(6);
  });
});

describe('MQTT driver against an MQTT 3.1.1 broker (aedes)', () => {
  let broker: Aedes;
  let server: net.Server;
  const sockets = new Set<net.Socket>();
  let driver: Driver;
  let url: string;
  const ctx = recordingContext();

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const device = MqttDevice.parse({
      protocol: 'mqtt',
      id: 'hall',
      url,
      tags: [{ id: 'temp', topic: 'hall/env', jsonPath: 'temp' }],
    });
    driver = createDriver(deepFreeze(device), ctx, { backoff: { initialMs: 100, maxMs: 400 } });
    await driver.start();
  });

  afterAll(async () => {
    await driver?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
  });

  it('falls back to MQTT 3.1.1 at once, without marking the tags bad', async () => {
    await ctx.until(() => driver.status().state === 'connected', 5000, 'the driver to connect');
    await new Promise((r) => setTimeout(r, 200));
    const publisher = await connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
    try {
      await publisher.publishAsync('hall/env', JSON.stringify({ temp: 22.5 }), { qos: 1 });
      await ctx.until(() => ctx.latest('temp')?.value === 22.5, 3000, 'the value');
    } finally {
      await publisher.endAsync(true);
    }
    expect(ctx.of('temp').filter((s) => s.quality === 'bad')).toHaveLength(0);
    const status = driver.status();
    expect(status.counters.errors).toBe(0);
    expect(status.counters.reconnects).toBe(0);
    expect(ctx.lines.some((l) => l.obj.kind === 'mqtt-3.1.1')).toBe(true);
  });
});
