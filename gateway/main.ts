/**
 * The composition root: the only place that knows every part.
 * config → store → pipeline → server → drivers; stopped in reverse, with the
 * store flushed last so nothing a driver delivered is lost on the way out.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { PlantConfig } from '../config/schema.js';
import { endpointOf } from '../config/summary.js';
import { createDriver, type Driver, type DriverStatus } from '../protocols/index.js';
import { LiveTable, MetricsService, Pipeline, StaleWatchdog, TagRegistry } from './pipeline/index.js';
import type { DeviceHealth, HealthReport } from './server/index.js';
import { createServer, type GreenlineServer } from './server/index.js';
import { SqliteStore } from './store/index.js';

export interface GatewayOptions {
  readonly config: PlantConfig;
  /** folder of the built dashboard */
  readonly dashboardDir: string;
  /** overrides config.server.port (0 = a free port) */
  readonly port?: number;
  readonly host?: string;
  /** shows the demo banner on the dashboard */
  readonly demo?: boolean;
  readonly log?: Logger;
  /** where drivers keep files (OPC UA certificates); default: beside the store */
  readonly dataDir?: string;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  health(): HealthReport;
  stop(): Promise<void>;
}

/** one device that could not even be built (e.g. an unsupported format): shown in health, never fatal */
interface FailedDevice {
  readonly id: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly error: string;
}

const HEARTBEAT_MS = 60_000;

export function createLogger(level = process.env.GREENLINE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'greenline' } }, pino.destination({ dest: 2, sync: false }));
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const log = options.log ?? createLogger();
  const startedAt = Date.now();
  const stack: { name: string; stop: () => Promise<void> | void }[] = [];
  const stopAll = async () => {
    while (stack.length > 0) {
      const part = stack.pop()!;
      try {
        await part.stop();
      } catch (err) {
        log.error({ err, part: part.name }, 'stopping failed');
      }
    }
  };

  try {
    const dataDir =
      options.dataDir ?? join(config.store.path === ':memory:' ? process.cwd() : dirname(config.store.path), 'gateway');
    mkdirSync(dataDir, { recursive: true });

    const store = new SqliteStore({ ...config.store, log: log.child({ part: 'store' }) });
    await store.start();
    stack.push({ name: 'store', stop: () => store.stop() });

    const registry = TagRegistry.fromConfig(config);
    const pipeline = new Pipeline({ registry, log: log.child({ part: 'pipeline' }), heartbeatMs: HEARTBEAT_MS });
    const live = new LiveTable({ log: log.child({ part: 'live' }) });
    pipeline.subscribe((batch) => store.writer.write(batch), 'store');
    pipeline.subscribe((batch) => live.update(batch), 'live');
    const metrics = new MetricsService({
      plant: config,
      store,
      log: log.child({ part: 'metrics' }),
      maxReplayDays: config.store.rawRetentionDays,
    });
    pipeline.subscribe(metrics.onSamples, 'metrics');
    // stopped before the store, so the last closed minutes are persisted
    stack.push({ name: 'metrics', stop: () => metrics.stop() });
    const watchdog = new StaleWatchdog({ registry, pipeline, log: log.child({ part: 'stale' }) });
    watchdog.start();
    stack.push({ name: 'stale watchdog', stop: () => watchdog.stop() });

    const drivers: Driver[] = [];
    const failed: FailedDevice[] = [];
    const driverLog = log.child({ part: 'driver' });
    for (const device of config.devices) {
      if (!device.enabled) continue;
      try {
        drivers.push(
          createDriver(
            device,
            { emit: (samples) => pipeline.ingest(samples), log: driverLog.child({ device: device.id }), now: Date.now },
            { dataDir },
          ),
        );
      } catch (err) {
        const message = (err as Error).message;
        failed.push({ id: device.id, protocol: device.protocol, endpoint: endpointOf(device), error: message });
        log.error({ device: device.id, err: message }, 'device cannot be served; the others run on');
      }
    }

    const health = (): HealthReport => {
      const devices: DeviceHealth[] = [
        ...drivers.map((d) => deviceHealth(d.status())),
        ...failed.map((f) => ({ ...f, state: 'failed', lastGoodTs: null, lastError: f.error, counters: {} })),
      ];
      const store$ = store.stats();
      const p = pipeline.stats();
      const degraded = devices.some((d) => d.state !== 'connected') || store$.lastError !== null;
      return {
        status: degraded ? 'degraded' : 'ok',
        startedAt,
        now: Date.now(),
        devices,
        store: {
          path: store$.path,
          samplesWritten: store$.samplesWritten,
          pendingRows: store$.pendingRows,
          dropped: store$.dropped,
          lastError: store$.lastError,
        },
        sinks: [],
        pipeline: { samplesIn: p.samplesIn, rejected: p.rejected },
        metrics: metrics.stats(),
      };
    };

    const server: GreenlineServer = createServer({
      config,
      live,
      health,
      history: store,
      metrics,
      dashboardDir: options.dashboardDir,
      log: log.child({ part: 'server' }),
      demo: options.demo ?? false,
      liveHeartbeatMs: HEARTBEAT_MS,
    });
    const { url } = await server.start(options.host ?? config.server.host, options.port ?? config.server.port);
    stack.push({ name: 'server', stop: () => server.stop() });

    // the rebuild from the store runs while devices connect: what they send
    // meanwhile is held and applied after it
    const rebuilt = metrics.start().catch((err: Error) => log.error({ err: err.message }, 'metrics rebuild failed'));

    // devices last: the dashboard is up even while they connect, and one that
    // fails to start is contained
    for (const driver of drivers) {
      try {
        await driver.start();
      } catch (err) {
        log.error(
          { device: driver.deviceId, err: (err as Error).message },
          'device failed to start; the others run on',
        );
      }
      stack.push({ name: `driver ${driver.deviceId}`, stop: () => driver.stop() });
    }
    log.info({ url, devices: drivers.length, tags: registry.size }, 'gateway started');
    await rebuilt;

    let stopping: Promise<void> | undefined;
    return {
      url,
      port: Number(new URL(url).port),
      health,
      stop: () => {
        stopping ??= stopAll().then(() => log.info({}, 'gateway stopped'));
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function deviceHealth(s: DriverStatus): DeviceHealth {
  return {
    id: s.deviceId,
    protocol: s.protocol,
    endpoint: s.endpoint,
    state: s.state,
    lastGoodTs: s.lastGoodTs,
    lastError: s.lastError,
    counters: { ...s.counters },
    ...(s.errorsByKind ? { errorsByKind: { ...s.errorsByKind } } : {}),
    ...(s.latencyMs ? { latencyMs: s.latencyMs } : {}),
  };
}
