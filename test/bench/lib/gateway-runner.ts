/**
 * The whole gateway (startGateway) in a process of its own, so that its CPU
 * and memory are measured apart from the simulated devices and so that it
 * can be killed (SIGKILL) and started again on the same data:
 *
 *   node --import tsx test/bench/lib/gateway-runner.ts <GatewayRunnerConfig JSON file>
 *
 * Reports `{ type: 'ready', url }` over IPC when started from a parent with an
 * IPC channel, and always as one JSON line on standard output. SIGTERM (or the
 * parent's `{ type: 'stop' }`) stops it in order and exits 0. The parent's
 * `{ type: 'memory' }` is answered with a GatewayMemory.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { PlantConfig, type PlantConfigInput } from '../../../config/schema.js';
import { createLogger, startGateway } from '../../../gateway/main.js';

export interface GatewayRunnerConfig {
  readonly plant: PlantConfigInput;
  /** folder for the OPC UA certificates and the stand-in dashboard */
  readonly dataDir: string;
  /** pino level of the gateway's log (standard error); default 'warn' */
  readonly logLevel?: string;
  /** a cheaper password hash (tests that sign in often); default: production cost */
  readonly fastAuth?: boolean;
}

/** Where the main thread's memory is, MB (worker threads and SQLite's caches count in rss only). */
export interface GatewayMemory {
  readonly type: 'memory';
  readonly rssMB: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly externalMB: number;
  readonly arrayBuffersMB: number;
  /** V8 heap spaces in use, MB */
  readonly spaces: Record<string, number>;
}

export interface GatewayReady {
  readonly type: 'ready';
  readonly url: string;
  readonly pid: number;
}

/** a dashboard folder with an index.html, enough for the server to start */
function standInDashboard(dataDir: string): string {
  const dir = path.join(dataDir, 'dashboard');
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>greenline</title><div id="app"></div>');
  return dir;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: gateway-runner.ts <config JSON file>');
  const runner = JSON.parse(readFileSync(file, 'utf8')) as GatewayRunnerConfig;
  const config = PlantConfig.parse(runner.plant);
  const gateway = await startGateway({
    config,
    dashboardDir: standInDashboard(runner.dataDir),
    dataDir: runner.dataDir,
    host: '127.0.0.1',
    port: 0,
    log: createLogger(runner.logLevel ?? 'warn'),
    announce: () => undefined,
    ...(runner.fastAuth ? { auth: { cost: { ln: 10, r: 8, p: 1 } } } : {}),
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'stop') void stop();
    if (msg?.type === 'memory') process.send?.(memory());
  });
  const ready: GatewayReady = { type: 'ready', url: gateway.url, pid: process.pid };
  process.send?.(ready);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

function memory(): GatewayMemory {
  const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  const m = process.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = mb(s.space_used_size);
  return {
    type: 'memory',
    rssMB: mb(m.rss),
    heapUsedMB: mb(m.heapUsed),
    heapTotalMB: mb(m.heapTotal),
    externalMB: mb(m.external),
    arrayBuffersMB: mb(m.arrayBuffers),
    spaces,
  };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
