/**
 * InfluxDB down for 10 minutes under load, compressed in time: nothing lost.
 *
 * What "10 minutes" means here. A realistic plant of 1 000 tags read every
 * second gives 600 000 points in 10 minutes. The gateway reads 10 simulated
 * Modbus TCP devices × 100 tags every 100 ms (1 000 tags at 10 Hz, over real
 * sockets) and forwards what changed, about 8 000 points/s. A real `influxd`
 * is stopped until the sink has taken at least 600 000 points into its outbox
 * since the stop: the data volume of those 10 minutes, produced in about 75 s
 * of wall time. Not compressed: the sink runs with the settings a plant gets
 * (batch 5 000, flush 1 s, outbox quota 512 MiB, retries after 0.5 s doubling
 * to a 10 s cap with jitter), and the outage lasts long enough for the
 * backoff to reach that cap and stay there.
 *
 * During the outage:
 * - the outbox holds the whole backlog within its quota: nothing dropped,
 *   refused (`dropped`, `rejected` 0), nothing leaves it (`sent` stays), the
 *   backlog only grows, and `oldestAgeMs` is the time since the outage began;
 * - retries back off to the cap: the last intervals between failed attempts
 *   lie between 5 and 10 s (the cap with equal jitter);
 * - as documented, the sink's own alarm (quota reached, outbox unusable) and
 *   the built-in `system-influx-outbox` alarm stay inactive, health is
 *   `degraded` with the sink's error, and a plant's own rule on the
 *   `influx-backlog-points` signal (here: above 100 000) raises;
 *   `/metrics` shows the backlog, its age and the error;
 * - the rest of the gateway goes on: the devices are read at the rate they
 *   were before the outage, the store takes every sample the pipeline
 *   forwards as it comes (the same samples the sink is handed), and
 *   `/api/health` answers within a second.
 *
 * Then influxd comes back on the same data: the sink sends again within one
 * backoff interval, the backlog drains, the backlog rule clears and health is
 * `ok` again. After an orderly stop of the gateway (its outbox left empty),
 * InfluxDB holds exactly as many points as the sink sent, which is every
 * point it was handed (none dropped, refused, left out or kept back); a point
 * in the outbox twice would overwrite itself in InfluxDB and leave it short.
 * And for each of the 1 000 tags it holds as many samples as the gateway's
 * own store.
 */
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { PlantConfig } from '../../config/schema.js';
import type { SinkHealth } from '../../gateway/server/ports.js';
import type { BadModbusServer } from '../integration/peers/bad-modbus-server.js';
import { type InfluxdPeer, startInfluxd } from '../integration/peers/influxd.js';
import {
  type GatewayHealth,
  type GatewayProcess,
  signInCookie,
  startGatewayProcess,
} from '../bench/lib/gateway-process.js';
import { BENCH_USER, benchPlant } from '../bench/lib/gateway-plant.js';
import { health, modbusDevice, moveValues, sleep, tempDir, waitFor } from './rig.js';

const DEVICES = 10;
const POLL_MS = 100;
/** 1 000 tags at 1 s for 10 minutes */
const OUTAGE_POINTS = 600_000;
const BACKLOG_RULE_LIMIT = 100_000;
/** the sink's production retry settings (InfluxDbSink defaults) */
const RETRY_CAP_MS = 10_000;
/** how far the time a look sees an attempt may be from the attempt: a look period and its answer */
const LOOK_SLACK_MS = 750;
const DATABASE = 'greenline';
const MiB = 1024 * 1024;

/** the sink's entry in GET /api/health, every field of the server's contract present */
type SinkSeen = Required<SinkHealth>;

interface Look {
  /** the test's clock when the answer came */
  readonly at: number;
  /** how long GET /api/health took */
  readonly ms: number;
  readonly h: GatewayHealth;
  readonly sink: SinkSeen;
}

interface AlarmItem {
  readonly id: string;
  readonly state: string;
  readonly conditionActive: boolean;
  readonly activation: number;
}

interface LogLine {
  readonly level: number;
  readonly part?: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

let influx: InfluxdPeer | undefined;
let servers: BadModbusServer[] = [];
let stopMoving: () => void = () => undefined;
let gateway: GatewayProcess | undefined;
let dir: string | undefined;

afterAll(async () => {
  stopMoving();
  await gateway?.stop();
  await Promise.all(servers.map((s) => s.stop()));
  await influx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function look(url: string, cookie: string): Promise<Look> {
  const t0 = performance.now();
  const h = await health(url, cookie);
  const ms = performance.now() - t0;
  const sink = h.sinks.find((s) => s.name === 'influxdb');
  if (!sink) throw new Error('no influxdb sink in health');
  for (const field of ['state', 'backlogBytes', 'oldestAgeMs', 'sent', 'failures', 'dropped', 'rejected', 'alarm']) {
    if (!(field in sink)) throw new Error(`health shows no ${field} of the influxdb sink`);
  }
  return { at: Date.now(), ms, h, sink: sink as SinkSeen };
}

/** points the sink took into its outbox so far (its `accepted`): sent, waiting, dropped or refused */
function taken(l: Look): number {
  return l.sink.sent + l.sink.backlog + l.sink.dropped + l.sink.rejected;
}

async function alarmsOf(url: string, cookie: string): Promise<Map<string, AlarmItem>> {
  const res = await fetch(`${url}/api/alarms`, { headers: { cookie } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { alarms: AlarmItem[] };
  return new Map(body.alarms.map((a) => [a.id, a]));
}

/** the influxdb sink's samples of the Prometheus text, by metric name */
async function sinkGauges(url: string, cookie: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/metrics`, { headers: { cookie } });
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^(greenline_sink_\w+)\{sink="influxdb"\} (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

it('loses nothing while InfluxDB is down for 10 minutes of plant data under load', async () => {
  const wallStart = performance.now();
  dir = tempDir('influx-outage');
  influx = await startInfluxd();
  servers = await Promise.all(Array.from({ length: DEVICES }, (_, i) => modbusDevice(i)));
  stopMoving = moveValues(servers);
  const storePath = path.join(dir, 'greenline.db');
  const plant = {
    ...benchPlant(
      servers.map((s) => s.port),
      { storePath, intervalMs: POLL_MS },
    ),
    // the sink as a plant configures it: everything else at its defaults
    sinks: { influxdb: { url: influx.url, database: DATABASE } },
    alarms: [
      {
        id: 'influx-backlog',
        kind: 'system' as const,
        signal: 'influx-backlog-points' as const,
        limit: BACKLOG_RULE_LIMIT,
        priority: 'medium' as const,
        message: { en: 'More than 100 000 points wait for InfluxDB' },
      },
    ],
  };
  const quotaBytes = PlantConfig.parse(plant).sinks.influxdb!.outboxMaxMb * MiB;
  gateway = await startGatewayProcess({ dataDir: dir, fastAuth: true, logLevel: 'info', plant });
  // its log (pino, JSON lines on standard error), read to its end after the stop
  const logs: LogLine[] = [];
  let partial = '';
  const stderr = gateway.child.stderr!;
  const logEnded = new Promise<void>((resolve) => stderr.once('close', () => resolve()));
  stderr.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (l.startsWith('{')) logs.push(JSON.parse(l) as LogLine);
    }
  });
  const { url } = gateway;
  const cookie = await signInCookie(url, BENCH_USER.username, BENCH_USER.password);

  // warm-up: delivering, then the rates at which devices are read and the store writes, over 5 s
  await waitFor(async () => (await look(url, cookie)).sink.sent > 0, 20_000, 200);
  const base0 = await look(url, cookie);
  await sleep(5000);
  const base1 = await look(url, cookie);
  const baseSeconds = (base1.h.now - base0.h.now) / 1000;
  const pollRate = (base1.h.pipeline.samplesIn - base0.h.pipeline.samplesIn) / baseSeconds;
  const storeRate = (base1.h.store.samplesWritten - base0.h.store.samplesWritten) / baseSeconds;
  expect(base1.h.status).toBe('ok');

  // the outage: influxd stopped until 10 minutes of plant data were taken into the outbox
  const downAt = Date.now();
  await influx.stop();
  const downDone = Date.now();
  const atStop = await look(url, cookie);
  const outage: Look[] = [atStop];
  const outageDeadline = Date.now() + 120_000;
  for (;;) {
    const l = await look(url, cookie);
    outage.push(l);
    if (taken(l) - taken(atStop) >= OUTAGE_POINTS) break;
    if (Date.now() > outageDeadline) throw new Error(`only ${taken(l) - taken(atStop)} points in 120 s`);
    await sleep(250);
  }
  const alarmsDuring = await alarmsOf(url, cookie);
  const gaugesDuring = await sinkGauges(url, cookie);
  const lastDown = outage[outage.length - 1]!;
  const outboxPath = path.join(dir, 'influx-outbox.db');
  const outboxFileBytes = statSync(outboxPath).size + statSync(`${outboxPath}-wal`).size;

  // influxd back on the same data: wait until every point taken before it came back was sent
  await influx.start();
  const backAt = Date.now();
  const atBack = await look(url, cookie);
  const drain: Look[] = [atBack];
  let resumedAt: number | null = null;
  for (;;) {
    const l = await look(url, cookie);
    drain.push(l);
    if (resumedAt === null && l.sink.sent > atBack.sink.sent) resumedAt = l.at;
    if (l.sink.sent >= taken(atBack)) break;
    if (Date.now() - backAt > 60_000) throw new Error(`not drained within 60 s: backlog ${l.sink.backlog}`);
    await sleep(250);
  }
  const drainedAt = drain[drain.length - 1]!.at;
  const drainMs = drainedAt - backAt;
  // once drained, the backlog rule clears and the gateway is healthy again
  let after = await look(url, cookie);
  let alarmsAfter = await alarmsOf(url, cookie);
  await waitFor(
    async () => {
      after = await look(url, cookie);
      alarmsAfter = await alarmsOf(url, cookie);
      return after.h.status === 'ok' && alarmsAfter.get('influx-backlog')?.conditionActive === false;
    },
    15_000,
    250,
  );
  const gaugesAfter = await sinkGauges(url, cookie);

  // an orderly stop: the sink sends what is left and reports what it sent in all
  stopMoving();
  await gateway.stop();
  await logEnded;
  const stopped = logs.find((l) => l.part === 'influxdb' && l.msg.startsWith('InfluxDB sink stopped'));
  const resumedLog = logs.find((l) => l.msg === 'InfluxDB accepts writes again; sending the backlog');

  // what InfluxDB holds, per series: a `greenline_tag` point always has `value`, or `reason` when it has
  // none; in every series one field is in each point, so its most frequent field counts its points (never more)
  const counted = await influx.query('SELECT COUNT(*) FROM /^greenline_/ GROUP BY *', DATABASE);
  let inInflux = 0;
  const perTag = new Map<string, number>();
  const perMeasurement: Record<string, number> = {};
  for (const s of counted.series) {
    const n = Math.max(...s.values[0]!.slice(1).map((v) => Number(v ?? 0)));
    inInflux += n;
    perMeasurement[s.name] = (perMeasurement[s.name] ?? 0) + n;
    if (s.name === 'greenline_tag') {
      const tag = (s as unknown as { tags: { tag: string } }).tags.tag;
      perTag.set(tag, (perTag.get(tag) ?? 0) + n);
    }
  }
  const store = new Database(storePath, { readonly: true });
  const perTagStored = new Map(
    (
      store
        .prepare('SELECT t.tag AS tag, count(*) AS n FROM samples s JOIN tags t ON t.id = s.tag_id GROUP BY t.tag')
        .all() as { tag: string; n: number }[]
    ).map((r) => [r.tag, r.n]),
  );
  store.close();
  const outbox = new Database(outboxPath, { readonly: true });
  const leftInOutbox = (outbox.prepare('SELECT count(*) AS n FROM points').get() as { n: number }).n;
  outbox.close();

  // ---- what was measured ----
  const outageMs = backAt - downAt;
  const takenDown = taken(lastDown) - taken(atStop);
  const all = [...outage, ...drain];
  const peakBytes = Math.max(...all.map((l) => l.sink.backlogBytes));
  const peakPoints = Math.max(...all.map((l) => l.sink.backlog));
  const resumeMs = (resumedAt ?? drainedAt) - backAt;
  const latencies = outage.map((l) => l.ms);
  const drainLatencies = drain.map((l) => l.ms);
  // a failed attempt shows at the first look that counts it (a look every ~250 ms); an interval between
  // attempts is known where the count moved by exactly one from one such look to the next
  const attempts = outage.filter((l, i) => i > 0 && l.sink.failures !== outage[i - 1]!.sink.failures);
  const intervals = attempts
    .slice(1)
    .flatMap((l, i) => (l.sink.failures - attempts[i]!.sink.failures === 1 ? [l.at - attempts[i]!.at] : []));
  const outageSeconds = (lastDown.h.now - atStop.h.now) / 1000;
  const pollRateDuring = (lastDown.h.pipeline.samplesIn - atStop.h.pipeline.samplesIn) / outageSeconds;
  const storeRateDuring = (lastDown.h.store.samplesWritten - atStop.h.store.samplesWritten) / outageSeconds;
  // the store is handed the samples the sink is handed (the sink also a few minute, event and alarm points)
  const storedShare = (a: Look, b: Look) =>
    (b.h.store.samplesWritten - a.h.store.samplesWritten) / (taken(b) - taken(a));
  const windows: { from: number; polled: number; stored: number }[] = [];
  for (let i = 0, j = 0; i < outage.length; i = j) {
    while (j < outage.length && outage[j]!.at - outage[i]!.at < 10_000) j++;
    if (j === outage.length) break;
    const [a, b] = [outage[i]!, outage[j]!];
    windows.push({
      from: Math.round((a.at - downAt) / 1000),
      polled: (b.h.pipeline.samplesIn - a.h.pipeline.samplesIn) / ((b.h.now - a.h.now) / 1000),
      stored: storedShare(a, b),
    });
  }
  console.log(
    `influx outage: ${takenDown} points taken in ${(outageMs / 1000).toFixed(1)} s of outage ` +
      `(${(takenDown / outageSeconds).toFixed(0)} points/s; samples read ${pollRate.toFixed(0)}/s before, ${pollRateDuring.toFixed(0)}/s during; ` +
      `stored ${storeRate.toFixed(0)}/s before, ${storeRateDuring.toFixed(0)}/s during; ` +
      `per 10 s at least ${Math.min(...windows.map((w) => w.polled)).toFixed(0)} read/s and ` +
      `${(100 * Math.min(...windows.map((w) => w.stored))).toFixed(1)} % stored), ` +
      `peak backlog ${peakPoints} points, ${(peakBytes / MiB).toFixed(1)} of ${(quotaBytes / MiB).toFixed(0)} MiB ` +
      `(outbox file ${(outboxFileBytes / MiB).toFixed(1)} MiB); ` +
      `InfluxDB back: sending after ${(resumeMs / 1000).toFixed(1)} s, drained after ${(drainMs / 1000).toFixed(1)} s; ` +
      `${inInflux} points in InfluxDB, ${stopped?.sent} sent; retry intervals ${intervals.map((ms) => (ms / 1000).toFixed(1)).join(' ')} s; ` +
      `health ${quantile(latencies, 0.5).toFixed(0)}/${Math.max(...latencies).toFixed(0)} ms median/max during the outage, ` +
      `${Math.max(...drainLatencies).toFixed(0)} ms max during the drain; wall ${((performance.now() - wallStart) / 1000).toFixed(0)} s`,
  );

  // ---- the outage ----
  expect(takenDown).toBeGreaterThanOrEqual(OUTAGE_POINTS);
  for (const l of outage) {
    // nothing dropped or refused, nothing leaves, all within the quota
    expect(l.sink).toMatchObject({ state: 'running', dropped: 0, rejected: 0 });
    if (l !== atStop) expect(l.sink.sent).toBe(lastDown.sink.sent);
    expect(l.sink.backlogBytes).toBeLessThanOrEqual(quotaBytes);
    // the sink's own alarm is for a full or unusable outbox only
    expect(l.sink.alarm).toEqual({ active: false, since: null, message: null });
    // the oldest point waiting was taken around the stop
    expect(l.sink.oldestAgeMs).toBeGreaterThanOrEqual(l.h.now - downDone - 500);
    expect(l.sink.oldestAgeMs).toBeLessThanOrEqual(l.h.now - downAt + 3000);
    // the store keeps up and health answers promptly
    expect(l.h.store).toMatchObject({ dropped: 0, lastError: null });
    expect(l.h.store.pendingRows).toBeLessThan(20_000);
    expect(l.ms).toBeLessThan(1000);
    if (l.at > downDone + 2000) {
      expect(l.h.status).toBe('degraded');
      expect(l.sink.lastError).toMatch(/cannot be reached|did not answer/);
    }
  }
  for (const [a, b] of outage.slice(1).map((l, i) => [outage[i]!, l] as const)) {
    expect(b.sink.backlog).toBeGreaterThanOrEqual(a.sink.backlog);
  }
  expect(outboxFileBytes).toBeLessThan(quotaBytes);
  // the devices are read at the rate they were before, and the store takes every sample the pipeline
  // forwards as it comes, over the whole outage and over every ~10 s of it (how many samples change,
  // and so are forwarded, drifts with the phase of the simulated values against the polls: forwarded
  // rates are compared with what the sink was handed at the same time, not with before)
  expect(pollRateDuring).toBeGreaterThan(0.9 * pollRate);
  expect(storedShare(atStop, lastDown)).toBeGreaterThan(0.98);
  expect(storedShare(atStop, lastDown)).toBeLessThanOrEqual(1.01);
  for (const w of windows) {
    expect(w.polled, `samples read per second from ${w.from} s`).toBeGreaterThan(0.8 * pollRate);
    expect(w.stored, `stored share from ${w.from} s`).toBeGreaterThan(0.95);
  }
  // the backoff grew from its first step to its cap (equal jitter: half to all of it) and stays there
  expect(Math.min(...intervals)).toBeLessThan(1500);
  expect(intervals.length).toBeGreaterThanOrEqual(5);
  for (const ms of intervals.slice(-3)) {
    expect(ms).toBeGreaterThanOrEqual(RETRY_CAP_MS / 2 - LOOK_SLACK_MS);
    expect(ms).toBeLessThanOrEqual(RETRY_CAP_MS + LOOK_SLACK_MS);
  }
  // never hammering, never giving up
  const failures = lastDown.sink.failures - atStop.sink.failures;
  expect(failures).toBeLessThanOrEqual(6 + outageMs / (RETRY_CAP_MS / 2));
  expect(attempts[attempts.length - 1]!.at).toBeGreaterThanOrEqual(lastDown.at - RETRY_CAP_MS - LOOK_SLACK_MS);
  // alarms: the plant's backlog rule raised, the built-in outbox alarm did not (nothing dropped)
  expect(alarmsDuring.get('influx-backlog')).toMatchObject({ state: 'active-unacknowledged', conditionActive: true });
  expect(alarmsDuring.get('influx-backlog')!.activation).toBe(1);
  expect(alarmsDuring.get('system-influx-outbox')).toMatchObject({
    state: 'normal',
    conditionActive: false,
    activation: 0,
  });
  expect(gaugesDuring).toMatchObject({
    greenline_sink_error: 1,
    greenline_sink_alarm: 0,
    greenline_sink_dropped_total: 0,
    greenline_sink_sent_total: lastDown.sink.sent,
  });
  expect(gaugesDuring.greenline_sink_backlog).toBeGreaterThanOrEqual(lastDown.sink.backlog);
  expect(gaugesDuring.greenline_sink_backlog_bytes).toBeGreaterThanOrEqual(lastDown.sink.backlogBytes);
  expect(gaugesDuring.greenline_sink_oldest_age_seconds).toBeGreaterThanOrEqual((lastDown.h.now - downDone) / 1000 - 1);

  // ---- InfluxDB back ----
  expect(resumedAt).not.toBeNull();
  expect(resumeMs).toBeLessThanOrEqual(RETRY_CAP_MS + 2000); // within one backoff interval
  for (const l of drain) {
    expect(l.sink).toMatchObject({ dropped: 0, rejected: 0 });
    expect(l.ms).toBeLessThan(1000);
  }
  expect(resumedLog).toMatchObject({ level: 30, part: 'influxdb' });
  expect(Number(resumedLog!.backlog)).toBeGreaterThanOrEqual(OUTAGE_POINTS);
  expect(after.sink).toMatchObject({ lastError: null, dropped: 0, rejected: 0 });
  expect(alarmsAfter.get('influx-backlog')).toMatchObject({ state: 'returned-unacknowledged', conditionActive: false });
  expect(alarmsAfter.get('system-influx-outbox')).toMatchObject({ state: 'normal', activation: 0 });
  expect(gaugesAfter).toMatchObject({
    greenline_sink_error: 0,
    greenline_sink_alarm: 0,
    greenline_sink_dropped_total: 0,
  });
  expect(gaugesAfter.greenline_sink_backlog).toBeLessThan(20_000);
  expect(gaugesAfter.greenline_sink_oldest_age_seconds).toBeLessThan(5);

  // ---- nothing lost, nothing twice ----
  expect(stopped).toMatchObject({ keptInOutbox: 0 });
  expect(leftInOutbox).toBe(0);
  // nothing was dropped before the outbox up to the end (it would be logged as an error)
  expect(logs.filter((l) => l.part === 'influxdb' && l.level >= 50)).toEqual([]);
  expect(inInflux).toBe(stopped!.sent);
  expect(perTag.size).toBe(DEVICES * 100);
  expect(perTag).toEqual(perTagStored);
}, 240_000);
