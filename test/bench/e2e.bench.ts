/**
 * The whole gateway end to end: startGateway in a child process on a
 * generated plant of 100 simulated Modbus TCP devices × 100 tags (the raw
 * servers of the Modbus benchmark, in this process), polled at 1 s and at
 * 100 ms; every sample goes through the pipeline into the SQLite store, the
 * metrics, the alarms and the live hub.
 *
 *   npx tsx test/bench/e2e.bench.ts [--devices 100] [--seconds 15] [--warmup 5]
 *                                   [--clients 100] [--client-seconds 10] [--only 1s,100ms]
 *
 * Per scenario:
 * - samples/s that reached the store (store.samplesWritten from GET /api/health,
 *   signed in with a cookie), the gateway's CPU and RSS from /proc, poll
 *   overruns, Modbus requests per device cycle against one per tag;
 * - latency from a simulator change to a WebSocket client: one register
 *   (PROBE_TAG) that the value mover leaves alone changes at known instants,
 *   every max(330 ms, poll + 130 ms) plus up to 200 ms; a client subscribed to that tag takes
 *   arrival − change time;
 * - then `--clients` dashboard clients (subscribed to every tag, as the
 *   dashboard's live connection does) for `--client-seconds`: the gateway's
 *   RSS and CPU with them, messages and bytes per second they receive.
 *
 * Prints a table and writes test/bench/results/e2e.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type WebSocket from 'ws';
import { BadModbusServer } from '../integration/peers/bad-modbus-server.js';
import {
  deviceTotals,
  type GatewayHealth,
  health,
  openLive,
  signInCookie,
  startGatewayProcess,
} from './lib/gateway-process.js';
import { BENCH_USER, benchPlant, PROBE_REGISTER, PROBE_TAG } from './lib/gateway-plant.js';
import { benchTags, COILS, holdingRegisters, INPUT_REGISTERS } from './lib/modbus-plant.js';
import { writeResults } from './lib/results.js';
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

async function runScenario(
  s: (typeof SCENARIOS)[number],
  ports: number[],
  probe: Probe,
): Promise<{ row: Row; raw: unknown }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `gl-e2e-${s.name}-`));
  const gw = await startGatewayProcess({
    plant: benchPlant(ports, { storePath: path.join(dir, 'greenline.db'), intervalMs: s.intervalMs }),
    dataDir: dir,
  });
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
    probe.reset();
    probe.measuring = true;
    const h0 = await health(gw.url, cookie);
    usage.start();
    const started = performance.now();
    await sleep(MEASURE_MS);
    const h1 = await health(gw.url, cookie);
    const seconds = (performance.now() - started) / 1000;
    const u = usage.stop();
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
      storedPerSec: (h1.store.samplesWritten - h0.store.samplesWritten) / seconds,
      targetPerSec: (tags * 1000) / s.intervalMs,
      pipelinePerSec: (h1.pipeline.samplesIn - h0.pipeline.samplesIn) / seconds,
      reqPerCycle: deviceCycles > 0 ? (d1.requests - d0.requests) / deviceCycles : Number.NaN,
      naiveReqPerCycle: TAGS_PER_DEVICE,
      overruns: d1.overruns - d0.overruns,
      errors: d1.errors - d0.errors,
      dropped: h1.store.dropped - h0.store.dropped,
      cpuPercent: u.cpuPercent,
      rssPeakMB: u.rssPeakMB,
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
    return { row, raw: { row, usage: u, clientsUsage: cu, latencies, health: { before: h0, after: h1 } } };
  } finally {
    for (const c of clients) c.terminate();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const scenarios = ONLY.length > 0 ? SCENARIOS.filter((s) => ONLY.includes(s.name)) : SCENARIOS;
  console.log(
    `End-to-end benchmark: the gateway in a child process, ${DEVICES} Modbus TCP devices × ${TAGS_PER_DEVICE} tags, ` +
      `${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s, then ${CLIENTS} dashboard clients for ${CLIENT_MS / 1000} s`,
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
  const mover = setInterval(() => {
    step++;
    servers.forEach((s, i) => {
      s.set(0, holdingRegisters(step, i));
      s.coils[step % COILS] = s.coils[step % COILS] ? 0 : 1;
    });
    servers[0]!.holdingRegisters[PROBE_REGISTER] = probe.current;
  }, 100);
  probe.start();
  const ports = servers.map((s) => s.port);

  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    for (const s of scenarios) {
      process.stdout.write(`  gateway-${s.name} … `);
      const r = await runScenario(s, ports, probe);
      rows.push(r.row);
      raw[s.name] = r.raw;
      console.log(
        `${Math.round(r.row.storedPerSec).toLocaleString('en-US')} samples/s stored, ${r.row.cpuPercent.toFixed(0)} % CPU`,
      );
    }
  } finally {
    clearInterval(mover);
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
    { key: 'p50Ms', title: 'p50 ms', digits: 0 },
    { key: 'p99Ms', title: 'p99 ms', digits: 0 },
    { key: 'maxMs', title: 'max ms', digits: 0 },
    { key: 'probes' },
    { key: 'missed' },
  ]);
  console.log('p50/p99/max: a register change in the simulator → the value at a WebSocket client (ms)');
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
