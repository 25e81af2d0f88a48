/**
 * A real MQTT broker for tests: Debian's mosquitto on a free loopback port,
 * with its config in a temp dir. `stop()` ends it (and removes the dir);
 * `restart()` brings it back on the same port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './free-port.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export interface MosquittoPeer {
  readonly url: string;
  readonly port: number;
  /** stops the broker (SIGTERM, then SIGKILL after 2 s); resolves once it exited */
  stop(): Promise<void>;
  /** starts it again on the same port (stopping it first if it runs) */
  restart(): Promise<void>;
}

async function exitOf(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

export async function startMosquitto(): Promise<MosquittoPeer> {
  const port = await freePort();
  let dir: string | null = null;
  let child: ChildProcess | null = null;
  let stderr = '';

  const launch = async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gl-mosquitto-'));
    const conf = path.join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        '',
      ].join('\n'),
    );
    stderr = '';
    const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${stderr.trim()}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port, 5000), exited]);
  };

  const stop = async () => {
    const proc = child;
    child = null;
    if (proc) await exitOf(proc, 'SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  };

  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
