/**
 * A virtual serial cable for tests: socat joins two pseudo-terminals, so a
 * serial Modbus device can sit on one end and the driver on the other.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SOCAT_BIN = process.env.SOCAT_BIN ?? '/usr/bin/socat';
export const socatAvailable = (): boolean => existsSync(SOCAT_BIN);

export interface PtyPair {
  /** where the device (server) opens the line */
  readonly deviceSide: string;
  /** where the driver opens the line */
  readonly hostSide: string;
  stop(): Promise<void>;
}

export async function startPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gl-pty-'));
  const deviceSide = path.join(dir, 'device');
  const hostSide = path.join(dir, 'host');
  const child: ChildProcess = spawn(
    SOCAT_BIN,
    [`pty,raw,echo=0,link=${deviceSide}`, `pty,raw,echo=0,link=${hostSide}`],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 5000;
  while (!(existsSync(deviceSide) && existsSync(hostSide))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error('socat did not create the pty pair');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    deviceSide,
    hostSide,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
