/**
 * The Modbus drivers under load: 100 simulated Modbus TCP devices × 100 tags
 * on loopback, polled at 1 s and at 100 ms, by the gateway's drivers and by a
 * naive per-tag poller on modbus-serial.
 *
 *   npx tsx test/bench/modbus.bench.ts [--devices 100] [--seconds 15] [--warmup 3]
 *                                      [--only gateway-100ms,naive-1s] [--profile]
 *
 * The devices run in this process (a raw `net` Modbus server each, values
 * moving every 100 ms); the poller under test runs in a child process
 * (test/bench/lib/modbus-runner.ts), so its CPU and RSS are measured on their
 * own, from /proc. With --profile the child writes a V8 CPU profile to
 * test/bench/results/profiles/.
 *
 * Prints a table and writes test/bench/results/modbus.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadModbusServer } from '../integration/peers/bad-modbus-server.js';
import { benchTags, COILS, HOLDING_REGISTERS, holdingRegisters, INPUT_REGISTERS } from './lib/modbus-plant.js';
import type { RunnerConfig, RunnerResult } from './lib/modbus-runner.js';
import { RESULTS_DIR, writeResults } from './lib/results.js';
import { UsageSampler, type UsageReport } from './lib/sampler.js';
import { printTable } from './lib/table.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNNER = path.join(here, 'lib', 'modbus-runner.ts');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const DEVICES = Number(arg('devices', '100'));
const MEASURE_MS = Number(arg('seconds', '15')) * 1000;
const WARMUP_MS = Number(arg('warmup', '3')) * 1000;
const PROFILE = process.argv.includes('--profile');
const ONLY = arg('only', '')
  .split(',')
  .filter((s) => s !== '');

interface Scenario {
  readonly name: string;
  readonly mode: RunnerConfig['mode'];
  readonly intervalMs: number;
  readonly pipeline?: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: 'gateway-1s', mode: 'gateway', intervalMs: 1000 },
  { name: 'gateway-100ms', mode: 'gateway', intervalMs: 100 },
  { name: 'gateway+pipeline-100ms', mode: 'gateway', intervalMs: 100, pipeline: true },
  { name: 'naive-1s', mode: 'naive', intervalMs: 1000 },
  { name: 'naive-100ms', mode: 'naive', intervalMs: 100 },
];

/** Targets on the reference machine (2 cores): checked and printed, never thrown. */
const TARGETS = {
  'gateway-100ms': { maxCpuPercent: 100, maxRssMB: 300 },
  'gateway-1s': { maxOverruns: 0 },
} as const;

interface Row {
  scenario: string;
  pollMs: number;
  tags: number;
  samplesPerSec: number;
  targetPerSec: number;
  requestsPerCycle: number;
  naiveRequestsPerCycle: number;
  overruns: number;
  errors: number;
  cpuPercent: number;
  rssPeakMB: number;
  rssAvgMB: number;
  rssBaseMB: number;
  heapUsedMB: number;
  liveHeapMB: number;
  p50Ms: number | null;
  p99Ms: number | null;
  eventLoopUtilization: number;
  devicesCpuPercent: number;
  forwardedPerSec?: number;
}

async function runScenario(
  s: Scenario,
  ports: number[],
): Promise<{ row: Row; result: RunnerResult; child: UsageReport }> {
  const config: RunnerConfig = {
    mode: s.mode,
    ports,
    intervalMs: s.intervalMs,
    warmupMs: WARMUP_MS,
    measureMs: MEASURE_MS,
    pipeline: s.pipeline,
  };
  const nodeArgs = ['--expose-gc', '--import', 'tsx'];
  if (PROFILE)
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${path.join(RESULTS_DIR, 'profiles')}`,
      `--cpu-prof-name=${s.name}.cpuprofile`,
    );
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, RUNNER, JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const childUsage = new UsageSampler(child.pid!);
  const devicesUsage = new UsageSampler('self');
  const result = await new Promise<RunnerResult>((resolve, reject) => {
    child.on('message', (msg: { type: string }) => {
      if (msg.type === 'measuring') {
        childUsage.start();
        devicesUsage.start();
      } else if (msg.type === 'result') resolve(msg as RunnerResult);
    });
    child.once('exit', (code) => reject(new Error(`the runner exited (${code}) before reporting`)));
  });
  const usage = childUsage.stop();
  const devices = devicesUsage.stop();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.send({ type: 'stop' });
  await exited;

  const seconds = result.measuredMs / 1000;
  const tags = ports.length * benchTags(0).length;
  const row: Row = {
    scenario: s.name,
    pollMs: s.intervalMs,
    tags,
    samplesPerSec: result.samples / seconds,
    targetPerSec: (tags * 1000) / s.intervalMs,
    requestsPerCycle: result.cycles > 0 ? result.requests / result.cycles : Number.NaN,
    naiveRequestsPerCycle: benchTags(0).length,
    overruns: result.overruns,
    errors: result.errors,
    cpuPercent: usage.cpuPercent,
    rssPeakMB: usage.rssPeakMB,
    rssAvgMB: usage.rssAvgMB,
    rssBaseMB: result.baselineRssMB,
    heapUsedMB: result.heapUsedMB,
    liveHeapMB: result.liveHeapMB,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    eventLoopUtilization: result.eventLoopUtilization,
    devicesCpuPercent: devices.cpuPercent,
    ...(result.forwarded !== undefined ? { forwardedPerSec: result.forwarded / seconds } : {}),
  };
  return { row, result, child: usage };
}

async function main(): Promise<void> {
  const scenarios = ONLY.length > 0 ? SCENARIOS.filter((s) => ONLY.includes(s.name)) : SCENARIOS;
  console.log(
    `Modbus benchmark: ${DEVICES} devices × ${benchTags(0).length} tags, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s per scenario`,
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
  let step = 0;
  const mover = setInterval(() => {
    step++;
    servers.forEach((s, i) => {
      s.set(0, holdingRegisters(step, i));
      s.coils[step % COILS] = s.coils[step % COILS] ? 0 : 1;
    });
  }, 100);
  const ports = servers.map((s) => s.port);

  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    for (const s of scenarios) {
      process.stdout.write(`  ${s.name} … `);
      const { row, result, child } = await runScenario(s, ports);
      rows.push(row);
      raw[s.name] = { row, result, usage: child };
      console.log(
        `${Math.round(row.samplesPerSec).toLocaleString('en-US')} samples/s, ${row.cpuPercent.toFixed(0)} % CPU`,
      );
    }
  } finally {
    clearInterval(mover);
    await Promise.all(servers.map((s) => s.stop()));
  }

  console.log('');
  printTable(rows, [
    { key: 'scenario' },
    { key: 'pollMs', title: 'poll ms' },
    { key: 'tags' },
    { key: 'samplesPerSec', title: 'samples/s', digits: 0 },
    { key: 'targetPerSec', title: 'target/s', digits: 0 },
    { key: 'requestsPerCycle', title: 'req/cycle/dev', digits: 1 },
    { key: 'naiveRequestsPerCycle', title: 'naive req/cycle', digits: 0 },
    { key: 'overruns' },
    { key: 'errors' },
    { key: 'cpuPercent', title: 'CPU % (1 core)', digits: 1 },
    { key: 'rssPeakMB', title: 'RSS peak MB', digits: 0 },
    { key: 'rssBaseMB', title: 'RSS base MB', digits: 0 },
    { key: 'heapUsedMB', title: 'heap MB', digits: 0 },
    { key: 'liveHeapMB', title: 'live heap MB', digits: 0 },
    { key: 'p50Ms', title: 'p50 ms', digits: 2 },
    { key: 'p99Ms', title: 'p99 ms', digits: 2 },
    { key: 'eventLoopUtilization', title: 'ELU', digits: 2 },
    { key: 'devicesCpuPercent', title: 'devices CPU %', digits: 0 },
  ]);
  console.log('p50/p99: round trip from request to answer, interpolated in the 1-2-5 ms histogram buckets of /metrics');
  console.log(
    'RSS base: the runner with its modules loaded (node, tsx, zod, …) before any device; ' +
      'heap: V8 heap in use at the end; live heap: after a full collection',
  );

  const by = (name: string) => rows.find((r) => r.scenario === name);
  const ratios: Record<string, number> = {};
  for (const interval of ['1s', '100ms']) {
    const g = by(`gateway-${interval}`);
    const n = by(`naive-${interval}`);
    if (!g || !n) continue;
    const cpuPerSample = (r: Row) => r.cpuPercent / r.samplesPerSec;
    ratios[`cpuPerSample-${interval}`] = cpuPerSample(n) / cpuPerSample(g);
    ratios[`cpu-${interval}`] = n.cpuPercent / g.cpuPercent;
    ratios[`requests-${interval}`] = n.naiveRequestsPerCycle / g.requestsPerCycle;
    console.log(
      `naive ÷ gateway at ${interval}: requests per cycle ×${ratios[`requests-${interval}`]!.toFixed(0)}, ` +
        `CPU ×${ratios[`cpu-${interval}`]!.toFixed(1)}, CPU per sample ×${ratios[`cpuPerSample-${interval}`]!.toFixed(1)}` +
        ` (naive delivered ${Math.round(n.samplesPerSec).toLocaleString('en-US')} of ${n.targetPerSec.toLocaleString('en-US')} samples/s)`,
    );
  }

  const checks: Array<{ target: string; ok: boolean; actual: string }> = [];
  const fast = by('gateway-100ms');
  if (fast) {
    const t = TARGETS['gateway-100ms'];
    checks.push({
      target: `gateway-100ms ≤ ${t.maxCpuPercent} % of a core`,
      ok: fast.cpuPercent <= t.maxCpuPercent,
      actual: `${fast.cpuPercent.toFixed(1)} %`,
    });
    checks.push({
      target: `gateway-100ms ≤ ${t.maxRssMB} MB RSS`,
      ok: fast.rssPeakMB <= t.maxRssMB,
      actual: `${fast.rssPeakMB.toFixed(0)} MB`,
    });
    checks.push({
      target: 'gateway-100ms delivers ≥ 99 % of 100 000 samples/s',
      ok: fast.samplesPerSec >= 0.99 * fast.targetPerSec,
      actual: `${Math.round(fast.samplesPerSec).toLocaleString('en-US')}/s`,
    });
  }
  const slow = by('gateway-1s');
  if (slow)
    checks.push({ target: 'gateway-1s: zero overruns', ok: slow.overruns === 0, actual: String(slow.overruns) });
  console.log('');
  for (const c of checks) console.log(`${c.ok ? 'PASS' : 'MISS'}  ${c.target}: ${c.actual}`);

  const file = writeResults('modbus', {
    devices: DEVICES,
    tagsPerDevice: benchTags(0).length,
    holdingRegisters: HOLDING_REGISTERS,
    measureMs: MEASURE_MS,
    warmupMs: WARMUP_MS,
    rows,
    ratios,
    checks,
    raw,
  });
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
