/**
 * A real InfluxDB 1.x for tests: Debian's `influxd` on free loopback ports
 * (HTTP and the RPC/backup port), with its config and data in a temp dir,
 * usage reporting and self-monitoring off. `stop()` ends the server and keeps
 * its data, `start()` brings it back on the same ports with that data, and
 * `close()` ends it and removes the dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

export const INFLUXD_BIN = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

export interface InfluxQueryResult {
  readonly series: readonly { readonly name: string; readonly columns: string[]; readonly values: unknown[][] }[];
}

export interface InfluxdPeer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** whether the server runs now */
  readonly running: boolean;
  /** its process id while it runs */
  readonly pid: number | null;
  /** stops the server (SIGTERM, then SIGKILL after 5 s); its data stays */
  stop(): Promise<void>;
  /** starts it (again) on the same ports with the same data; resolves once /ping answers */
  start(): Promise<void>;
  /** stops it (when it runs) and starts it again */
  restart(): Promise<void>;
  /** stops it and removes its dir */
  close(): Promise<void>;
  /** one InfluxQL statement; throws on an HTTP or statement error */
  query(q: string, db?: string): Promise<InfluxQueryResult>;
  /** writes line protocol (ms precision) to a database; returns the HTTP status and body */
  write(db: string, lines: string): Promise<{ status: number; body: string }>;
  /** the server's log (its last 20 000 characters) */
  log(): string;
}

async function exitOf(child: ChildProcess, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

function configText(dir: string, httpPort: number, rpcPort: number): string {
  return [
    'reporting-enabled = false',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]',
    `  dir = "${path.join(dir, 'meta')}"`,
    '  retention-autocreate = true',
    '  logging-enabled = false',
    '[data]',
    `  dir = "${path.join(dir, 'data')}"`,
    `  wal-dir = "${path.join(dir, 'wal')}"`,
    '  query-log-enabled = false',
    '  index-version = "inmem"',
    '[monitor]',
    '  store-enabled = false',
    '[retention]',
    '  enabled = false',
    '[shard-precreation]',
    '  enabled = false',
    '[subscriber]',
    '  enabled = false',
    '[continuous_queries]',
    '  enabled = false',
    '[http]',
    '  enabled = true',
    `  bind-address = "127.0.0.1:${httpPort}"`,
    '  auth-enabled = false',
    '  log-enabled = false',
    '  pprof-enabled = false',
    '[logging]',
    '  level = "warn"',
    '  suppress-logo = true',
    '',
  ].join('\n');
}

/** Starts an influxd; resolves once it answers /ping. */
export async function startInfluxd(): Promise<InfluxdPeer> {
  const port = await freePort();
  let rpcPort = await freePort();
  while (rpcPort === port) rpcPort = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gl-influxd-'));
  const conf = path.join(dir, 'influxdb.conf');
  writeFileSync(conf, configText(dir, port, rpcPort));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let output = '';

  const ping = async (): Promise<boolean> => {
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status === 204;
    } catch {
      return false;
    }
  };

  const start = async (): Promise<void> => {
    if (child !== null) return;
    const proc = spawn(INFLUXD_BIN, ['run', '-config', conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, INFLUXDB_DATA_QUERY_LOG_ENABLED: 'false' },
    });
    child = proc;
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      if (child === proc) child = null;
    });
    const deadline = Date.now() + 20_000;
    while (!(await ping())) {
      if (exited) throw new Error(`influxd exited at start:\n${output.slice(-3000)}`);
      if (Date.now() > deadline) {
        await exitOf(proc, 'SIGKILL', 0);
        throw new Error(`influxd did not answer /ping on ${url} within 20 s:\n${output.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc) await exitOf(proc, 'SIGTERM', 5000);
  };

  const query = async (q: string, db?: string): Promise<InfluxQueryResult> => {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (db !== undefined) params.set('db', db);
    const res = await fetch(`${url}/query`, {
      method: 'POST',
      body: params,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`influxd answered ${res.status} to ${q}: ${text}`);
    const body = JSON.parse(text) as {
      error?: string;
      results?: { error?: string; series?: InfluxQueryResult['series'] }[];
    };
    const first = body.results?.[0];
    const error = body.error ?? first?.error;
    if (error !== undefined) throw new Error(`influxd refused ${q}: ${error}`);
    return { series: first?.series ?? [] };
  };

  const write = async (db: string, lines: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=ms`, {
      method: 'POST',
      body: lines,
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, body: await res.text() };
  };

  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    dir,
    get running() {
      return child !== null;
    },
    get pid() {
      return child?.pid ?? null;
    },
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    query,
    write,
    log: () => output,
  };
}

/** The single number a `SELECT COUNT(...)` (or any one-value query) returned; 0 when it returned no series. */
export function scalarOf(result: InfluxQueryResult, column = 1): number {
  const row = result.series[0]?.values[0];
  if (row === undefined) return 0;
  return Number(row[column] ?? 0);
}
