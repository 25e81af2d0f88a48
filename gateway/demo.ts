/**
 * `greenline demo`: the simulated microfactory, the gateway on
 * config/demo-plant.yaml and the dashboard, in one process. The simulators
 * take their usual ports when free and fall back to free ones; the demo plant
 * reads the actual endpoints from the environment it is loaded with.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/loader.js';
import { type RunningSimulators, startSimulators } from '../simulators/index.js';
import { createLogger, type Gateway, startGateway } from './main.js';

export interface DemoOptions {
  /** package root: where config/ and dist/dashboard live */
  readonly root: string;
  /** dashboard port (default 8080, or a free one when taken; 0 = a free one) */
  readonly port?: number;
  readonly seed?: number;
  readonly speed?: number;
  /** where the demo keeps its database and certificates (default <root>/data) */
  readonly dataDir?: string;
  /** every simulator on a free port (tests) */
  readonly freePorts?: boolean;
  readonly log?: Logger;
}

export interface DemoRun {
  readonly url: string;
  readonly gateway: Gateway;
  readonly simulators: RunningSimulators;
  /** what to print for a person */
  readonly banner: string;
  stop(): Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<DemoRun> {
  const dataDir = options.dataDir ?? join(options.root, 'data');
  const log = options.log ?? createLogger(process.env.GREENLINE_LOG_LEVEL ?? 'warn');
  const simulators = await startSimulators({
    seed: options.seed ?? 42,
    speed: options.speed ?? 1,
    dataDir: join(dataDir, 'simulators'),
    ...(options.freePorts
      ? { ports: { line1Plc: 0, line2Plc: 0, line1Meter: 0, line2Meter: 0, opcua: 0, mqtt: 0, control: 0 } }
      : {}),
  });
  try {
    const e = simulators.endpoints;
    const port = (id: keyof typeof e) => {
      const ep = e[id];
      if (!ep?.running)
        throw new Error(`simulated device ${String(id)} did not start: ${ep?.error ?? 'unknown reason'}`);
      return String(ep.port);
    };
    const env = {
      ...process.env,
      GL_SIM_HOST: '127.0.0.1',
      GL_SIM_LINE1_PLC_PORT: port('line1-plc'),
      GL_SIM_LINE2_PLC_PORT: port('line2-plc'),
      GL_SIM_LINE1_METER_PORT: port('line1-meter'),
      GL_SIM_LINE2_METER_PORT: port('line2-meter'),
      GL_SIM_OPCUA_PORT: port('cnc1-opcua'),
      GL_SIM_OPCUA_NS: String(simulators.opcua.namespaceIndex ?? 1),
      GL_MQTT_URL: e['mqtt-broker']?.url ?? process.env.GL_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
      GREENLINE_DATA_DIR: dataDir,
    };
    const config = loadConfigFile(join(options.root, 'config/demo-plant.yaml'), { env });
    const dashboardDir = join(options.root, 'dist/dashboard');
    if (!existsSync(join(dashboardDir, 'index.html'))) {
      log.warn({ dashboardDir }, 'the dashboard is not built: run `npm run build` (npm start does it for you)');
    }
    // the demo accounts (config/demo-plant.yaml turns them on) go into the banner, not the log
    const notices: string[] = [];
    const gateway = await startOnPort(options.port, (port) => {
      notices.length = 0;
      return startGateway({
        config,
        dashboardDir,
        port,
        demo: true,
        log,
        dataDir: join(dataDir, 'gateway'),
        announce: (text) => notices.push(text),
      });
    });
    const control = e.control;
    const banner = [
      '',
      '  greenline demo: simulated microfactory (not a real plant)',
      '',
      `  dashboard      ${gateway.url}`,
      `  simulators     control ${control.url}   (POST /machines/imm1/fault, /devices/line1-plc/stop, …)`,
      ...Object.values(e)
        .filter((x) => x && x.id !== 'control')
        .map((x) => `                 ${x!.id.padEnd(12)} ${x!.url}${x!.running ? '' : '  (not running)'}`),
      `  data           ${config.store.path}`,
      ...notices.map((n) => n.replace(/\n+$/, '')),
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n');
    let stopping: Promise<void> | undefined;
    return {
      url: gateway.url,
      gateway,
      simulators,
      banner,
      stop: () => {
        stopping ??= gateway.stop().finally(() => simulators.stop());
        return stopping;
      },
    };
  } catch (err) {
    await simulators.stop();
    throw err;
  }
}

/** the requested port, or 8080; when that one is taken, a free one */
async function startOnPort(requested: number | undefined, start: (port: number) => Promise<Gateway>): Promise<Gateway> {
  const first = requested ?? 8080;
  try {
    return await start(first);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || first === 0) throw err;
    return start(0);
  }
}
