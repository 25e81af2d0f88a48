/**
 * The MQTT driver as a Sparkplug B host against mosquitto, with a small edge
 * node simulated here (mqtt.js and our encoder): births, data by alias, the
 * host STATE and its will, a seq gap answered by a rebirth request, a
 * payload that is not Sparkplug, the edge node's connection dying (its will
 * NDEATH makes the tags stale), and an NDEATH left from an older session.
 */
import { type MqttClient, connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttDevice } from '../../config/schema.js';
import { MqttDriver } from '../../protocols/mqtt/driver.js';
import { DataType, type MetricInput, decodePayload, encodePayload } from '../../protocols/sparkplug/payload.js';
import { type MosquittoPeer, startMosquitto } from './peers/mosquitto.js';
import { deepFreeze, recordingContext } from './peers/recording-context.js';

const GROUP = 'Plant1';
const NODE = 'Line2';
const DEVICE = 'CNC1';
const HOST = 'greenline-test';

/** An edge node with one device, as a Sparkplug B v3.0 edge would behave. */
class EdgeNode {
  client: MqttClient | null = null;
  bdSeq = 0;
  private seq = 0;
  /** rebirth requests received (NCMD Node Control/Rebirth = true) */
  rebirthRequests = 0;
  temp = 40;
  count = 100;

  constructor(private readonly url: string) {}

  private topic(type: string, device?: string) {
    return `spBv1.0/${GROUP}/${type}/${NODE}${device ? `/${device}` : ''}`;
  }

  private nextSeq() {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xff;
    return s;
  }

  async connect() {
    const death = encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: this.bdSeq }],
    });
    const client = await connectAsync(this.url, {
      clientId: `edge-${NODE}-${this.bdSeq}`,
      reconnectPeriod: 0,
      will: { topic: this.topic('NDEATH'), payload: Buffer.from(death), qos: 1, retain: false },
    });
    this.client = client;
    client.on('message', (topic, payload) => {
      if (topic !== this.topic('NCMD')) return;
      const cmd = decodePayload(payload);
      const rebirth = cmd.metrics.find((m) => m.name === 'Node Control/Rebirth');
      if (rebirth?.value?.kind === 'boolean' && rebirth.value.value) {
        this.rebirthRequests++;
        void this.births();
      }
    });
    await client.subscribeAsync(this.topic('NCMD'), { qos: 0 });
    await this.births();
  }

  async births() {
    this.seq = 0;
    const now = Date.now();
    await this.publish(this.topic('NBIRTH'), {
      timestamp: now,
      seq: this.nextSeq(),
      metrics: [
        { name: 'bdSeq', datatype: DataType.Int64, value: this.bdSeq },
        { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false },
        { name: 'Uptime', alias: 1, datatype: DataType.UInt64, value: 3600, timestamp: now },
      ],
    });
    await this.publish(this.topic('DBIRTH', DEVICE), {
      timestamp: now,
      seq: this.nextSeq(),
      metrics: [
        { name: 'SpindleTemp', alias: 10, datatype: DataType.Float, value: this.temp, timestamp: now },
        { name: 'Count', alias: 11, datatype: DataType.UInt32, value: this.count, timestamp: now },
        { name: 'Running', alias: 12, datatype: DataType.Boolean, value: true, timestamp: now },
        { name: 'Program', alias: 13, datatype: DataType.String, value: 'O1001', timestamp: now },
      ],
    });
  }

  /** DDATA by alias; `skip` leaves seq numbers out, as if messages were lost */
  async ddata(temp: number, count: number, skip = 0) {
    this.temp = temp;
    this.count = count;
    for (let i = 0; i < skip; i++) this.nextSeq();
    await this.publish(this.topic('DDATA', DEVICE), {
      timestamp: Date.now(),
      seq: this.nextSeq(),
      metrics: [
        { alias: 10, datatype: DataType.Float, value: temp },
        { alias: 11, datatype: DataType.UInt32, value: count },
      ] satisfies MetricInput[],
    });
  }

  async raw(type: string, payload: Buffer, device?: string) {
    await this.client!.publishAsync(this.topic(type, device), payload, { qos: 0 });
  }

  private async publish(topic: string, p: Parameters<typeof encodePayload>[0]) {
    await this.client!.publishAsync(topic, Buffer.from(encodePayload(p)), { qos: 0 });
  }

  /** the TCP connection dies without DISCONNECT: the broker publishes the will */
  kill() {
    this.client?.stream.destroy();
    this.client?.end(true);
    this.client = null;
  }

  async close() {
    await this.client?.endAsync(true);
    this.client = null;
  }
}

describe('Sparkplug B host against mosquitto', () => {
  let broker: MosquittoPeer;
  let driver: MqttDriver;
  let edge: EdgeNode;
  let watcher: MqttClient;
  const seen: { topic: string; payload: Buffer; retain: boolean }[] = [];
  const ctx = recordingContext();
  const deviceTags = ['temp', 'count', 'running', 'program'];

  beforeAll(async () => {
    broker = await startMosquitto();
    watcher = await connectAsync(broker.url, { reconnectPeriod: 0 });
    watcher.on('message', (topic, payload, packet) => seen.push({ topic, payload, retain: packet.retain }));
    await watcher.subscribeAsync(['spBv1.0/#'], { qos: 1 });
    const device = MqttDevice.parse({
      protocol: 'mqtt',
      id: 'line2-spb',
      url: broker.url,
      format: 'sparkplug-b',
      staleAfterMs: 20_000,
      sparkplug: { groupId: GROUP, edgeNodeId: NODE, hostId: HOST },
      tags: [
        { id: 'uptime', metric: 'Uptime', type: 'uint64' },
        { id: 'temp', metric: 'SpindleTemp', deviceId: DEVICE },
        { id: 'count', metric: 'Count', deviceId: DEVICE, type: 'uint32' },
        { id: 'running', metric: 'Running', deviceId: DEVICE, type: 'bool' },
        { id: 'program', metric: 'Program', deviceId: DEVICE, type: 'string' },
      ],
    });
    driver = new MqttDriver(deepFreeze(device), ctx, {
      backoff: { initialMs: 100, maxMs: 400 },
      rebirthHoldoffMs: 300,
    });
    await driver.start();
    await ctx.until(() => driver.status().state === 'connected', 5000, 'the host to connect');
    await ctx.until(() => seen.some((m) => m.topic === `spBv1.0/STATE/${HOST}`), 3000, 'the host STATE');
    await new Promise((r) => setTimeout(r, 200));
    edge = new EdgeNode(broker.url);
  });

  afterAll(async () => {
    await edge?.close();
    await driver?.stop();
    await watcher?.endAsync(true);
    await broker?.stop();
  });

  it('publishes its STATE online, retained, QoS 1', () => {
    const state = seen.find((m) => m.topic === `spBv1.0/STATE/${HOST}`)!;
    const body = JSON.parse(state.payload.toString()) as { online: boolean; timestamp: number };
    expect(body.online).toBe(true);
    expect(Math.abs(body.timestamp - Date.now())).toBeLessThan(10_000);
  });

  it('reads births, then data by alias', async () => {
    await edge.connect();
    await ctx.until(() => ctx.latest('program')?.value === 'O1001', 3000, 'the births');
    expect(ctx.latest('uptime')).toMatchObject({ value: 3600, quality: 'good' });
    expect(ctx.latest('temp')).toMatchObject({ value: 40, quality: 'good' });
    expect(ctx.latest('running')).toMatchObject({ value: true, quality: 'good' });

    await edge.ddata(41.5, 101);
    await ctx.until(() => ctx.latest('count')?.value === 101, 3000, 'data by alias');
    expect(ctx.latest('temp')?.value).toBe(41.5);
    expect(driver.status().counters.rebirthRequests).toBe(0);
  });

  it('a seq gap makes it ask for a rebirth, and the edge node answers with new births', async () => {
    await edge.ddata(42, 102, 3);
    await ctx.until(() => edge.rebirthRequests === 1, 3000, 'the NCMD rebirth at the edge node');
    const status = driver.status();
    expect(status.counters.seqGaps).toBe(1);
    expect(status.counters.rebirthRequests).toBe(1);
    const ncmd = seen.find((m) => m.topic === `spBv1.0/${GROUP}/NCMD/${NODE}`)!;
    expect(ncmd.retain).toBe(false);
    expect(decodePayload(ncmd.payload).metrics[0]).toMatchObject({
      name: 'Node Control/Rebirth',
      datatype: DataType.Boolean,
      value: { kind: 'boolean', value: true },
    });
    // after the new births the sequence is in line again: no second request
    await new Promise((r) => setTimeout(r, 500));
    await edge.ddata(43, 103);
    await ctx.until(() => ctx.latest('count')?.value === 103, 3000, 'data after the rebirth');
    expect(driver.status().counters.seqGaps).toBe(1);
    expect(edge.rebirthRequests).toBe(1);
  });

  it('a payload that is not Sparkplug makes the device’s tags bad, and a rebirth brings them back', async () => {
    await new Promise((r) => setTimeout(r, 400)); // past the rebirth hold-off
    const decodeErrors = driver.status().counters.decodeErrors;
    await edge.raw('DDATA', Buffer.from('{"SpindleTemp": 44}'), DEVICE);
    await ctx.until(() => edge.rebirthRequests === 2, 3000, 'the rebirth after the bad payload');
    const bad = ctx.samples.filter((s) => s.reason?.startsWith('decode error: not a Sparkplug B payload'));
    expect(new Set(bad.map((s) => s.tagId))).toEqual(new Set(deviceTags));
    expect(driver.status().counters.decodeErrors).toBe(decodeErrors + 1);
    await ctx.until(() => ctx.latest('temp')?.quality === 'good', 3000, 'good values after the rebirth');
    // a truncated protobuf, on the node topic
    await new Promise((r) => setTimeout(r, 400));
    const truncated = Buffer.from(
      encodePayload({ seq: 2, metrics: [{ alias: 1, datatype: DataType.UInt64, value: 1 }] }),
    );
    await edge.raw('NDATA', truncated.subarray(0, truncated.length - 3));
    await ctx.until(
      () => ctx.latest('uptime')?.reason?.startsWith('decode error: not a Sparkplug B payload (truncated') === true,
      3000,
      'the truncated payload',
    );
    await ctx.until(() => edge.rebirthRequests === 3, 3000, 'the rebirth after the truncated payload');
  });

  it('when the edge node’s connection dies, its will (NDEATH) makes every tag stale', async () => {
    await ctx.until(() => ctx.latest('uptime')?.quality === 'good', 3000, 'the node rebirth');
    const before = ctx.samples.length;
    edge.kill();
    await ctx.until(
      () => ['uptime', ...deviceTags].every((id) => ctx.latest(id)?.quality === 'stale'),
      5000,
      'stale tags after NDEATH',
    );
    expect(ctx.latest('uptime')?.reason).toBe('edge node offline (NDEATH)');
    expect(ctx.samples.slice(before).filter((s) => s.tagId === 'temp' && s.quality === 'stale')).toHaveLength(1);
    expect(driver.status().state).toBe('connected');
  });

  it('comes back with the next session, and ignores an NDEATH of an older session', async () => {
    edge.bdSeq = 1;
    await edge.connect();
    await ctx.until(() => ctx.latest('temp')?.quality === 'good', 3000, 'the new births');
    // a late will of bdSeq 0 must not kill the session of bdSeq 1
    const oldDeath = encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 0 }] });
    await edge.raw('NDEATH', Buffer.from(oldDeath));
    await edge.ddata(50, 200);
    await ctx.until(() => ctx.latest('count')?.value === 200, 3000, 'data after the old NDEATH');
    expect(ctx.latest('uptime')?.quality).toBe('good');
  });

  it('an oversized payload is dropped and counted', async () => {
    const dropped = driver.status().counters.dropped;
    await edge.raw('DDATA', Buffer.alloc(1_100_000, 0x08), DEVICE);
    await ctx.until(() => driver.status().counters.dropped === dropped + 1, 5000, 'the drop');
    expect(ctx.latest('temp')?.reason).toBe('payload too large (1100000 bytes > maxPayloadBytes 1048576)');
  });

  it('on stop it publishes STATE offline with its birth timestamp', async () => {
    const online = JSON.parse(
      seen
        .filter((m) => m.topic === `spBv1.0/STATE/${HOST}`)
        .at(-1)!
        .payload.toString(),
    ) as { timestamp: number };
    await driver.stop();
    await ctx.until(
      () => seen.some((m) => m.topic === `spBv1.0/STATE/${HOST}` && m.payload.toString().includes('"online":false')),
      3000,
      'STATE offline',
    );
    const offline = JSON.parse(
      seen
        .filter((m) => m.topic === `spBv1.0/STATE/${HOST}`)
        .at(-1)!
        .payload.toString(),
    );
    expect(offline).toEqual({ online: false, timestamp: online.timestamp });
    // retained: a late subscriber sees it
    const late = await connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const retained = new Promise<string>((resolve) => late.on('message', (_t, p) => resolve(p.toString())));
      await late.subscribeAsync(`spBv1.0/STATE/${HOST}`, { qos: 1 });
      expect(JSON.parse(await retained)).toEqual({ online: false, timestamp: online.timestamp });
    } finally {
      await late.endAsync(true);
    }
  });
});

describe('Sparkplug B host STATE will', () => {
  let broker: MosquittoPeer;

  beforeAll(async () => {
    broker = await startMosquitto();
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it('the broker publishes STATE offline when the host’s connection dies', async () => {
    const ctx = recordingContext();
    const device = MqttDevice.parse({
      protocol: 'mqtt',
      id: 'host-will',
      url: broker.url,
      format: 'sparkplug-b',
      sparkplug: { groupId: GROUP, edgeNodeId: NODE, hostId: 'will-test', requestRebirth: false },
      tags: [{ id: 'uptime', metric: 'Uptime' }],
    });
    const driver = new MqttDriver(device, ctx, { backoff: { initialMs: 5000, maxMs: 5000 } });
    await driver.start();
    const watcher = await connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const states: { online: boolean; timestamp: number }[] = [];
      watcher.on('message', (_t, p) => states.push(JSON.parse(p.toString())));
      await ctx.until(() => driver.status().state === 'connected', 5000, 'the host to connect');
      await watcher.subscribeAsync('spBv1.0/STATE/will-test', { qos: 1 });
      await ctx.until(() => states.some((s) => s.online), 3000, 'STATE online');
      const birth = states.find((s) => s.online)!;
      // cut the host's TCP connection under it
      (driver as unknown as { client: MqttClient }).client.stream.destroy();
      await ctx.until(() => states.some((s) => !s.online), 5000, 'the will');
      expect(states.find((s) => !s.online)).toEqual({ online: false, timestamp: birth.timestamp });
    } finally {
      await driver.stop();
      await watcher.endAsync(true);
    }
  });
});
