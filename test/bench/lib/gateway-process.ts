/**
 * Starting the gateway in a child process (gateway-runner.mjs) from a
 * benchmark or a test, and talking to it as a client would: sign-in, health,
 * the live socket.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { PlantConfigInput } from '../../../config/schema.js';
import type { HealthReport } from '../../../gateway/server/ports.js';
import { ensureGatewayBuilt } from '../../lib/fresh-build.js';

const RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gateway-runner.mjs');

/** what gateway-runner.mjs reads from its JSON file */
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
  /** the main thread's garbage collections since the start: counts, and pause time in ms (major includes incremental marking steps) */
  readonly gc: { readonly minor: number; readonly minorMs: number; readonly major: number; readonly majorMs: number };
}

export interface GatewayReady {
  readonly type: 'ready';
  readonly url: string;
  readonly pid: number;
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** resolves with the exit code or signal once the process is gone */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** SIGTERM (an orderly stop), SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL: no stop, no flush */
  kill(): Promise<void>;
  /** the gateway's memory as it sees it */
  memory(): Promise<GatewayMemory>;
}

export async function startGatewayProcess(
  config: GatewayRunnerConfig,
  options: {
    startTimeoutMs?: number;
    nodeArgs?: readonly string[];
    /**
     * `sources` (default): the TypeScript sources through tsx; `build`: the
     * compiled gateway in dist/, built first when older than its sources, in
     * a process without a loader (what a benchmark should measure)
     */
    from?: 'sources' | 'build';
  } = {},
): Promise<GatewayProcess> {
  const from = options.from ?? 'sources';
  if (from === 'build') ensureGatewayBuilt();
  const file = path.join(config.dataDir, `runner-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const loader = from === 'sources' ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, RUNNER, file, from], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const ready = await new Promise<GatewayReady>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the gateway did not start in time: ${stderr.trim()}`)),
      options.startTimeoutMs ?? 60_000,
    );
    child.on('message', (msg: { type?: string }) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        resolve(msg as GatewayReady);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code}) before it was ready: ${stderr.trim()}`));
    });
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    pid: child.pid!,
    url: ready.url,
    exited,
    async stop(graceMs = 10_000) {
      if (gone()) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
    memory() {
      return new Promise<GatewayMemory>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error('the gateway did not report its memory within 10 s'));
        }, 10_000);
        const onMessage = (msg: { type?: string }) => {
          if (msg?.type !== 'memory') return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(msg as GatewayMemory);
        };
        child.on('message', onMessage);
        child.send({ type: 'memory' });
      });
    },
  };
}

export async function signInCookie(url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`sign-in as ${username} failed: ${res.status} ${await res.text()}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
}

export type GatewayHealth = HealthReport & {
  readonly liveHub?: { clients: number; messagesSent: number; skippedSlow: number; terminated: number };
};

export async function health(url: string, cookie: string): Promise<GatewayHealth> {
  const res = await fetch(`${url}/api/health`, { headers: { cookie }, signal: AbortSignal.timeout(20_000) });
  if (res.status !== 200) throw new Error(`GET /api/health: ${res.status}`);
  return (await res.json()) as GatewayHealth;
}

/** opens the live socket with the cookie; resolves once it is open */
export function openLive(url: string, cookie: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/live/ws`, { headers: { cookie } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('the live socket did not open within 20 s'));
    }, 20_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`live socket refused: ${res.statusCode}`)));
  });
}

/** sums of the Modbus/OPC UA/MQTT driver counters over every device */
export function deviceTotals(h: HealthReport): { requests: number; samples: number; overruns: number; errors: number } {
  const t = { requests: 0, samples: 0, overruns: 0, errors: 0 };
  for (const d of h.devices) {
    const c = d.counters as Partial<Record<keyof typeof t, number>>;
    t.requests += c.requests ?? 0;
    t.samples += c.samples ?? 0;
    t.overruns += c.overruns ?? 0;
    t.errors += c.errors ?? 0;
  }
  return t;
}
