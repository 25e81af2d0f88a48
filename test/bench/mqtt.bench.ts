/**
 * MQTT driver throughput against a spawned mosquitto, with the driver in a
 * child process so its CPU and memory are measured apart from the load:
 *
 *   npx tsx test/bench/mqtt.bench.ts [seconds=15] [jsonRate=20000] [topics=1000] [metrics=5000]
 *
 * 1. JSON: a publisher process sends `jsonRate` messages/s (QoS 0) spread
 *    over `topics` topics; the driver has one tag per topic (`jsonPath` +
 *    `timestampPath`). Reported: messages sent, samples received, drops
 *    (sent − received, wherever they were lost), driver CPU % and RSS.
 * 2. Sparkplug B: an edge node process with 10 devices × metrics/10 metrics
 *    (births, then one DDATA per device per second, every metric by alias);
 *    the driver has one tag per metric.
 *
 * CPU % is of one core (100 % = one core busy). Prints a table and writes
 * test/bench/results/mqtt.json. The same file is the child processes
 * (`publisher`, `edge`, `driver` as the first argument).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectAsync } from 'mqtt';
import { MqttDevice } from '../../config/schema.js';
import { MqttDriver } from '../../protocols/mqtt/driver.js';
import { DataType, type MetricInput, encodePayload } from '../../protocols/sparkplug/payload.js';
import type { Sample } from '../../protocols/types.js';
import { startMosquitto } from '../integration/peers/mosquitto.js';
import { writeResults } from './lib/results.js';
import { type UsageReport, UsageSampler } from './lib/sampler.js';
import { printTable } from './lib/table.js';

const SELF = fileURLToPath(import.meta.url);
const GROUP = 'Bench';
const NODE = 'Edge1';
const DEVICES = 10;

type Message =
  | { type: 'ready' }
  | { type: 'counts'; samples: number; good: number; bad: number; messages: number; dropped: number; errors: number }
  | { type: 'sent'; sent: number; seconds: number };

const send = (m: Message) => process.send?.(m);

// ---------- child: the driver ----------

async function runDriver(cfg: { url: string; format: 'json' | 'sparkplug-b'; tags: number }): Promise<void> {
  const tags =
    cfg.format === 'json'
      ? Array.from({ length: cfg.tags }, (_, i) => ({
          id: `t${i}`,
          topic: `bench/line${i % 10}/m${i}`,
          jsonPath: 'v',
          timestampPath: 'ts',
        }))
      : Array.from({ length: cfg.tags }, (_, i) => ({
          id: `m${i}`,
          metric: `Metric${i}`,
          deviceId: `D${i % DEVICES}`,
        }));
  const device = MqttDevice.parse({
    protocol: 'mqtt',
    id: 'bench',
    url: cfg.url,
    qos: 0,
    format: cfg.format,
    staleAfterMs: 60_000,
    ...(cfg.format === 'sparkplug-b' ? { sparkplug: { groupId: GROUP, edgeNodeId: NODE, requestRebirth: false } } : {}),
    tags,
  });
  let samples = 0;
  let good = 0;
  const quiet = { debug() {}, info() {}, warn() {}, error: (o: object, m?: string) => console.error(m, o) };
  const driver = new MqttDriver(device, {
    log: quiet,
    now: Date.now,
    emit: (batch: readonly Sample[]) => {
      samples += batch.length;
      for (const s of batch) if (s.quality === 'good') good++;
    },
  });
  await driver.start();
  while (driver.status().state !== 'connected') await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // SUBACK
  send({ type: 'ready' });
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'count') {
      const c = driver.status().counters;
      send({
        type: 'counts',
        samples,
        good,
        bad: samples - good,
        messages: c.messages,
        dropped: c.dropped,
        errors: c.errors,
      });
    } else if (m.type === 'stop') {
      await driver.stop();
      process.exit(0);
    }
  });
}

// ---------- child: the JSON publisher ----------

async function runPublisher(cfg: { url: string; rate: number; topics: number; seconds: number }): Promise<void> {
  const client = await connectAsync(cfg.url, { reconnectPeriod: 0, protocolVersion: 5 });
  const topics = Array.from({ length: cfg.topics }, (_, i) => `bench/line${i % 10}/m${i}`);
  send({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed >= cfg.seconds) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor(elapsed * cfg.rate);
      for (; sent < due; sent++) {
        const payload = `{"v":${(sent % 1000) / 10},"ts":${Date.now()}}`;
        client.publish(topics[sent % topics.length]!, payload, { qos: 0 });
      }
    }, 5);
  });
  const seconds = (performance.now() - t0) / 1000;
  await client.endAsync(); // flushes what is queued
  send({ type: 'sent', sent, seconds });
  // stay until the parent has read our CPU use
  process.once('message', () => process.exit(0));
}

// ---------- child: the Sparkplug edge node ----------

async function runEdge(cfg: { url: string; metrics: number; seconds: number }): Promise<void> {
  const client = await connectAsync(cfg.url, { reconnectPeriod: 0, protocolVersion: 5 });
  let seq = 0;
  const next = () => {
    const s = seq;
    seq = (seq + 1) & 0xff;
    return s;
  };
  const topic = (type: string, device?: string) => `spBv1.0/${GROUP}/${type}/${NODE}${device ? `/${device}` : ''}`;
  const perDevice = Array.from({ length: DEVICES }, () => [] as number[]);
  for (let i = 0; i < cfg.metrics; i++) perDevice[i % DEVICES]!.push(i);
  const publish = (t: string, metrics: MetricInput[]) =>
    client.publish(t, Buffer.from(encodePayload({ timestamp: Date.now(), seq: next(), metrics })), { qos: 0 });
  publish(topic('NBIRTH'), [{ name: 'bdSeq', datatype: DataType.Int64, value: 0 }]);
  perDevice.forEach((ids, d) =>
    publish(
      topic('DBIRTH', `D${d}`),
      ids.map((i) => ({ name: `Metric${i}`, alias: i + 1, datatype: DataType.Double, value: i })),
    ),
  );
  send({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const t0 = performance.now();
  let sent = 0;
  let round = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      if ((performance.now() - t0) / 1000 >= cfg.seconds) {
        clearInterval(timer);
        resolve();
        return;
      }
      round++;
      const now = Date.now();
      perDevice.forEach((ids, d) => {
        publish(
          topic('DDATA', `D${d}`),
          ids.map((i) => ({ alias: i + 1, timestamp: now, datatype: DataType.Double, value: i + round / 10 })),
        );
        sent += ids.length;
      });
    };
    const timer = setInterval(tick, 1000);
    tick();
  });
  const seconds = (performance.now() - t0) / 1000;
  await client.endAsync();
  send({ type: 'sent', sent, seconds });
  // stay until the parent has read our CPU use
  process.once('message', () => process.exit(0));
}

// ---------- the parent ----------

interface Child {
  proc: ChildProcess;
  next(type: Message['type']): Promise<Message>;
  send(m: object): void;
}

const children = new Set<ChildProcess>();

function child(role: string, cfg: object): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, role, JSON.stringify(cfg)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const inbox: Message[] = [];
  const waiting: { type: string; resolve: (m: Message) => void }[] = [];
  proc.on('message', (m: Message) => {
    const w = waiting.findIndex((x) => x.type === m.type);
    if (w >= 0) waiting.splice(w, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  return {
    proc,
    next: (type) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        waiting.push({ type, resolve });
        proc.once('exit', (code) => reject(new Error(`${role} exited (${code}) before "${type}"`)));
      });
    },
    send: (m) => proc.send(m),
  };
}

async function counts(driver: Child): Promise<Extract<Message, { type: 'counts' }>> {
  driver.send({ type: 'count' });
  return (await driver.next('counts')) as Extract<Message, { type: 'counts' }>;
}

type ScenarioResult = {
  scenario: string;
  offeredPerSecond: number;
  sent: number;
  received: number;
  samplesPerSecond: number;
  drops: number;
  badSamples: number;
  driverCpuPercent: number;
  cpuMicrosPerSample: number;
  driverRssAvgMB: number;
  driverRssPeakMB: number;
  loadCpuPercent: number;
};

async function scenario(
  name: string,
  url: string,
  driverCfg: object,
  loadRole: 'publisher' | 'edge',
  loadCfg: object,
): Promise<ScenarioResult> {
  const driver = child('driver', { url, ...driverCfg });
  await driver.next('ready');
  const load = child(loadRole, { url, ...loadCfg });
  await load.next('ready');
  await new Promise((r) => setTimeout(r, 1500)); // births settle; the driver's start-up is over
  const before = await counts(driver);
  const driverUsage = new UsageSampler(driver.proc.pid!);
  const loadUsage = new UsageSampler(load.proc.pid!);
  driverUsage.start();
  loadUsage.start();
  load.send({ type: 'go' });
  const sent = (await load.next('sent')) as Extract<Message, { type: 'sent' }>;
  // let the last messages arrive: until nothing new comes for half a second
  let last = await counts(driver);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await counts(driver);
    if (now.samples === last.samples) break;
    last = now;
  }
  const usage: UsageReport = driverUsage.stop();
  const loadReport = loadUsage.stop();
  load.send({ type: 'stop' });
  const after = last;
  driver.send({ type: 'stop' });
  await new Promise((r) => driver.proc.once('exit', r));
  const received = after.samples - before.samples;
  const measured = sent.seconds;
  return {
    scenario: name,
    offeredPerSecond: Math.round(sent.sent / measured),
    sent: sent.sent,
    received,
    samplesPerSecond: Math.round(received / measured),
    drops: Math.max(0, sent.sent - received),
    badSamples: after.bad - before.bad,
    // the work for the messages of the sending window, over that window (the drain's idle time left out)
    driverCpuPercent: (100 * usage.cpuSeconds) / measured,
    cpuMicrosPerSample: received > 0 ? (usage.cpuSeconds * 1e6) / received : Number.NaN,
    driverRssAvgMB: usage.rssAvgMB,
    driverRssPeakMB: usage.rssPeakMB,
    loadCpuPercent: (100 * loadReport.cpuSeconds) / measured,
  };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 15);
  const rate = Number(process.argv[3] ?? 20_000);
  const topics = Number(process.argv[4] ?? 1000);
  const metrics = Number(process.argv[5] ?? 5000);
  const broker = await startMosquitto();
  try {
    const json = await scenario(`JSON, ${topics} topics`, broker.url, { format: 'json', tags: topics }, 'publisher', {
      rate,
      topics,
      seconds,
    });
    const spb = await scenario(
      `Sparkplug B, ${metrics} metrics at 1 Hz`,
      broker.url,
      { format: 'sparkplug-b', tags: metrics },
      'edge',
      { metrics, seconds },
    );
    const rows = [json, spb];
    printTable(rows, [
      { key: 'scenario' },
      { key: 'offeredPerSecond', title: 'offered/s' },
      { key: 'sent' },
      { key: 'received' },
      { key: 'samplesPerSecond', title: 'samples/s' },
      { key: 'drops' },
      { key: 'badSamples', title: 'bad' },
      { key: 'driverCpuPercent', title: 'driver CPU %', digits: 1 },
      { key: 'cpuMicrosPerSample', title: 'CPU µs/sample', digits: 2 },
      { key: 'driverRssAvgMB', title: 'RSS avg MB', digits: 1 },
      { key: 'driverRssPeakMB', title: 'RSS peak MB', digits: 1 },
      { key: 'loadCpuPercent', title: 'load CPU %', digits: 1 },
    ]);
    const file = writeResults('mqtt', { seconds, broker: 'mosquitto (spawned, loopback)', scenarios: rows });
    console.log(`\nwritten to ${file}`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await broker.stop();
  }
}

const role = process.argv[2];
const cfg = () => JSON.parse(process.argv[3] ?? '{}');
if (role === 'driver') void runDriver(cfg());
else if (role === 'publisher') void runPublisher(cfg());
else if (role === 'edge') void runEdge(cfg());
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
