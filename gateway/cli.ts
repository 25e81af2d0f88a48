#!/usr/bin/env node
/**
 * The `greenline` command.
 *
 *   greenline run --config FILE        the gateway
 *   greenline simulate [--config FILE] the simulated microfactory alone
 *   greenline check-config FILE        validate a plant model, list every problem
 *   greenline demo                     simulators + gateway + dashboard on the demo plant
 *   greenline browse <endpoint>        an OPC UA server's address space, to help write a config
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, formatProblem } from '../config/errors.js';
import { loadConfigFile } from '../config/loader.js';
import { summarizeConfig } from '../config/summary.js';

const USAGE = `greenline: monitoring gateway for microfactories

usage:
  greenline run --config FILE          run the gateway on a plant model
  greenline simulate [--config FILE]   run the simulated microfactory alone (--seed N, --speed X)
  greenline check-config FILE          validate a plant model; lists every problem with its path
  greenline demo [--port N]            simulators + gateway + dashboard on the demo plant
  greenline browse <opc.tcp://…>       print an OPC UA server's address space (--depth N, --security MODE,
                                       --user NAME; browse --help for more)

options:
  -h, --help                           this text
`;

/** the repository / package root, whether running from source (tsx) or from dist/ */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'check-config':
      return checkConfig(rest);
    case 'run':
      return run(rest);
    case 'simulate': {
      const { runSimulatorsCli } = await import('../simulators/cli.js');
      return runSimulatorsCli(rest);
    }
    case 'demo':
      return demo(rest);
    case 'browse': {
      const { runBrowseCli } = await import('./browse.js');
      return runBrowseCli(rest);
    }
    default:
      process.stderr.write(`greenline: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function checkConfig(args: readonly string[]): number {
  const { positionals, values } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' } },
  });
  const file = positionals[0] ?? values.config;
  if (!file) {
    process.stderr.write('greenline check-config: give the config file: greenline check-config plant.yaml\n');
    return 2;
  }
  try {
    const config = loadConfigFile(file);
    process.stdout.write(`${summarizeConfig(config, file)}\n`);
    return 0;
  } catch (err) {
    return reportConfigError(err, file);
  }
}

function reportConfigError(err: unknown, file: string): number {
  if (err instanceof ConfigError) {
    const n = err.problems.length;
    process.stderr.write(`✗ ${file}: ${n} problem${n === 1 ? '' : 's'} (${err.code})\n`);
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  throw err;
}

async function run(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { config: { type: 'string', short: 'c' }, port: { type: 'string' } },
  });
  if (!values.config) {
    process.stderr.write('greenline run: give the plant model: greenline run --config plant.yaml\n');
    return 2;
  }
  let config: ReturnType<typeof loadConfigFile>;
  try {
    config = loadConfigFile(values.config);
  } catch (err) {
    return reportConfigError(err, values.config);
  }
  const { startGateway } = await import('./main.js');
  const gateway = await startGateway({
    config,
    dashboardDir: resolve(packageRoot(), 'dist/dashboard'),
    ...(values.port === undefined ? {} : { port: Number(values.port) }),
  });
  process.stdout.write(`greenline is running: dashboard at ${gateway.url}\n`);
  await untilSignal();
  await gateway.stop();
  return 0;
}

async function demo(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      port: { type: 'string' },
      seed: { type: 'string' },
      speed: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const { startDemo } = await import('./demo.js');
  const demoRun = await startDemo({
    root: packageRoot(),
    ...(values.port === undefined ? {} : { port: Number(values.port) }),
    ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
    ...(values.speed === undefined ? {} : { speed: Number(values.speed) }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
  });
  process.stdout.write(demoRun.banner);
  await untilSignal();
  process.stdout.write('\nstopping…\n');
  await demoRun.stop();
  return 0;
}

function untilSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function invokedDirectly(): boolean {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const e = err as { code?: string; message?: string };
      process.stderr.write(`greenline: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
