/**
 * `greenline simulate`: starts the simulated microfactory, prints where each
 * device answers, and runs until SIGINT / SIGTERM (or the abort signal).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { type RunningSimulators, startSimulators } from './index.js';
import { FREE_PORTS, resolveOptions, type StartSimulatorsOptions } from './options.js';
import { errorMessage } from './servers/device.js';

export const SIMULATE_USAGE = `Usage: greenline simulate [options]

Runs the simulated microfactory: line PLCs and SDM630 meters over Modbus TCP,
the CNC cell over OPC UA, hall sensors over MQTT, a control API over HTTP.

Options:
  --seed N                 seed of the plant model (default 42)
  --speed X                simulated seconds per real second (default 1, max 3600)
  --config FILE            YAML or JSON with any of: seed, speed, host, ports
                           {line1Plc, line2Plc, line1Meter, line2Meter, opcua, mqtt, control},
                           mqttUrl, dataDir, publishIntervalMs, opcuaSecurity
  --host HOST              interface to bind (default 127.0.0.1)
  --mqtt-url URL           publish to this broker instead of an embedded one
  --data-dir DIR           folder for the OPC UA certificates (default: system temp folder)
  --publish-interval-ms N  MQTT publication interval (default 1000)
  --free-ports             bind every device to a free port instead of the demo ports
  -h, --help               this text

Command-line options win over the config file. Register maps, node ids, topics
and the control API: simulators/README.md
`;

export interface CliIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Stops the simulators when aborted (in addition to SIGINT / SIGTERM). */
  signal?: AbortSignal;
  /** Called once the simulators run (for tests and embedding). */
  onStarted?: (sims: RunningSimulators) => void;
  /** Install SIGINT / SIGTERM handlers (default true). */
  handleSignals?: boolean;
}

const CONFIG_KEYS = ['seed', 'speed', 'host', 'ports', 'mqttUrl', 'dataDir', 'publishIntervalMs', 'opcuaSecurity'];

async function loadConfigFile(file: string): Promise<{ options: StartSimulatorsOptions; problems: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { options: {}, problems: [`${file}: cannot read (${errorMessage(err)})`] };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { options: {}, problems: [`${file}: not valid YAML or JSON (${errorMessage(err)})`] };
  }
  if (doc === null || doc === undefined) return { options: {}, problems: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return { options: {}, problems: [`${file}: must be a mapping of options, e.g. "seed: 7"`] };
  }
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!CONFIG_KEYS.includes(key)) problems.push(`${file}: ${key}: unknown option; use ${CONFIG_KEYS.join(', ')}`);
  }
  return { options: doc as StartSimulatorsOptions, problems };
}

function numberFlag(name: string, value: string | undefined, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    problems.push(`--${name}: "${value}" is not a number`);
    return undefined;
  }
  return n;
}

/** Runs until stopped; resolves with the process exit code. */
export async function runSimulatorsCli(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const err = io.stderr ?? ((t: string) => void process.stderr.write(t));

  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    err(`greenline simulate: ${errorMessage(e)}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    out(SIMULATE_USAGE);
    return 0;
  }

  const problems: string[] = [];
  let fromFile: StartSimulatorsOptions = {};
  if (values.config) {
    const loaded = await loadConfigFile(values.config);
    fromFile = loaded.options;
    problems.push(...loaded.problems);
  }
  const seed = numberFlag('seed', values.seed, problems);
  const speed = numberFlag('speed', values.speed, problems);
  const publishIntervalMs = numberFlag('publish-interval-ms', values['publish-interval-ms'], problems);
  const merged: StartSimulatorsOptions = {
    ...fromFile,
    ...(seed !== undefined ? { seed } : {}),
    ...(speed !== undefined ? { speed } : {}),
    ...(publishIntervalMs !== undefined ? { publishIntervalMs } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values['mqtt-url'] !== undefined ? { mqttUrl: values['mqtt-url'] } : {}),
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(values['free-ports'] ? { ports: { ...FREE_PORTS } } : {}),
    log: (line: string) => err(`greenline simulate: ${line}\n`),
  };
  problems.push(...resolveOptions(merged).problems);
  if (problems.length > 0) {
    err(`greenline simulate: GL_ERR_SIM_CONFIG: fix these options:\n${problems.map((p) => `  - ${p}\n`).join('')}`);
    return 2;
  }

  let sims: RunningSimulators;
  try {
    sims = await startSimulators(merged);
  } catch (e) {
    err(`greenline simulate: could not start: ${errorMessage(e)}\n`);
    return 1;
  }

  out(describe(sims));
  io.onStarted?.(sims);

  await new Promise<void>((resolve) => {
    const handleSignals = io.handleSignals ?? true;
    const done = () => {
      process.removeListener('SIGINT', done);
      process.removeListener('SIGTERM', done);
      io.signal?.removeEventListener('abort', done);
      resolve();
    };
    if (handleSignals) {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    }
    if (io.signal?.aborted) done();
    else io.signal?.addEventListener('abort', done, { once: true });
  });
  out('greenline simulate: stopping\n');
  await sims.stop();
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: false,
    strict: true,
    options: {
      seed: { type: 'string' },
      speed: { type: 'string' },
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      'mqtt-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'publish-interval-ms': { type: 'string' },
      'free-ports': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function describe(sims: RunningSimulators): string {
  const lines: string[] = [];
  const plant = sims.plant;
  lines.push(`greenline simulate: seed ${plant.seed}, speed ${sims.runner.speed}×`);
  for (const e of Object.values(sims.endpoints)) {
    if (!e) continue;
    const where = e.running ? (e.url ?? '') : `NOT RUNNING (${e.error ?? 'stopped'})`;
    const note = e.fellBack ? ` (port ${e.requestedPort} was busy)` : '';
    lines.push(`  ${e.id.padEnd(13)} ${where}${note}`);
  }
  const ua = sims.opcua;
  if (ua.namespaceIndex !== null) {
    lines.push(`  OPC UA nodes: ns=${ua.namespaceIndex};s=Factory.Line2.CNC1.<State|Reason|TotalCount|GoodCount|…>`);
  }
  lines.push('  register maps, node ids, MQTT topics and the control API: simulators/README.md');
  return `${lines.join('\n')}\n`;
}
