/**
 * Throughput of the InfluxDB sink into a real influxd (Debian's InfluxDB 1.x,
 * spawned on loopback), with the sink wired as the gateway wires it
 * (pipeline → sink → outbox → InfluxDB):
 *
 *   npx tsx test/bench/influx.bench.ts [seconds=15] [rate=20000] [backlog=500000] [tags=1000]
 *
 * 1. steady: `rate` samples/s over `tags` tags for `seconds`: points
 *    delivered per second, the oldest point's wait (lag), the event loop's
 *    delay, p99 and max (what the pipeline waits for the sink and the rest of
 *    the process), CPU and RSS of this process and of influxd.
 * 2. backlog: influxd is down while `backlog` samples are taken over as fast
 *    as the outbox commits them (points/s into the outbox), then it comes back
 *    and the backlog is sent (points/s out of the outbox).
 *
 * CPU % is of one core (100 % = one core busy). Prints a table and writes
 * test/bench/results/influx.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildRig } from '../integration/peers/influx-sink-rig.js';
import { type InfluxdPeer, scalarOf, startInfluxd } from '../integration/peers/influxd.js';
import { writeResults } from './lib/results.js';
import { type UsageReport, UsageSampler } from './lib/sampler.js';
import { printTable } from './lib/table.js';

const SECONDS = Number(process.argv[2] ?? 15);
const RATE = Number(process.argv[3] ?? 20_000);
const BACKLOG = Number(process.argv[4] ?? 500_000);
const TAGS = Number(process.argv[5] ?? 1000);
/** a fixed past day, so each run writes the same shape of data */
const BASE = Date.UTC(2024, 0, 16, 0, 0, 0);

const dir = mkdtempSync(join(tmpdir(), 'greenline-influx-bench-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Row {
  readonly scenario: string;
  readonly points: number;
  readonly pointsPerSecond: number;
  readonly lagMaxMs: number | null;
  readonly loopP99Ms: number | null;
  readonly loopMaxMs: number | null;
  readonly sinkCpuPercent: number;
  readonly sinkRssPeakMB: number;
  readonly influxdCpuPercent: number;
  readonly influxdRssPeakMB: number;
}

function row(
  scenario: string,
  points: number,
  seconds: number,
  self: UsageReport,
  server: UsageReport,
  extra: Partial<Row> = {},
): Row {
  return {
    scenario,
    points,
    pointsPerSecond: Math.round(points / seconds),
    lagMaxMs: null,
    loopP99Ms: null,
    loopMaxMs: null,
    sinkCpuPercent: self.cpuPercent,
    sinkRssPeakMB: self.rssPeakMB,
    influxdCpuPercent: server.cpuPercent,
    influxdRssPeakMB: server.rssPeakMB,
    ...extra,
  };
}

async function steady(influx: InfluxdPeer): Promise<Row> {
  const db = 'steady';
  const rig = buildRig({ url: influx.url, database: db, outboxPath: join(dir, 'steady.db') }, BASE, TAGS);
  await rig.sink.start();
  await until(() => rig.sink.status().reachable === true, 10_000, 'InfluxDB to answer');
  const self = new UsageSampler('self');
  const server = new UsageSampler(influx.pid!);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let lagMax = 0;
  const watch = setInterval(() => {
    lagMax = Math.max(lagMax, rig.sink.status().oldestAgeMs ?? 0);
  }, 100);
  self.start();
  server.start();
  loop.enable();
  const started = Date.now();
  let n = 0;
  const total = Math.round(RATE * SECONDS);
  const feed = setInterval(() => {
    const due = Math.min(total, Math.floor(((Date.now() - started) * RATE) / 1000));
    // drivers hand over batches of up to 500 samples
    for (let i = n; i < due; i += 500) rig.emit(i, Math.min(due, i + 500));
    n = Math.max(n, due);
  }, 10);
  await until(() => n >= total, SECONDS * 1000 + 10_000, 'the samples to be handed over');
  clearInterval(feed);
  await until(() => rig.sink.status().backlog === 0 && rig.sink.status().accepted === total, 60_000, 'the backlog');
  const seconds = (Date.now() - started) / 1000;
  loop.disable();
  clearInterval(watch);
  const usage = self.stop();
  const influxUsage = server.stop();
  const s = rig.sink.status();
  await rig.sink.stop();
  const stored = scalarOf(await influx.query('SELECT COUNT(value) FROM greenline_tag', db));
  if (stored !== total || s.sent !== total)
    throw new Error(`steady: ${total} offered, ${s.sent} sent, ${stored} stored`);
  return row(`steady ${RATE.toLocaleString('en')}/s, ${TAGS} tags`, total, seconds, usage, influxUsage, {
    lagMaxMs: lagMax,
    // the histogram holds whole timer intervals: the 10 ms resolution is not delay
    loopP99Ms: Math.max(0, loop.percentile(99) / 1e6 - 10),
    loopMaxMs: Math.max(0, loop.max / 1e6 - 10),
  });
}

async function backlog(influx: InfluxdPeer): Promise<Row[]> {
  const db = 'backlog';
  const rig = buildRig({ url: influx.url, database: db, outboxPath: join(dir, 'backlog.db') }, BASE, TAGS);
  await influx.stop();
  await rig.sink.start();
  const self = new UsageSampler('self');
  self.start();
  const t0 = Date.now();
  for (let i = 0; i < BACKLOG; i += 5000) {
    rig.emit(i, Math.min(BACKLOG, i + 5000));
    // the commit runs at the next turn of the event loop (a full batch is committed at once)
    await new Promise((r) => setImmediate(r));
  }
  await until(() => rig.sink.status().accepted === BACKLOG, 120_000, 'the outbox commits');
  const enqueueSeconds = (Date.now() - t0) / 1000;
  const enqueueUsage = self.stop();
  const queued = rig.sink.status();
  const outboxFile = rig.sink.outbox.stats();
  console.log(
    `outbox with ${BACKLOG.toLocaleString('en')} points: ${(queued.backlogBytes / 2 ** 20).toFixed(1)} MiB as the quota counts it, ` +
      `database ${(outboxFile.databaseBytes / 2 ** 20).toFixed(1)} MiB, on disk with its log ${(outboxFile.fileBytes / 2 ** 20).toFixed(1)} MiB`,
  );

  await influx.start();
  const drainSelf = new UsageSampler('self');
  const server = new UsageSampler(influx.pid!);
  drainSelf.start();
  server.start();
  const t1 = Date.now();
  await until(() => rig.sink.status().backlog === 0, 300_000, 'the backlog to drain');
  const drainSeconds = (Date.now() - t1) / 1000;
  const drainUsage = drainSelf.stop();
  const influxUsage = server.stop();
  await rig.sink.stop();
  const stored = scalarOf(await influx.query('SELECT COUNT(value) FROM greenline_tag', db));
  if (stored !== BACKLOG) throw new Error(`backlog: ${BACKLOG} taken over, ${stored} stored`);
  const idle: UsageReport = { ...influxUsage, cpuPercent: 0, rssPeakMB: 0 };
  return [
    row(
      `into the outbox (InfluxDB down), ${(queued.backlogBytes / 2 ** 20).toFixed(0)} MiB`,
      BACKLOG,
      enqueueSeconds,
      enqueueUsage,
      idle,
    ),
    row('backlog drain after the outage', BACKLOG, drainSeconds, drainUsage, influxUsage),
  ];
}

async function main(): Promise<void> {
  const influx = await startInfluxd();
  try {
    const rows = [await steady(influx), ...(await backlog(influx))];
    console.log(
      `InfluxDB sink bench: influxd ${(await (await fetch(`${influx.url}/ping`)).headers.get('x-influxdb-version')) ?? '?'} on loopback, batchSize 5000, gzip level 1`,
    );
    printTable(rows, [
      { key: 'scenario' },
      { key: 'points' },
      { key: 'pointsPerSecond', title: 'points/s' },
      { key: 'lagMaxMs', title: 'lag max ms' },
      { key: 'loopP99Ms', title: 'loop delay p99 ms', digits: 1 },
      { key: 'loopMaxMs', title: 'max ms', digits: 1 },
      { key: 'sinkCpuPercent', title: 'gateway CPU %', digits: 1 },
      { key: 'sinkRssPeakMB', title: 'gateway RSS MB', digits: 0 },
      { key: 'influxdCpuPercent', title: 'influxd CPU %', digits: 1 },
      { key: 'influxdRssPeakMB', title: 'influxd RSS MB', digits: 0 },
    ]);
    const file = writeResults('influx', {
      seconds: SECONDS,
      rate: RATE,
      backlog: BACKLOG,
      tags: TAGS,
      server: 'influxd 1.x (spawned, loopback)',
      scenarios: rows,
    });
    console.log(`results: ${file}`);
  } finally {
    await influx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
