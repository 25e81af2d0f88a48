/**
 * The whole gateway end to end: startGateway, compiled (dist/, built first
 * when older than its sources) and run by plain node as deployed, in a child
 * process on a generated plant of 100 simulated Modbus TCP devices × 100 tags (the raw
 * servers of the Modbus benchmark, in this process), polled at 1 s and at
 * 100 ms; every sample goes through the pipeline into the SQLite store, the
 * metrics, the alarms and the live hub.
 *
 *   npx tsx test/bench/e2e.bench.ts [--devices 100] [--seconds 15] [--warmup 5]
 *                                   [--clients 100] [--client-seconds 10] [--only 1s,100ms]
 *                                   [--values per-read|mover] [--history-minutes 0] [--profile]
 *
 * Values: the pipeline reports on change, so only values that changed since
 * the last poll reach the store. `per-read` (default) gives every tag a new
 * value at every read (the machine-state coil still changes once a second),
 * so the store receives every polled sample: the load the target names.
 * `mover` is the earlier workload: holding registers and one coil in ten
 * move every 100 ms, input registers never, so about a fifth of the polled
 * samples are unchanged and never stored.
 *
 * Per scenario:
 * - samples/s that reached the store (store.samplesWritten from GET /api/health,
 *   signed in with a cookie, read every 500 ms: see StoredRate), the gateway's
 *   CPU and RSS from /proc, poll overruns, Modbus requests per device cycle
 *   against one per tag;
 * - latency from a simulator change to a WebSocket client: one register
 *   (PROBE_TAG) that the moving values leave alone changes at known instants,
 *   every max(330 ms, poll + 130 ms) plus up to 200 ms; a client subscribed to that tag takes
 *   arrival − change time;
 * - then `--clients` dashboard clients (subscribed to every tag, as the
 *   dashboard's live connection does) for `--client-seconds`: the gateway's
 *   RSS and CPU with them, messages and bytes per second they receive.
 *
 * History: a store that has run for a while holds more pages than its cache,
 * and its indexes are deeper than a new one's.
 * `--history-minutes N` starts the gateway on a store that already holds N
 * minutes of every tag (one sample per tag and minute, and its rollup), as
 * after N minutes of running.
 *
 * The CPU of this process (the simulated devices and the probe client) is
 * shown beside the gateway's, so a saturated simulator is not mistaken for a
 * slow gateway. With --profile the gateway writes V8 CPU profiles (one per
 * thread) to test/bench/results/profiles/e2e-<scenario>/; profile-summary.ts
 * reads them.
 *
 * Prints a table and writes test/bench/results/e2e.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type WebSocket from 'ws';
import { SqliteStore, type StoredSample } from '../../gateway/store/index.js';
import { BadModbusServer } from '../integration/peers/bad-modbus-server.js';
import {
  deviceTotals,
  type GatewayHealth,
  type GatewayMemory,
  health,
  openLive,
  signInCookie,
  startGatewayProcess,
} from './lib/gateway-process.js';
import { BENCH_USER, benchPlant, PROBE_REGISTER, PROBE_TAG } from './lib/gateway-plant.js';
import { benchTags, COILS, holdingRegisters, INPUT_REGISTERS } from './lib/modbus-plant.js';
import { RESULTS_DIR, writeResults } from './lib/results.js';
import { UsageSampler } from './lib/sampler.js';
import { printTable } from './lib/table.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const DEVICES = Number(arg('devices', '100'));
const MEASURE_MS = Number(arg('seconds', '15')) * 1000;
const WARMUP_MS = Number(arg('warmup', '5')) * 1000;
const CLIENTS = Number(arg('clients', '100'));
const CLIENT_MS = Number(arg('client-seconds', '10')) * 1000;
const PROFILE = process.argv.includes('--profile');
const VALUES = arg('values', 'per-read');
const HISTORY_MINUTES = Number(arg('history-minutes', '0'));
if (VALUES !== 'per-read' && VALUES !== 'mover') throw new Error(`--values is per-read or mover, not ${VALUES}`);
const ONLY = arg('only', '')
  .split(',')
  .filter((s) => s !== '');

const SCENARIOS = [
  { name: '1s', intervalMs: 1000 },
  { name: '100ms', intervalMs: 100 },
] as const;

const TAGS_PER_DEVICE = benchTags(0).length;

interface Row {
  scenario: string;
  pollMs: number;
  tags: number;
  storedPerSec: number;
  targetPerSec: number;
  pipelinePerSec: number;
  reqPerCycle: number;
  naiveReqPerCycle: number;
  overruns: number;
  errors: number;
  dropped: number;
  cpuPercent: number;
  rssPeakMB: number;
  /** this process: the simulated devices and their moving values, the probe client */
  benchCpuPercent: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  probes: number;
  missed: number;
  clients: number;
  clientsRssPeakMB: number;
  clientsCpuPercent: number;
  clientMsgsPerSec: number;
  clientMBPerSec: number;
  skippedSlow: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * The rate at which rows reach the store, as the slope of a least-squares
 * line through store.samplesWritten read every `everyMs` over the window
 * (against the gateway's own clock). The count moves a committed batch at a
 * time, a batch per batchMaxDelayMs plus however long its transaction took,
 * so the difference of two readings 15 s apart is off by up to a batch
 * either way (±1.5 % at 100 000 samples/s); the line through thirty
 * readings is not.
 */
class StoredRate {
  private readonly points: { t: number; w: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly cookie: string,
    private readonly everyMs = 500,
  ) {}

  add(h: GatewayHealth): void {
    this.points.push({ t: h.now, w: h.store.samplesWritten });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.reading = health(this.url, this.cookie).then(
        (h) => this.add(h),
        () => undefined,
      );
    }, this.everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.reading;
  }

  /** rows per second; NaN with fewer than two readings */
  perSecond(): number {
    const n = this.points.length;
    if (n < 2) return Number.NaN;
    const mt = this.points.reduce((a, p) => a + p.t, 0) / n;
    const mw = this.points.reduce((a, p) => a + p.w, 0) / n;
    let num = 0;
    let den = 0;
    for (const p of this.points) {
      num += (p.t - mt) * (p.w - mw);
      den += (p.t - mt) ** 2;
    }
    return den > 0 ? (1000 * num) / den : Number.NaN;
  }
}

/** changes the probe register at known instants; the arrival of each value at a client is matched to its change */
class Probe {
  private value = 1;
  private timer: NodeJS.Timeout | null = null;
  private readonly changedAt = new Map<number, number>();
  private readonly seen = new Set<number>();
  latencies: number[] = [];
  changes = 0;
  measuring = false;
  /** the poll interval of the scenario running */
  pollMs = 100;

  constructor(private readonly server: BadModbusServer) {}

  start(): void {
    const tick = () => {
      this.value = this.value >= 60_000 ? 1 : this.value + 1;
      this.server.holdingRegisters[PROBE_REGISTER] = this.value;
      this.changedAt.set(this.value, Date.now());
      if (this.measuring) this.changes++;
      // off the poll grid, and never two changes within one poll: at least 330 ms and one poll + 130 ms apart
      this.timer = setTimeout(tick, Math.max(330, this.pollMs + 130) + Math.floor(Math.random() * 200));
    };
    tick();
  }

  get current(): number {
    return this.value;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** a value of the probe tag arrived at a client */
  arrived(value: unknown, at: number): void {
    if (typeof value !== 'number' || this.seen.has(value)) return;
    const changed = this.changedAt.get(value);
    if (changed === undefined) return;
    this.seen.add(value);
    if (this.measuring) this.latencies.push(at - changed);
  }

  reset(): void {
    this.latencies = [];
    this.changes = 0;
  }
}

/** a store that has run for `minutes`: one sample per tag and minute before now, and the rollups the store made of them */
async function storeWithHistory(file: string, devices: number, minutes: number): Promise<void> {
  const quiet = { debug() {}, info() {}, warn() {}, error: (o: object, m?: string) => console.error(m, o) };
  const store = new SqliteStore({
    path: file,
    rawRetentionDays: 30,
    rollupRetentionDays: 730,
    batchMaxRows: 100_000,
    batchMaxDelayMs: 60_000,
    maxPendingRows: 10_000_000,
    pruneFirstDelayMs: 3_600_000,
    log: quiet,
  });
  await store.start();
  const first = Math.floor(Date.now() / 60_000) * 60_000 - minutes * 60_000;
  for (let d = 0; d < devices; d++) {
    const rows: StoredSample[] = [];
    for (const t of benchTags(d)) {
      for (let m = 0; m < minutes; m++) {
        const ts = first + m * 60_000 + 5;
        rows.push({ tagId: t.id, ts, value: t.type === 'bool' ? m % 2 === 0 : 100 + m, quality: 'good' });
      }
    }
    store.writer.write(rows);
    while (store.writer.pendingRows > 0) {
      if (!store.writer.flushOne()) throw new Error(`writing the history failed: ${store.stats().lastError}`);
    }
  }
  await store.stop();
}

async function runScenario(
  s: (typeof SCENARIOS)[number],
  ports: number[],
  probe: Probe,
): Promise<{ row: Row; raw: unknown; memory: GatewayMemory }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `gl-e2e-${s.name}-`));
  if (HISTORY_MINUTES > 0) await storeWithHistory(path.join(dir, 'greenline.db'), ports.length, HISTORY_MINUTES);
  const gw = await startGatewayProcess(
    {
      plant: benchPlant(ports, { storePath: path.join(dir, 'greenline.db'), intervalMs: s.intervalMs }),
      dataDir: dir,
    },
    {
      // the compiled gateway, as deployed
      from: 'build',
      // one file per thread (main, store write worker, checkpoint worker): the default names keep them apart
      ...(PROFILE
        ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(RESULTS_DIR, 'profiles', `e2e-${s.name}`)}`] }
        : {}),
    },
  );
  const clients: WebSocket[] = [];
  probe.pollMs = s.intervalMs;
  try {
    const cookie = await signInCookie(gw.url, BENCH_USER.username, BENCH_USER.password);
    const ws = await openLive(gw.url, cookie);
    clients.push(ws);
    ws.on('message', (data) => {
      const at = Date.now();
      const msg = JSON.parse(data.toString()) as { type: string; values?: { tagId: string; value: unknown }[] };
      if (msg.type !== 'delta' && msg.type !== 'snapshot') return;
      for (const v of msg.values ?? []) if (v.tagId === PROBE_TAG) probe.arrived(v.value, at);
    });
    ws.send(JSON.stringify({ type: 'subscribe', tags: [PROBE_TAG] }));

    await sleep(WARMUP_MS);
    process.stdout.write('measuring … ');
    const usage = new UsageSampler(gw.pid);
    const benchUsage = new UsageSampler('self');
    probe.reset();
    probe.measuring = true;
    const stored = new StoredRate(gw.url, cookie);
    const h0 = await health(gw.url, cookie);
    stored.add(h0);
    usage.start();
    benchUsage.start();
    stored.start();
    await sleep(MEASURE_MS);
    await stored.stop();
    const h1 = await health(gw.url, cookie);
    stored.add(h1);
    // the gateway's own clock at the two reports
    const seconds = (h1.now - h0.now) / 1000;
    const u = usage.stop();
    const bu = benchUsage.stop();
    const memory = await gw.memory();
    probe.measuring = false;
    const probesChanged = probe.changes;
    const latencies = [...probe.latencies].sort((a, b) => a - b);

    // the dashboard clients: every tag, as dashboard/src/live-connection.ts subscribes
    let received = 0;
    let bytes = 0;
    let measuringClients = false;
    const clientUsage = new UsageSampler(gw.pid);
    process.stdout.write('clients … ');
    const opened = await Promise.all(Array.from({ length: CLIENTS }, () => openLive(gw.url, cookie)));
    for (const c of opened) {
      clients.push(c);
      c.on('message', (data: Buffer) => {
        if (!measuringClients) return;
        received++;
        bytes += data.length;
      });
      c.send(JSON.stringify({ type: 'subscribe', tags: '*' }));
      c.send(JSON.stringify({ type: 'metrics', window: 'shift' }));
    }
    await sleep(2000);
    const hc0 = await health(gw.url, cookie);
    measuringClients = true;
    clientUsage.start();
    const cStarted = performance.now();
    await sleep(CLIENT_MS);
    measuringClients = false;
    const cSeconds = (performance.now() - cStarted) / 1000;
    const cu = clientUsage.stop();
    const hc1 = await health(gw.url, cookie);

    const d0 = deviceTotals(h0);
    const d1 = deviceTotals(h1);
    const deviceCycles = (d1.samples - d0.samples) / TAGS_PER_DEVICE;
    const tags = ports.length * TAGS_PER_DEVICE;
    const row: Row = {
      scenario: `gateway-${s.name}`,
      pollMs: s.intervalMs,
      tags,
      storedPerSec: stored.perSecond(),
      targetPerSec: (tags * 1000) / s.intervalMs,
      pipelinePerSec: (h1.pipeline.samplesIn - h0.pipeline.samplesIn) / seconds,
      reqPerCycle: deviceCycles > 0 ? (d1.requests - d0.requests) / deviceCycles : Number.NaN,
      naiveReqPerCycle: TAGS_PER_DEVICE,
      overruns: d1.overruns - d0.overruns,
      errors: d1.errors - d0.errors,
      dropped: h1.store.dropped - h0.store.dropped,
      cpuPercent: u.cpuPercent,
      rssPeakMB: u.rssPeakMB,
      benchCpuPercent: bu.cpuPercent,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies.at(-1) ?? null,
      probes: latencies.length,
      missed: Math.max(0, probesChanged - latencies.length),
      clients: (hc1 as GatewayHealth).liveHub?.clients ?? clients.length,
      clientsRssPeakMB: cu.rssPeakMB,
      clientsCpuPercent: cu.cpuPercent,
      clientMsgsPerSec: received / cSeconds,
      clientMBPerSec: bytes / cSeconds / 2 ** 20,
      skippedSlow: (hc1.liveHub?.skippedSlow ?? 0) - (hc0.liveHub?.skippedSlow ?? 0),
    };
    return {
      row,
      memory,
      raw: {
        row,
        // the difference of the two readings alone, off by up to a batch
        storedPerSecFromEnds: (h1.store.samplesWritten - h0.store.samplesWritten) / seconds,
        usage: u,
        benchUsage: bu,
        memory,
        clientsUsage: cu,
        latencies,
        health: { before: h0, after: h1 },
      },
    };
  } finally {
    for (const c of clients) c.terminate();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const scenarios = ONLY.length > 0 ? SCENARIOS.filter((s) => ONLY.includes(s.name)) : SCENARIOS;
  console.log(
    `End-to-end benchmark: the gateway in a child process, ${DEVICES} Modbus TCP devices × ${TAGS_PER_DEVICE} tags ` +
      `(values: ${VALUES}${HISTORY_MINUTES > 0 ? `, a store with ${HISTORY_MINUTES} min of history` : ''}), ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s, then ${CLIENTS} dashboard clients for ${CLIENT_MS / 1000} s`,
  );
  const servers = await Promise.all(
    Array.from({ length: DEVICES }, (_, i) =>
      BadModbusServer.start({
        holdingRegisters: holdingRegisters(0, i),
        inputRegisters: Array.from({ length: INPUT_REGISTERS }, (_, k) => 1000 + k),
        coils: COILS,
      }),
    ),
  );
  const probe = new Probe(servers[0]!);
  let step = 0;
  let mover: NodeJS.Timeout | undefined;
  if (VALUES === 'mover') {
    mover = setInterval(() => {
      step++;
      servers.forEach((s, i) => {
        s.set(0, holdingRegisters(step, i));
        s.coils[step % COILS] = s.coils[step % COILS] ? 0 : 1;
      });
      servers[0]!.holdingRegisters[PROBE_REGISTER] = probe.current;
    }, 100);
  } else {
    servers.forEach((s, i) => {
      let reads = 0;
      s.onRead = (fc, start, count) => {
        reads++;
        if (fc === 3) {
          s.set(start, holdingRegisters(reads, i).slice(start, start + count));
          if (i === 0) s.holdingRegisters[PROBE_REGISTER] = probe.current;
        } else if (fc === 4) {
          for (let k = start; k < start + count; k++) s.inputRegisters[k] = (1000 + k + reads) & 0xffff;
        } else if (fc === 1) {
          for (let k = start; k < start + count; k++) s.coils[k] = s.coils[k] ? 0 : 1;
          // d0.t90, the machine's state: running and idle a second each, as a machine would, not every poll
          if (i === 0 && start === 0) s.coils[0] = Math.floor(Date.now() / 1000) % 2;
        }
      };
    });
  }
  probe.start();
  const ports = servers.map((s) => s.port);

  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const memories: string[] = [];
  try {
    for (const s of scenarios) {
      process.stdout.write(`  gateway-${s.name} … `);
      const r = await runScenario(s, ports, probe);
      rows.push(r.row);
      raw[s.name] = r.raw;
      const m = r.memory;
      memories.push(
        `gateway-${s.name}: rss ${m.rssMB} MB = V8 heap ${m.heapTotalMB} (in use ${m.heapUsedMB}: old ${m.spaces.old_space ?? 0}, ` +
          `new ${m.spaces.new_space ?? 0}, code ${m.spaces.code_space ?? 0}), external ${m.externalMB} ` +
          `(array buffers ${m.arrayBuffersMB}), the rest native (worker threads, SQLite page caches, libuv, code); ` +
          `since the start ${m.gc.minor} young collections (${Math.round(m.gc.minorMs)} ms) and ` +
          `${m.gc.major} full ones (${Math.round(m.gc.majorMs)} ms)`,
      );
      console.log(
        `${Math.round(r.row.storedPerSec).toLocaleString('en-US')} samples/s stored, ${r.row.cpuPercent.toFixed(0)} % CPU`,
      );
    }
  } finally {
    if (mover) clearInterval(mover);
    probe.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }

  console.log('');
  printTable(rows, [
    { key: 'scenario' },
    { key: 'pollMs', title: 'poll ms' },
    { key: 'storedPerSec', title: 'stored/s', digits: 0 },
    { key: 'targetPerSec', title: 'target/s', digits: 0 },
    { key: 'pipelinePerSec', title: 'pipeline/s', digits: 0 },
    { key: 'reqPerCycle', title: 'req/cycle/dev', digits: 1 },
    { key: 'naiveReqPerCycle', title: 'one-per-tag', digits: 0 },
    { key: 'overruns' },
    { key: 'errors' },
    { key: 'dropped' },
    { key: 'cpuPercent', title: 'CPU % (1 core)', digits: 1 },
    { key: 'rssPeakMB', title: 'RSS peak MB', digits: 0 },
    { key: 'benchCpuPercent', title: 'bench CPU %', digits: 1 },
    { key: 'p50Ms', title: 'p50 ms', digits: 0 },
    { key: 'p99Ms', title: 'p99 ms', digits: 0 },
    { key: 'maxMs', title: 'max ms', digits: 0 },
    { key: 'probes' },
    { key: 'missed' },
  ]);
  console.log('p50/p99/max: a register change in the simulator → the value at a WebSocket client (ms)');
  console.log('bench CPU %: this process (simulated devices and their moving values, probe client), of one core');
  console.log('memory of the gateway process at the end of the window, MB:');
  for (const line of memories) console.log(`  ${line}`);
  console.log('');
  printTable(rows, [
    { key: 'scenario' },
    { key: 'clients', title: 'ws clients' },
    { key: 'clientsRssPeakMB', title: 'RSS peak MB', digits: 0 },
    { key: 'clientsCpuPercent', title: 'CPU %', digits: 1 },
    { key: 'clientMsgsPerSec', title: 'msgs/s (all)', digits: 0 },
    { key: 'clientMBPerSec', title: 'MB/s (all)', digits: 1 },
    { key: 'skippedSlow', title: 'skipped slow' },
  ]);
  console.log('dashboard clients subscribed to every tag and to the shift metrics, as the dashboard does');

  const checks: Array<{ target: string; ok: boolean; actual: string }> = [];
  const fast = rows.find((r) => r.pollMs === 100);
  if (fast) {
    checks.push({
      target: '100 000 samples/s into the store (≥ 99 %)',
      ok: fast.storedPerSec >= 0.99 * 100_000,
      actual: `${Math.round(fast.storedPerSec).toLocaleString('en-US')}/s`,
    });
    checks.push({ target: '… at ≤ 1 core', ok: fast.cpuPercent <= 100, actual: `${fast.cpuPercent.toFixed(1)} %` });
    checks.push({ target: '… at ≤ 300 MB RSS', ok: fast.rssPeakMB <= 300, actual: `${fast.rssPeakMB.toFixed(0)} MB` });
  }
  for (const r of rows) {
    const bound = 50 + r.pollMs;
    checks.push({
      target: `${r.scenario}: p99 change → client ≤ ${bound} ms (50 ms + poll)`,
      ok: r.p99Ms !== null && r.p99Ms <= bound,
      actual: r.p99Ms === null ? 'no probe arrived' : `${r.p99Ms} ms`,
    });
  }
  const slow = rows.find((r) => r.pollMs === 1000);
  if (slow) {
    checks.push({
      target: 'gateway-1s (10 000 samples/s): zero overruns',
      ok: slow.overruns === 0,
      actual: String(slow.overruns),
    });
  }
  console.log('');
  for (const c of checks) console.log(`${c.ok ? 'PASS' : 'MISS'}  ${c.target}: ${c.actual}`);

  const file = writeResults('e2e', {
    devices: DEVICES,
    values: VALUES,
    historyMinutes: HISTORY_MINUTES,
    tagsPerDevice: TAGS_PER_DEVICE,
    measureMs: MEASURE_MS,
    warmupMs: WARMUP_MS,
    dashboardClients: CLIENTS,
    clientMs: CLIENT_MS,
    rows,
    checks,
    raw,
  });
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
