/**
 * The whole gateway (startGateway) in a process of its own, so that its CPU
 * and memory are measured apart from the simulated devices and so that it
 * can be killed (SIGKILL) and started again on the same data:
 *
 *   node test/bench/lib/gateway-runner.mjs <GatewayRunnerConfig JSON file> build
 *   node --import tsx test/bench/lib/gateway-runner.mjs <GatewayRunnerConfig JSON file> sources
 *
 * `build` runs the compiled gateway in dist/ (`npm run build`), as deployed:
 * no TypeScript loader in the process, whose thread and transforms would
 * count in the gateway's memory. `sources` runs the TypeScript sources.
 *
 * Plain JavaScript, so that it runs without a loader; its messages are typed
 * in gateway-process.ts. Reports `{ type: 'ready', url, pid }` over IPC when
 * started from a parent with an IPC channel, and always as one JSON line on
 * standard output. SIGTERM (or the parent's `{ type: 'stop' }`) stops it in
 * order and exits 0. The parent's `{ type: 'memory' }` is answered with a
 * GatewayMemory.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/** garbage collections of the main thread since the start: count and pause time, by kind */
const gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = e.detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gc.minor++;
      gc.minorMs += e.duration;
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) {
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
      gc.majorMs += e.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

/** a dashboard folder with an index.html, enough for the server to start */
function standInDashboard(dataDir) {
  const dir = path.join(dataDir, 'dashboard');
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>greenline</title><div id="app"></div>');
  return dir;
}

function memory() {
  const mb = (b) => Math.round((b / 2 ** 20) * 10) / 10;
  const m = process.memoryUsage();
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = mb(s.space_used_size);
  return {
    type: 'memory',
    rssMB: mb(m.rss),
    heapUsedMB: mb(m.heapUsed),
    heapTotalMB: mb(m.heapTotal),
    externalMB: mb(m.external),
    arrayBuffersMB: mb(m.arrayBuffers),
    spaces,
    gc: { ...gc },
  };
}

async function main() {
  const [file, from] = process.argv.slice(2);
  if (!file || (from !== 'build' && from !== 'sources')) {
    throw new Error('usage: gateway-runner.mjs <config JSON file> build|sources');
  }
  const root = from === 'build' ? '../../../dist/' : '../../../';
  const { PlantConfig } = await import(`${root}config/schema.js`);
  const { createLogger, startGateway } = await import(`${root}gateway/main.js`);
  const runner = JSON.parse(readFileSync(file, 'utf8'));
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
  process.on('message', (msg) => {
    if (msg?.type === 'stop') void stop();
    if (msg?.type === 'memory') process.send?.(memory());
  });
  const ready = { type: 'ready', url: gateway.url, pid: process.pid };
  process.send?.(ready);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
