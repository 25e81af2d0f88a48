/**
 * The OPC UA driver under load: a node-opcua server with 10 000 variables
 * that change every second (a new value at each of the server's 1 s
 * samples), and the driver subscribed to all of them at 1 s (sampling and
 * publishing), by node id and by browse path.
 *
 *   npx tsx test/bench/opcua.bench.ts [--tags 10000] [--seconds 20] [--warmup 3] [--only node-ids,browse-paths]
 *
 * The server runs in this process; the driver runs in a child process (this
 * file again, with `--child`), so the gateway's CPU and RSS are measured on
 * their own, from /proc. Reported per scenario: time until every tag had a
 * good value (connect, resolve, subscribe, first publish), samples/s and how
 * many of them carried a new value, CPU % (of one core) and RSS of the
 * driver's process, the server's CPU for reference, and the driver's service
 * call round trips.
 *
 * Prints a table and writes test/bench/results/opcua.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeResults } from './lib/results.js';
import { UsageSampler, type UsageReport } from './lib/sampler.js';
import { type Cell, printTable } from './lib/table.js';

const here = fileURLToPath(import.meta.url);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

interface ChildConfig {
  readonly endpointUrl: string;
  readonly ns: number;
  readonly tags: number;
  readonly groupSize: number;
  readonly byPath: boolean;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly dataDir: string;
}

interface ChildResult {
  readonly type: 'result';
  readonly connectedMs: number | null;
  readonly subscribedMs: number;
  readonly measuredMs: number;
  readonly samples: number;
  readonly fresh: number;
  readonly bad: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly eventLoopUtilization: number;
  /** the child's own view of its CPU over the window (process.cpuUsage), % of one core */
  readonly cpuPercentSelf: number;
}

type ToParent =
  | { type: 'subscribed'; ms: number }
  | { type: 'measuring' }
  | ChildResult
  | { type: 'error'; message: string };

// ---------------------------------------------------------------- child: the driver

async function runChild(config: ChildConfig): Promise<void> {
  const send = (m: ToParent) => process.send?.(m);
  const { OpcuaDevice } = await import('../../config/schema.js');
  const { createDriver } = await import('../../protocols/index.js');
  const { histogramQuantile } = await import('../../protocols/health.js');
  const tags = Array.from({ length: config.tags }, (_, i) => {
    const group = Math.floor(i / config.groupSize);
    return config.byPath
      ? { id: `v${i}`, browsePath: `/Objects/${config.ns}:Bench/${config.ns}:G${group}/${config.ns}:V${i}` }
      : { id: `v${i}`, nodeId: `ns=${config.ns};s=V${i}` };
  });
  const device = OpcuaDevice.parse({
    protocol: 'opcua',
    id: 'bench',
    endpointUrl: config.endpointUrl,
    samplingIntervalMs: 1000,
    publishingIntervalMs: 1000,
    timeoutMs: 30_000,
    tags,
  });
  const index = new Map(tags.map((t, i) => [t.id, i]));
  const lastTs = new Float64Array(config.tags);
  const seen = new Uint8Array(config.tags);
  let unseen = config.tags;
  let counting = false;
  let samples = 0;
  let fresh = 0;
  let bad = 0;
  let onAllSeen: (() => void) | null = null;
  const quiet = () => {};
  const driver = createDriver(
    device,
    {
      now: () => Date.now(),
      log: { debug: quiet, info: quiet, warn: quiet, error: (o, m) => console.error(m, o) },
      emit: (batch) => {
        for (const s of batch) {
          const i = index.get(s.tagId)!;
          if (s.quality !== 'good') {
            if (counting) bad++;
            continue;
          }
          if (!seen[i]) {
            seen[i] = 1;
            if (--unseen === 0) onAllSeen?.();
          }
          if (counting) {
            samples++;
            if (s.ts > lastTs[i]!) fresh++;
          }
          lastTs[i] = s.ts;
        }
      },
    },
    { dataDir: config.dataDir },
  );

  const started = performance.now();
  let connectedMs: number | null = null;
  const watch = setInterval(() => {
    if (connectedMs === null && driver.status().state === 'connected') connectedMs = performance.now() - started;
  }, 10);
  const allSeen = new Promise<void>((resolve) => {
    onAllSeen = resolve;
  });
  await driver.start();
  await allSeen;
  const subscribedMs = performance.now() - started;
  clearInterval(watch);
  send({ type: 'subscribed', ms: subscribedMs });

  await new Promise((r) => setTimeout(r, config.warmupMs));
  const before = driver.status().counters;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  counting = true;
  const t0 = performance.now();
  send({ type: 'measuring' });
  await new Promise((r) => setTimeout(r, config.measureMs));
  counting = false;
  const measuredMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  const status = driver.status();
  const latency = status.latencyMs;
  send({
    type: 'result',
    connectedMs,
    subscribedMs,
    measuredMs,
    samples,
    fresh,
    bad,
    requests: status.counters.requests,
    errors: status.counters.errors - before.errors,
    p50Ms: latency ? histogramQuantile(latency, 0.5) : null,
    p99Ms: latency ? histogramQuantile(latency, 0.99) : null,
    eventLoopUtilization: elu.utilization,
    cpuPercentSelf: (100 * (cpu.user + cpu.system)) / 1000 / measuredMs,
  });
  await driver.stop();
}

// ---------------------------------------------------------------- parent: the server and the report

const TAGS = Number(arg('tags', '10000'));
const MEASURE_MS = Number(arg('seconds', '20')) * 1000;
const WARMUP_MS = Number(arg('warmup', '3')) * 1000;
const GROUP = 100;
const ONLY = arg('only', '')
  .split(',')
  .filter((s) => s !== '');

interface Scenario {
  readonly name: string;
  readonly byPath: boolean;
}
const SCENARIOS: Scenario[] = [
  { name: 'node-ids', byPath: false },
  { name: 'browse-paths', byPath: true },
];

/** Targets on the reference machine (2 shared cores): checked and printed, never thrown. */
const TARGETS = { minSamplesPerSecond: 0.95 * TAGS, maxCpuPercent: 50, maxRssMB: 300, maxSubscribeSeconds: 15 };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      server.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function startServer(dataDir: string) {
  const { DataType, nodesets, OPCUACertificateManager, OPCUAServer, Variant } = await import('node-opcua');
  const port = await freePort();
  const server = new OPCUAServer({
    port,
    host: '127.0.0.1',
    hostname: '127.0.0.1',
    nodeset_filename: [nodesets.standard],
    allowAnonymous: true,
    maxConnectionsPerEndpoint: 10,
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(dataDir, 'server-pki'),
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const bench = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Bench' });
  // Each read gives a new value, so each 1 s sample the server takes is a change: every variable
  // changes once a second as the subscriber sees it. (Values that change on a wall-clock timer at
  // the sampling rate alias: a sample that lands just before the change, the next just after the
  // following one, and a change is never seen; that would measure the phase, not the driver.)
  const reads = new Float64Array(TAGS);
  for (let g = 0; g * GROUP < TAGS; g++) {
    const folder = ns.addFolder(bench, { browseName: `G${g}` });
    for (let i = g * GROUP; i < Math.min(TAGS, (g + 1) * GROUP); i++) {
      ns.addVariable({
        componentOf: folder,
        browseName: `V${i}`,
        nodeId: `s=V${i}`,
        dataType: 'Double',
        minimumSamplingInterval: 100,
        value: { get: () => new Variant({ dataType: DataType.Double, value: ++reads[i]! }) },
      });
    }
  }
  await server.start();
  return {
    endpointUrl: `opc.tcp://127.0.0.1:${port}`,
    ns: ns.index,
    async stop() {
      await server.shutdown(0);
    },
  };
}

interface Row {
  scenario: Scenario;
  result: ChildResult;
  gateway: UsageReport;
  server: UsageReport;
}

async function runScenario(s: Scenario, endpointUrl: string, ns: number, dataDir: string): Promise<Row> {
  const config: ChildConfig = {
    endpointUrl,
    ns,
    tags: TAGS,
    groupSize: GROUP,
    byPath: s.byPath,
    warmupMs: WARMUP_MS,
    measureMs: MEASURE_MS,
    dataDir: path.join(dataDir, 'gateway'),
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', here, '--child', JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const gateway = new UsageSampler(child.pid!);
  const server = new UsageSampler('self');
  const deadline = setTimeout(() => child.kill('SIGKILL'), 120_000 + MEASURE_MS);
  try {
    const result = await new Promise<ChildResult>((resolve, reject) => {
      child.on('message', (m: ToParent) => {
        if (m.type === 'subscribed')
          process.stdout.write(`  ${s.name}: all ${TAGS} tags live after ${(m.ms / 1000).toFixed(1)} s\n`);
        if (m.type === 'measuring') {
          gateway.start();
          server.start();
        }
        if (m.type === 'error') reject(new Error(m.message));
        if (m.type === 'result') resolve(m);
      });
      child.on('exit', (code) => reject(new Error(`the driver process exited (${code}) before reporting`)));
    });
    return { scenario: s, result, gateway: gateway.stop(), server: server.stop() };
  } finally {
    clearTimeout(deadline);
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve();
      else {
        child.once('exit', () => resolve());
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }
    });
  }
}

async function runParent(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'greenline-opcua-bench-'));
  const scenarios = SCENARIOS.filter((s) => ONLY.length === 0 || ONLY.includes(s.name));
  console.log(
    `OPC UA: ${TAGS} variables changing every second, subscribed at 1 s; warm-up ${WARMUP_MS / 1000} s, measured ${MEASURE_MS / 1000} s`,
  );
  const server = await startServer(dataDir);
  const rows: Row[] = [];
  try {
    for (const s of scenarios) rows.push(await runScenario(s, server.endpointUrl, server.ns, dataDir));
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const table: Record<string, Cell>[] = rows.map(({ scenario, result, gateway, server: srv }) => {
    const perSecond = result.samples / (result.measuredMs / 1000);
    return {
      scenario: scenario.name,
      tags: TAGS,
      'live after s': result.subscribedMs / 1000,
      'samples/s': Math.round(perSecond),
      'new values %': result.samples ? (100 * result.fresh) / result.samples : null,
      'gateway CPU %': gateway.cpuPercent,
      'gateway RSS MB': gateway.rssPeakMB,
      'event loop %': 100 * result.eventLoopUtilization,
      'server CPU %': srv.cpuPercent,
      'call p50 ms': result.p50Ms,
      'call p99 ms': result.p99Ms,
      bad: result.bad,
    };
  });
  console.log('');
  printTable(table, [
    { key: 'scenario' },
    { key: 'tags' },
    { key: 'live after s', digits: 1 },
    { key: 'samples/s' },
    { key: 'new values %', digits: 1 },
    { key: 'gateway CPU %', digits: 1 },
    { key: 'gateway RSS MB', digits: 0 },
    { key: 'event loop %', digits: 1 },
    { key: 'server CPU %', digits: 1 },
    { key: 'call p50 ms', digits: 1 },
    { key: 'call p99 ms', digits: 1 },
    { key: 'bad' },
  ]);
  const checks: string[] = [];
  for (const { scenario, result, gateway } of rows) {
    const perSecond = result.samples / (result.measuredMs / 1000);
    const check = (ok: boolean, what: string) => checks.push(`${ok ? 'ok  ' : 'MISS'} ${scenario.name}: ${what}`);
    check(perSecond >= TARGETS.minSamplesPerSecond, `samples/s ≥ ${TARGETS.minSamplesPerSecond}`);
    check(gateway.cpuPercent <= TARGETS.maxCpuPercent, `gateway CPU ≤ ${TARGETS.maxCpuPercent} % of a core`);
    check(gateway.rssPeakMB <= TARGETS.maxRssMB, `gateway RSS ≤ ${TARGETS.maxRssMB} MB`);
    check(
      result.subscribedMs / 1000 <= TARGETS.maxSubscribeSeconds,
      `all tags live ≤ ${TARGETS.maxSubscribeSeconds} s`,
    );
    check(result.bad === 0, 'no bad samples');
  }
  console.log(`\n${checks.join('\n')}`);
  const file = writeResults('opcua', {
    tags: TAGS,
    samplingIntervalMs: 1000,
    publishingIntervalMs: 1000,
    warmupMs: WARMUP_MS,
    measureMs: MEASURE_MS,
    targets: TARGETS,
    table,
    scenarios: rows.map(({ scenario, result, gateway, server: srv }) => ({
      name: scenario.name,
      byBrowsePath: scenario.byPath,
      result,
      samplesPerSecond: result.samples / (result.measuredMs / 1000),
      gateway,
      server: srv,
    })),
    checks,
  });
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

if (process.argv.includes('--child')) {
  const config = JSON.parse(process.argv[process.argv.indexOf('--child') + 1]!) as ChildConfig;
  runChild(config).then(
    () => process.exit(0),
    (err: unknown) => {
      process.send?.({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    },
  );
} else {
  runParent().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
