/**
 * A process that runs the InfluxDB sink as the gateway does, for tests that
 * kill it or run it as another user. Run it with `node --import tsx` (one
 * process: a SIGKILL reaches the process that holds the outbox).
 *
 *   sink <json>     builds pipeline + sink (see influx-sink-rig.ts), feeds `rate`
 *                   samples/s when `generate` is set, and prints on stdout
 *                   `acked <n>` after each outbox commit (the first n samples
 *                   are accepted) and `status <json>` every 100 ms.
 *                   SIGTERM stops the sink and exits.
 *   gateway <json>  starts the whole gateway with the given config and data
 *                   dir, prints `health <json>` (its health report) once it
 *                   runs, and stops.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlantConfig, type PlantConfigInput } from '../../../config/schema.js';
import { buildRig } from './influx-sink-rig.js';

interface SinkArgs {
  readonly outboxPath: string;
  readonly url: string;
  readonly database: string;
  readonly base: number;
  readonly generate: boolean;
  readonly rate: number;
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly maxRetryDelayMs?: number;
}

interface GatewayArgs {
  readonly config: PlantConfigInput;
  readonly dataDir: string;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function runSink(args: SinkArgs): Promise<void> {
  let acked = 0;
  const rig = buildRig(
    {
      url: args.url,
      database: args.database,
      outboxPath: args.outboxPath,
      batchSize: args.batchSize ?? 1000,
      flushIntervalMs: args.flushIntervalMs ?? 200,
      initialRetryDelayMs: 100,
      maxRetryDelayMs: args.maxRetryDelayMs ?? 500,
      onCommitted: (n) => {
        acked += n;
        // stdout to a pipe is written synchronously on Linux: once this returns the parent can read it
        say(`acked ${acked}`);
      },
    },
    args.base,
  );
  await rig.sink.start();
  let next = 0;
  const started = Date.now();
  // `rate` samples/s on average whatever the timer's jitter
  const feed = args.generate
    ? setInterval(() => {
        const due = Math.floor(((Date.now() - started) * args.rate) / 1000);
        if (due > next) rig.emit(next, due);
        next = Math.max(next, due);
      }, 10)
    : undefined;
  const report = setInterval(() => say(`status ${JSON.stringify({ ...rig.sink.status(), handedOver: next })}`), 100);
  process.once('SIGTERM', () => {
    if (feed) clearInterval(feed);
    clearInterval(report);
    void rig.sink.stop().then(() => {
      say(`status ${JSON.stringify({ ...rig.sink.status(), handedOver: next })}`);
      process.exit(0);
    });
  });
}

async function runGateway(args: GatewayArgs): Promise<void> {
  const { startGateway } = await import('../../../gateway/main.js');
  const dashboardDir = join(tmpdir(), `gl-dashboard-${process.pid}`);
  mkdirSync(dashboardDir, { recursive: true });
  writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>greenline</title>');
  const lines: string[] = [];
  const log = (await import('pino')).default({ level: 'info' }, { write: (s: string) => lines.push(s.trim()) });
  const gateway = await startGateway({
    config: PlantConfig.parse(args.config),
    dashboardDir,
    port: 0,
    host: '127.0.0.1',
    dataDir: args.dataDir,
    log,
  });
  // the report /api/health serves, read directly: the test is about the sink, not the server's sign-in
  say(`health ${JSON.stringify(gateway.health())}`);
  await gateway.stop();
  for (const l of lines) say(`log ${l}`);
  process.exit(0);
}

const [mode, json] = process.argv.slice(2);
const run =
  mode === 'sink'
    ? runSink(JSON.parse(json ?? '{}'))
    : mode === 'gateway'
      ? runGateway(JSON.parse(json ?? '{}'))
      : null;
if (run === null) {
  process.stderr.write('usage: influx-sink-process.ts sink|gateway <json>\n');
  process.exit(2);
}
run.catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
