/**
 * The composition root: the only place that knows every part.
 * config → store → pipeline → server → drivers; stopped in reverse, with the
 * store flushed last so nothing a driver delivered is lost on the way out.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import v8 from 'node:v8';
import pino, { type Logger } from 'pino';
import { AlarmRule, type PlantConfig } from '../config/schema.js';
import { endpointOf } from '../config/summary.js';
import { createDriver, type Driver, type DriverStatus } from '../protocols/index.js';
import { AlarmService, LiveTable, MetricsService, Pipeline, StaleWatchdog, TagRegistry } from './pipeline/index.js';
import type { DeviceHealth, HealthReport, SinkHealth } from './server/index.js';
import {
  Authenticator,
  type AuthenticatorOptions,
  createServer,
  DEMO_ACCOUNTS,
  type GreenlineServer,
  readTlsFiles,
  seedAccounts,
} from './server/index.js';
import { InfluxDbSink, MqttNorthSink, northPlantContext, plantContext } from './sinks/index.js';
import { AlarmStore, diskUsedPercent, SqliteStore } from './store/index.js';
import { UserStore } from './store/user-store.js';

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
  /**
   * Shows text to the person starting the gateway: the first-run admin's
   * password, the demo accounts. Never the log. Default: standard output.
   */
  readonly announce?: (text: string) => void;
  /** sign-in tuning (tests: a fake clock, a cheaper hash); sign-in itself is always on */
  readonly auth?: Pick<AuthenticatorOptions, 'now' | 'cost' | 'idleMs' | 'absoluteMs' | 'limits'>;
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

/**
 * Built in whenever the InfluxDB sink is configured: its outbox reached its
 * quota (the oldest points are being dropped) or cannot be used. Never silent.
 */
const INFLUX_OUTBOX_RULE: AlarmRule = AlarmRule.parse({
  id: 'system-influx-outbox',
  kind: 'system',
  signal: 'influx-outbox-alarm',
  limit: 0.5,
  priority: 'high',
  message: {
    en: 'InfluxDB outbox full or unusable: oldest points are being dropped – check InfluxDB and the disk',
    'zh-Hant': 'InfluxDB 發送佇列已滿或無法使用：最舊的數據點正被捨棄 – 請檢查 InfluxDB 及磁碟',
  },
});

/** The same for the northbound MQTT sink. */
const MQTT_OUTBOX_RULE: AlarmRule = AlarmRule.parse({
  id: 'system-mqtt-outbox',
  kind: 'system',
  signal: 'mqtt-outbox-alarm',
  limit: 0.5,
  priority: 'high',
  message: {
    en: 'MQTT outbox full or unusable: oldest messages are being dropped – check the broker and the disk',
    'zh-Hant': 'MQTT 發送佇列已滿或無法使用：最舊的訊息正被捨棄 – 請檢查訊息代理及磁碟',
  },
});

export function createLogger(level = process.env.GREENLINE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'greenline' } }, pino.destination({ dest: 2, sync: false }));
}

/**
 * Two settings of V8's garbage collector, process-wide and read at each
 * collection, so they take effect from here:
 *
 * - V8 allocates objects from a code site directly in the old generation
 *   once most of that site's objects lived through a young collection
 *   ("allocation site pretenuring"), and does not go back. A gateway's
 *   samples live for microseconds, but one busy moment (the start, with
 *   every tag new and a store opening) is enough to tenure the sites that
 *   make them; from then on each sample was old-generation garbage: at
 *   100 000 samples/s about 10 MB/s, a major collection every few seconds
 *   and 60–100 MB more heap.
 * - After a full collection V8 lets the old generation grow to up to four
 *   times what survived it before the next one, on a machine with memory to
 *   spare. What a gateway keeps is small (about 35 MB for 10 000 tags) and
 *   what it promotes is nearly all garbage (requests and messages that
 *   lived a few hundred milliseconds), so the heap, and the buffers its dead
 *   objects hold, grew by 100 MB in the first minute and a half before the
 *   first full collection. Growing by half instead keeps the process within
 *   300 MB at 100 000 samples/s for the same CPU.
 */
function tuneGarbageCollection(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
  v8.setFlagsFromString('--heap-growing-percent=50');
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  tuneGarbageCollection();
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

    // before anything starts: a certificate that cannot be read stops the start with the file's name
    const tls = config.server.tls === undefined ? undefined : readTlsFiles(config.server.tls);

    const store = new SqliteStore({ ...config.store, log: log.child({ part: 'store' }) });
    await store.start();
    stack.push({ name: 'store', stop: () => store.stop() });

    // users, sessions and tokens: in the store's file, used by the server, stopped after it
    const users = new UserStore({ path: config.store.path, writeGate: store.writeGate });
    users.start();
    stack.push({ name: 'user store', stop: () => users.stop() });
    const authLog = log.child({ part: 'auth' });
    const demoAccounts = config.server.demoAccounts ? DEMO_ACCOUNTS : [];
    const auth = new Authenticator({
      ...options.auth,
      store: users,
      log: authLog,
      secureCookies: tls !== undefined,
      demoAccounts,
    });
    await seedAccounts({
      store: users,
      users: config.users,
      demoAccounts,
      hashPassword: (password) => auth.hashPassword(password),
      log: authLog,
      announce: options.announce ?? ((text) => process.stdout.write(text)),
    });

    const registry = TagRegistry.fromConfig(config);
    const pipeline = new Pipeline({ registry, log: log.child({ part: 'pipeline' }), heartbeatMs: HEARTBEAT_MS });
    const live = new LiveTable({ log: log.child({ part: 'live' }) });
    pipeline.subscribe((batch) => store.writer.write(batch), 'store');
    pipeline.subscribe((batch) => live.update(batch), 'live');
    // after the store and stopped before it, but after the metrics, whose last minutes it still takes;
    // one that cannot start (its outbox unusable) has logged why, shows it in health, and the gateway runs on
    const influxConfig = config.sinks.influxdb;
    const influx =
      influxConfig === undefined
        ? null
        : new InfluxDbSink({
            ...influxConfig,
            outboxPath: join(dataDir, 'influx-outbox.db'),
            plant: plantContext(config, (tagId) => {
              const t = registry.get(tagId);
              return t && { device: t.deviceId, line: t.lineId, machine: t.machineId };
            }),
            log: log.child({ part: 'influxdb' }),
          });
    if (influx !== null) {
      await influx.start().catch(() => undefined);
      stack.push({ name: 'influxdb sink', stop: () => influx.stop() });
      pipeline.subscribe(influx.onSamples, 'influxdb');
    }
    // northbound MQTT (unified namespace, optionally a Sparkplug B edge node): built and contained like InfluxDB
    const mqttConfig = config.sinks.mqtt;
    const north =
      mqttConfig === undefined
        ? null
        : new MqttNorthSink({
            ...mqttConfig,
            outboxPath: join(dataDir, 'mqtt-outbox.db'),
            plant: northPlantContext(
              config,
              (tagId) => {
                const t = registry.get(tagId);
                return t && { device: t.deviceId, line: t.lineId, machine: t.machineId, unit: t.unit, type: t.type };
              },
              [...registry.all()].map((t) => ({
                id: t.id,
                machineIds: t.references.flatMap((r) => (r.machineId === undefined ? [] : [r.machineId])),
              })),
            ),
            log: log.child({ part: 'mqtt-north' }),
          });
    if (north !== null) {
      await north.start().catch(() => undefined);
      stack.push({ name: 'mqtt sink', stop: () => north.stop() });
      pipeline.subscribe(north.onSamples, 'mqtt-north');
    }
    const metrics = new MetricsService({
      plant: config,
      store,
      log: log.child({ part: 'metrics' }),
      maxReplayDays: config.store.rawRetentionDays,
    });
    pipeline.subscribe(metrics.onSamples, 'metrics');
    if (influx !== null) metrics.onOutput(influx.onMetrics);
    if (north !== null) metrics.onOutput(north.onMetrics);
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

    // alarms: their own connection to the store's file (audit before state), fed after the metrics
    // so machine states are current; restored from the store and re-evaluated before devices start
    const alarmStore = new AlarmStore({ path: store.path, writeGate: store.writeGate });
    alarmStore.start();
    stack.push({ name: 'alarm store', stop: () => alarmStore.stop() });
    const alarms = new AlarmService({
      plant: {
        alarms: [
          ...config.alarms,
          ...(influx === null ? [] : [INFLUX_OUTBOX_RULE]),
          ...(north === null ? [] : [MQTT_OUTBOX_RULE]),
        ],
      },
      store: alarmStore,
      samples: store,
      machines: metrics,
      metrics,
      devices: () => [
        ...drivers.map((d) => ({ id: d.deviceId, state: d.status().state })),
        ...failed.map((f) => ({ id: f.id, state: 'failed' })),
      ],
      system: () => ({
        influxBacklogPoints: influx?.status().backlog ?? null,
        influxOutboxAlarm: influx === null ? null : influx.status().alarm.active ? 1 : 0,
        mqttOutboxAlarm: north === null ? null : north.status().alarm?.active ? 1 : 0,
        storeDiskUsedPercent: store.path === ':memory:' ? null : diskUsedPercent(store.path),
      }),
      log: log.child({ part: 'alarms' }),
    });
    pipeline.subscribe(alarms.onSamples, 'alarms');
    if (influx !== null) alarms.subscribe(influx.onAlarm);
    stack.push({ name: 'alarms', stop: () => alarms.stop() });
    await alarms.start();

    const health = (): HealthReport => {
      const devices: DeviceHealth[] = [
        ...drivers.map((d) => deviceHealth(d.status())),
        ...failed.map((f) => ({ ...f, state: 'failed', lastGoodTs: null, lastError: f.error, counters: {} })),
      ];
      const store$ = store.stats();
      const p = pipeline.stats();
      const sinks: SinkHealth[] = [
        ...(influx === null ? [] : [influx.status()]),
        ...(north === null ? [] : [north.status()]),
      ];
      const degraded =
        devices.some((d) => d.state !== 'connected') ||
        store$.lastError !== null ||
        sinks.some((s) => s.lastError !== null || s.alarm?.active === true);
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
        sinks,
        pipeline: { samplesIn: p.samplesIn, rejected: p.rejected },
        metrics: metrics.stats(),
        alarms: alarms.health(),
      };
    };

    const server: GreenlineServer = createServer(
      {
        config,
        live,
        health,
        history: store,
        exports: store,
        metrics,
        alarms,
        alarmAudit: alarmStore,
        dashboardDir: options.dashboardDir,
        log: log.child({ part: 'server' }),
        demo: options.demo ?? false,
        liveHeartbeatMs: HEARTBEAT_MS,
      },
      { auth, ...(tls === undefined ? {} : { https: tls }) },
    );
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
