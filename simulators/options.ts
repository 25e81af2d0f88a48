/** Options of the simulators, their defaults, and validation that lists every problem at once. */
import os from 'node:os';
import path from 'node:path';
import { MAX_SPEED, validateSpeed } from './runner.js';

export interface SimulatorPorts {
  line1Plc: number;
  line2Plc: number;
  line1Meter: number;
  line2Meter: number;
  opcua: number;
  mqtt: number;
  control: number;
}

export type PortName = keyof SimulatorPorts;

/** Ports for a human demo; a busy one falls back to a free port. */
export const DEFAULT_PORTS: Readonly<SimulatorPorts> = {
  line1Plc: 5020,
  line2Plc: 5021,
  line1Meter: 5022,
  line2Meter: 5023,
  opcua: 4840,
  mqtt: 1883,
  control: 8090,
};

/** Every device on a free port: for tests. */
export const FREE_PORTS: Readonly<SimulatorPorts> = {
  line1Plc: 0,
  line2Plc: 0,
  line1Meter: 0,
  line2Meter: 0,
  opcua: 0,
  mqtt: 0,
  control: 0,
};

export const PORT_NAMES = Object.keys(DEFAULT_PORTS) as PortName[];

export interface StartSimulatorsOptions {
  /** Seed of the plant model (default 42). */
  seed?: number;
  /** Time acceleration: simulated seconds per real second (default 1, at most 3600). */
  speed?: number;
  /** Interface every server binds to (default 127.0.0.1). */
  host?: string;
  /** Ports per device; 0 = a free port; missing ones take DEFAULT_PORTS. */
  ports?: Partial<SimulatorPorts>;
  /** External MQTT broker for the sensors; without it an embedded broker starts. */
  mqttUrl?: string;
  /** Folder for the OPC UA server's PKI (default: <os tmpdir>/greenline-sim). */
  dataDir?: string;
  /** Real-time interval of the MQTT sensor publications, ms (default 1000). */
  publishIntervalMs?: number;
  /** Offer OPC UA Sign / SignAndEncrypt (Basic256Sha256) besides None (default true). */
  opcuaSecurity?: boolean;
  /** Wall-clock time that simulated time 0 stands for (default: now). */
  startTimeMs?: number;
  /** Receives one line per notable event (port fallback, device start failure). */
  log?: (line: string) => void;
}

export interface ResolvedOptions {
  seed: number;
  speed: number;
  host: string;
  ports: SimulatorPorts;
  mqttUrl: string | null;
  dataDir: string;
  publishIntervalMs: number;
  opcuaSecurity: boolean;
  startTimeMs: number;
  log: (line: string) => void;
}

export function defaultDataDir(): string {
  return path.join(os.tmpdir(), 'greenline-sim');
}

/** Validates and completes options; returns every problem, each with its path. */
export function resolveOptions(opts: StartSimulatorsOptions): { options: ResolvedOptions | null; problems: string[] } {
  const problems: string[] = [];
  const seed = opts.seed ?? 42;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    problems.push('seed: must be an integer in [0, 4294967295]');
  const speed = opts.speed ?? 1;
  const speedProblem = validateSpeed(speed);
  if (speedProblem) problems.push(`speed: ${speedProblem}`);
  const host = opts.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.trim() === '') problems.push('host: must be a host name or IP address');
  const ports: SimulatorPorts = { ...DEFAULT_PORTS };
  if (opts.ports !== undefined) {
    if (typeof opts.ports !== 'object' || opts.ports === null)
      problems.push('ports: must be an object of port numbers');
    else {
      for (const [key, value] of Object.entries(opts.ports)) {
        if (!(PORT_NAMES as string[]).includes(key)) {
          problems.push(`ports.${key}: unknown device; use ${PORT_NAMES.join(', ')}`);
        } else if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
          problems.push(`ports.${key}: must be an integer in [0, 65535] (0 = any free port)`);
        } else {
          ports[key as PortName] = value as number;
        }
      }
    }
  }
  const mqttUrl = opts.mqttUrl ?? null;
  if (mqttUrl !== null) {
    try {
      const u = new URL(mqttUrl);
      if (!['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'].includes(u.protocol)) {
        problems.push('mqttUrl: must start with mqtt://, mqtts://, ws:// or wss://');
      }
    } catch {
      problems.push('mqttUrl: not a URL; e.g. mqtt://127.0.0.1:1883');
    }
  }
  const publishIntervalMs = opts.publishIntervalMs ?? 1000;
  if (!Number.isFinite(publishIntervalMs) || publishIntervalMs < 50 || publishIntervalMs > 3_600_000) {
    problems.push('publishIntervalMs: must be a number of ms in [50, 3600000]');
  }
  const dataDir = opts.dataDir ?? defaultDataDir();
  if (typeof dataDir !== 'string' || dataDir === '') problems.push('dataDir: must be a folder path');
  if (opts.opcuaSecurity !== undefined && typeof opts.opcuaSecurity !== 'boolean') {
    problems.push('opcuaSecurity: must be true or false');
  }
  const startTimeMs = opts.startTimeMs ?? Date.now();
  if (!Number.isFinite(startTimeMs)) problems.push('startTimeMs: must be ms since epoch');
  if (problems.length > 0) return { options: null, problems };
  return {
    options: {
      seed,
      speed,
      host,
      ports,
      mqttUrl,
      dataDir,
      publishIntervalMs,
      opcuaSecurity: opts.opcuaSecurity ?? true,
      startTimeMs,
      log: opts.log ?? (() => undefined),
    },
    problems,
  };
}

export { MAX_SPEED };
