/**
 * Starting the gateway in a child process (gateway-runner.ts) from a
 * benchmark or a test, and talking to it as a client would: sign-in, health,
 * the live socket.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { HealthReport } from '../../../gateway/server/ports.js';
import type { GatewayMemory, GatewayReady, GatewayRunnerConfig } from './gateway-runner.js';

const RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gateway-runner.ts');

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
  options: { startTimeoutMs?: number; nodeArgs?: readonly string[] } = {},
): Promise<GatewayProcess> {
  const file = path.join(config.dataDir, `runner-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', RUNNER, file], {
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
