/**
 * The northbound MQTT sink against a real broker (Debian's mosquitto on a free
 * loopback port), checked by independent subscribers (plain mqtt.js clients):
 * the unified-namespace topics and payloads, a broker outage while samples
 * flow (no loss, bounded duplicates, order per topic), and the Sparkplug B
 * edge node (births, bdSeq in NBIRTH and in the will's NDEATH after a cut
 * connection, seq wrapping, rebirth on NCMD).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreSample } from '../../gateway/core/index.js';
import { MqttNorthSink, type MqttNorthSinkOptions, northPlantContext } from '../../gateway/sinks/index.js';
import { DataType, decodePayload, encodePayload, type Payload } from '../../protocols/sparkplug/payload.js';
import { freePort, waitForPort } from './peers/free-port.js';
import { MOSQUITTO_BIN, type MosquittoPeer, startMosquitto } from './peers/mosquitto.js';

const quietLog = { info: () => {}, warn: () => {}, error: () => {} };

const plant = northPlantContext(
  {
    site: { id: 'hk1' } as never,
    lines: [{ id: 'l1', area: 'assembly', machines: [{ id: 'press' }, { id: 'oven' }] }] as never,
  },
  (tagId) =>
    ({
      'press.temp': { device: 'plc1', line: 'l1', machine: 'press', unit: '°C', type: 'float32' },
      'press.running': { device: 'plc1', line: 'l1', machine: 'press', type: 'bool' },
      'oven.temp': { device: 'plc1', line: 'l1', machine: 'oven', unit: '°C', type: 'float32' },
      'meter.kw': { device: 'meter1', unit: 'kW', type: 'float32' },
    })[tagId],
  [
    { id: 'press.temp', machineIds: ['press'] },
    { id: 'press.running', machineIds: ['press'] },
    { id: 'oven.temp', machineIds: ['oven'] },
    { id: 'meter.kw', machineIds: [] },
  ],
);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'greenline-mqtt-sink-'));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function sinkOptions(url: string, name: string, extra: Partial<MqttNorthSinkOptions> = {}): MqttNorthSinkOptions {
  return {
    url,
    topicPrefix: 'acme',
    outboxMaxMb: 64,
    outboxPath: join(work, `${name}.db`),
    plant,
    log: quietLog,
    initialRetryDelayMs: 200,
    maxRetryDelayMs: 1000,
    ...extra,
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function subscriber(url: string, filter: string, extra: Parameters<typeof connect>[1] = {}) {
  const messages: { topic: string; payload: Buffer }[] = [];
  const client: MqttClient = connect(url, { protocolVersion: 5, reconnectPeriod: 100, ...extra });
  client.on('message', (topic, payload) => messages.push({ topic, payload }));
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}

/** mosquitto that keeps sessions across a restart (persistence on), so a subscriber misses nothing while both are down */
async function startPersistentMosquitto(): Promise<
  Pick<MosquittoPeer, 'url' | 'port' | 'stop'> & { down(): Promise<void>; up(): Promise<void> }
> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gl-mosquitto-persist-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  const launch = async () => {
    child = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
    await waitForPort(port, 5000);
  };
  const stop = async () => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };
  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    down: stop,
    up: launch,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('unified namespace', () => {
  it('publishes tags, minutes and events under the ISA-95 tree with the documented JSON', async () => {
    const broker = await startMosquitto();
    const sub = await subscriber(broker.url, 'acme/#');
    const sink = new MqttNorthSink(sinkOptions(broker.url, 'uns-shape'));
    try {
      await sink.start();
      const t0 = 1_732_252_800_000;
      sink.onSamples([
        { tagId: 'press.temp', ts: t0, value: 81.5, quality: 'good' },
        { tagId: 'press.running', ts: t0, value: true, quality: 'good' },
        { tagId: 'meter.kw', ts: t0 + 1, value: null, quality: 'bad', reason: 'timeout' },
      ] as CoreSample[]);
      const record = {
        oee: 0.8,
        availability: 0.9,
        performance: 0.95,
        quality: 0.93,
        total: 10,
        good: 9,
        reject: 1,
        runMs: 54_000,
        plannedMs: 60_000,
        stopMs: 6000,
        idleMs: 0,
        microstopMs: 0,
        offlineMs: 0,
        elapsedMs: 60_000,
        kwh: 0.5,
        kwhPerGood: 0.0556,
        kgCO2e: { location: 0.2, market: null },
        scrapKg: null,
      };
      sink.onMetrics({
        minutes: [
          { entity: { type: 'machine', id: 'press' }, minute: t0, record: record as never },
          { entity: { type: 'line', id: 'l1' }, minute: t0, record: record as never },
        ],
        events: [
          {
            kind: 'machine-state',
            machineId: 'press',
            ts: t0 + 5,
            state: 'running',
            previous: 'idle',
            reason: null,
            raw: '1',
            noData: false,
          } as never,
        ],
      });
      await until('6 messages', () => sub.messages.length >= 6);
      const by = new Map(sub.messages.map((m) => [m.topic, JSON.parse(m.payload.toString())]));
      expect([...by.keys()].sort()).toEqual([
        'acme/hk1/_devices/meter1/meter.kw',
        'acme/hk1/assembly/l1/_metrics',
        'acme/hk1/assembly/l1/press/_events',
        'acme/hk1/assembly/l1/press/_metrics',
        'acme/hk1/assembly/l1/press/press.running',
        'acme/hk1/assembly/l1/press/press.temp',
      ]);
      expect(by.get('acme/hk1/assembly/l1/press/press.temp')).toEqual({
        value: 81.5,
        quality: 'good',
        ts: t0,
        unit: '°C',
      });
      expect(by.get('acme/hk1/assembly/l1/press/press.running')).toEqual({
        value: true,
        quality: 'good',
        ts: t0,
        unit: null,
      });
      expect(by.get('acme/hk1/_devices/meter1/meter.kw')).toEqual({
        value: null,
        quality: 'bad',
        ts: t0 + 1,
        unit: 'kW',
        reason: 'timeout',
      });
      expect(by.get('acme/hk1/assembly/l1/press/_metrics')).toMatchObject({
        minute: t0,
        oee: 0.8,
        kwh: 0.5,
        run_ms: 54_000,
        kgco2e_location: 0.2,
      });
      expect(by.get('acme/hk1/assembly/l1/press/_metrics')).not.toHaveProperty('kgco2e_market');
      expect(by.get('acme/hk1/assembly/l1/press/_events')).toMatchObject({
        machine: 'press',
        kind: 'machine-state',
        state: 'running',
        ts: t0 + 5,
      });
      await until('empty backlog', () => sink.status().backlog === 0);
      const s = sink.status();
      expect(s).toMatchObject({ name: 'mqtt', state: 'running', connected: true, accepted: 6, sent: 6, dropped: 0 });
      expect(s.alarm.active).toBe(false);
    } finally {
      await sink.stop();
      await sub.client.endAsync();
      await broker.stop();
    }
  });

  it('loses nothing while the broker is down for 5 s: every sample arrives, in order per topic', async () => {
    const broker = await startPersistentMosquitto();
    const sub = await subscriber(broker.url, 'acme/#', {
      clean: false,
      clientId: 'uns-check',
      properties: { sessionExpiryInterval: 600 },
    });
    const batchSize = 200;
    const sink = new MqttNorthSink(sinkOptions(broker.url, 'uns-outage', { batchSize }));
    const sent: string[] = [];
    const tags = [
      ['press.temp', 'acme/hk1/assembly/l1/press/press.temp'],
      ['oven.temp', 'acme/hk1/assembly/l1/oven/oven.temp'],
      ['meter.kw', 'acme/hk1/_devices/meter1/meter.kw'],
    ] as const;
    let i = 0;
    const t0 = 1_732_252_800_000;
    const feed = setInterval(() => {
      const batch: CoreSample[] = [];
      for (let k = 0; k < 5; k++) {
        i++;
        for (const [tagId, topic] of tags) {
          batch.push({ tagId, ts: t0 + i, value: i, quality: 'good' });
          sent.push(`${topic} ${t0 + i}`);
        }
      }
      sink.onSamples(batch);
    }, 10);
    try {
      await sink.start();
      await new Promise((r) => setTimeout(r, 1000));
      await broker.down();
      const sentAtOutage = sent.length;
      await new Promise((r) => setTimeout(r, 5000));
      expect(sink.status().connected).toBe(false);
      expect(sink.status().backlog).toBeGreaterThan(sent.length - sentAtOutage - 300);
      await broker.up();
      await new Promise((r) => setTimeout(r, 1000));
      clearInterval(feed);
      const total = sent.length;
      await until('every sample at the subscriber', () => new Set(received(sub.messages)).size >= total, 20_000).catch(
        (err) => {
          const st = sink.status();
          const have = new Set(received(sub.messages));
          const miss = sent.filter((k) => !have.has(k)).map((k) => Number(k.split(' ')[1]) - t0);
          console.log('missing', miss.length, miss[0], miss[miss.length - 1], 'outage from', sentAtOutage / 3);
          console.log(
            JSON.stringify({
              ...st,
              got: new Set(received(sub.messages)).size,
              total,
              subConnected: sub.client.connected,
            }),
          );
          throw err;
        },
      );
      const got = received(sub.messages);
      const counts = new Map<string, number>();
      for (const k of got) counts.set(k, (counts.get(k) ?? 0) + 1);
      // no loss: every sample sent arrived at least once, nothing else arrived
      expect(sent.filter((k) => !counts.has(k))).toEqual([]);
      expect(counts.size).toBe(total);
      // duplicates only from batches re-sent after the cut: at most two batches' worth of records
      const duplicates = got.length - counts.size;
      expect(duplicates).toBeLessThanOrEqual(2 * batchSize);
      for (const n of counts.values()) expect(n).toBeLessThanOrEqual(2);
      // in order per topic: first arrivals never go back in time
      const last = new Map<string, number>();
      const seen = new Set<string>();
      for (const k of got) {
        if (seen.has(k)) continue;
        seen.add(k);
        const [topic, ts] = k.split(' ') as [string, string];
        expect(Number(ts)).toBeGreaterThan(last.get(topic) ?? 0);
        last.set(topic, Number(ts));
      }
      // the subscriber may see the last messages before the sink has handled their PUBACKs
      await until('every record acknowledged', () => sink.status().backlog === 0);
      const s = sink.status();
      expect(s.failures).toBeGreaterThan(0);
      expect(s.sent).toBe(s.accepted);
      expect(s.dropped).toBe(0);
      expect(s.backlog).toBe(0);
      console.log(
        `UNS outage: ${total} samples sent, ${got.length} received (${duplicates} duplicates), ${s.connects} connections, ${s.failures} failures`,
      );
    } finally {
      clearInterval(feed);
      await sink.stop();
      await sub.client.endAsync();
      await broker.stop();
    }
  }, 45_000);

  it('keeps the outbox within its quota: the oldest records are dropped, counted and raised as an alarm', async () => {
    const port = await freePort(); // nothing listens there
    const sink = new MqttNorthSink(sinkOptions(`mqtt://127.0.0.1:${port}`, 'uns-quota', { outboxMaxMb: 0.05 }));
    try {
      await sink.start();
      for (let k = 0; k < 20; k++) {
        sink.onSamples(
          Array.from({ length: 100 }, (_, j) => ({
            tagId: 'press.temp',
            ts: 1 + k * 100 + j,
            value: j,
            quality: 'good' as const,
          })),
        );
        await new Promise((r) => setTimeout(r, 60));
      }
      await until('a quota drop', () => sink.status().dropped > 0);
      const s = sink.status();
      expect(s.backlogBytes).toBeLessThanOrEqual(0.05 * 1024 * 1024);
      expect(s.accepted).toBe(2000);
      expect(s.backlog + s.dropped).toBe(2000);
      expect(s.alarm.active).toBe(true);
      expect(s.alarm.message).toMatch(/MQTT outbox reached its quota/);
      // oldest dropped: what is left is the newest
      const left = sink.outbox.peek(1)[0]!;
      expect(JSON.parse(left.line).ts).toBeGreaterThan(1);
    } finally {
      await sink.stop();
    }
  });
});

function received(messages: readonly { topic: string; payload: Buffer }[]): string[] {
  return messages
    .filter((m) => !/\/_(metrics|events)$/.test(m.topic))
    .map((m) => `${m.topic} ${(JSON.parse(m.payload.toString()) as { ts: number }).ts}`);
}

/** A TCP relay between the sink and the broker whose connections the test can cut (no DISCONNECT is sent). */
async function startRelay(targetPort: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(targetPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Seen {
  readonly type: string;
  readonly device: string | undefined;
  readonly payload: Payload;
}

function bdSeqOf(p: Payload): number | undefined {
  const m = p.metrics.find((x) => x.name === 'bdSeq');
  if (m?.value?.kind === 'long') return Number(m.value.value);
  if (m?.value?.kind === 'int') return m.value.value;
  return undefined;
}

describe('Sparkplug B edge node', () => {
  it('births with bdSeq, DDATA seq wrapping, NDEATH will on a cut connection, rebirth on NCMD', async () => {
    const broker = await startMosquitto();
    const relay = await startRelay(broker.port);
    const seen: Seen[] = [];
    const sub = await subscriber(broker.url, 'spBv1.0/G1/#');
    sub.client.on('message', (topic, payload) => {
      const [, , type, , device] = topic.split('/');
      if (type === 'NCMD') return;
      seen.push({ type: type!, device, payload: decodePayload(payload) });
    });
    const sink = new MqttNorthSink(
      sinkOptions(relay.url, 'sparkplug', { sparkplug: { groupId: 'G1', edgeNodeId: 'gw1' }, batchSize: 1 }),
    );
    const of = (type: string) => seen.filter((m) => m.type === type);
    try {
      await sink.start();
      await until('births', () => of('DBIRTH').length === 2);
      const nbirth = of('NBIRTH')[0]!.payload;
      expect(nbirth.seq).toBe(0);
      const bdSeq0 = bdSeqOf(nbirth);
      expect(bdSeq0).toBeTypeOf('number');
      expect(nbirth.metrics.find((m) => m.name === 'Node Control/Rebirth')).toMatchObject({
        datatype: DataType.Boolean,
        value: { kind: 'boolean', value: false },
      });
      const dbirths = of('DBIRTH');
      expect(dbirths.map((d) => [d.device, d.payload.seq])).toEqual([
        ['press', 1],
        ['oven', 2],
      ]);
      const press = dbirths[0]!.payload.metrics;
      const temp = press.find((m) => m.name === 'press.temp')!;
      expect(temp.datatype).toBe(DataType.Double);
      expect(temp.isNull).toBe(true);
      expect(press.find((m) => m.name === 'press.running')!.datatype).toBe(DataType.Boolean);
      expect(press.find((m) => m.name === 'Metrics/oee')!.datatype).toBe(DataType.Double);
      const aliases = [...dbirths.flatMap((d) => d.payload.metrics.map((m) => m.alias)), 0, 1];
      expect(new Set(aliases).size).toBe(aliases.length);

      // 300 samples, one DDATA each (batchSize 1): seq runs 3..255, 0, 1, …
      const t0 = 1_732_252_800_000;
      sink.onSamples(
        Array.from({ length: 300 }, (_, j) => ({
          tagId: 'press.temp',
          ts: t0 + j,
          value: j / 2,
          quality: 'good' as const,
        })),
      );
      await until('300 DDATA', () => of('DDATA').length === 300, 20_000);
      const ddata = of('DDATA');
      const seqs = ddata.map((d) => d.payload.seq!);
      seqs.forEach((s, j) => expect(s).toBe((3 + j) % 256));
      expect(seqs).toContain(255);
      expect(seqs).toContain(0);
      ddata.forEach((d, j) => {
        expect(d.device).toBe('press');
        expect(d.payload.metrics).toHaveLength(1);
        expect(d.payload.metrics[0]).toMatchObject({
          alias: temp.alias,
          timestamp: t0 + j,
          value: { kind: 'double', value: j / 2 },
        });
        expect(d.payload.metrics[0]!.name).toBeUndefined();
      });

      // the connection is cut without DISCONNECT: the broker publishes the will, NDEATH with the birth's bdSeq
      await until('every DDATA acknowledged', () => sink.status().backlog === 0);
      relay.cut();
      await until('NDEATH', () => of('NDEATH').length === 1);
      expect(bdSeqOf(of('NDEATH')[0]!.payload)).toBe(bdSeq0);
      // the sink reconnects: a new birth sequence with the next bdSeq, seq from 0
      await until('second NBIRTH', () => of('NBIRTH').length === 2 && of('DBIRTH').length === 4);
      const nbirth2 = of('NBIRTH')[1]!.payload;
      expect(nbirth2.seq).toBe(0);
      expect(bdSeqOf(nbirth2)).toBe((bdSeq0! + 1) % 256);
      // the birth carries the last value published
      const lastTemp = of('DBIRTH')[2]!.payload.metrics.find((m) => m.name === 'press.temp')!;
      expect(lastTemp).toMatchObject({ value: { kind: 'double', value: 299 / 2 }, timestamp: t0 + 299 });

      // a host asks for a rebirth
      await sub.client.publishAsync(
        'spBv1.0/G1/NCMD/gw1',
        Buffer.from(
          encodePayload({
            timestamp: Date.now(),
            metrics: [{ name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: true }],
          }),
        ),
        { qos: 1 },
      );
      await until('rebirth', () => of('NBIRTH').length === 3 && of('DBIRTH').length === 6);
      const nbirth3 = of('NBIRTH')[2]!.payload;
      expect(nbirth3.seq).toBe(0);
      expect(bdSeqOf(nbirth3)).toBe(bdSeqOf(nbirth2));
      expect(
        of('DBIRTH')
          .slice(4)
          .map((d) => d.payload.seq),
      ).toEqual([1, 2]);
      expect(sink.status().sparkplug).toMatchObject({ births: 3, rebirthRequests: 1 });

      // data after the rebirth goes on from the births' seq
      sink.onSamples([
        { tagId: 'oven.temp', ts: t0 + 1000, value: 200, quality: 'bad', reason: 'timeout' } as CoreSample,
      ]);
      await until('DDATA after rebirth', () => of('DDATA').length === 301);
      const after = of('DDATA')[300]!;
      expect(after.device).toBe('oven');
      expect(after.payload.seq).toBe(3);
      expect(after.payload.metrics[0]).toMatchObject({ isNull: true, properties: { Quality: 0 } });

      // a clean stop sends NDEATH itself (a clean disconnect discards the will)
      await sink.stop();
      await until('NDEATH at stop', () => of('NDEATH').length === 2);
      expect(bdSeqOf(of('NDEATH')[1]!.payload)).toBe(bdSeqOf(nbirth2));
    } finally {
      await sink.stop();
      await sub.client.endAsync();
      await relay.close();
      await broker.stop();
    }
  }, 45_000);
});
