/**
 * An independent Modbus server for tests: pymodbus (Debian's python3-pymodbus)
 * running `pymodbus_server.py`, with data laid out by a spec and encoded in
 * Python. See the script for the spec format.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON_BIN = process.env.PYMODBUS_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pymodbus_server.py');

export interface PymodbusValue {
  at: number;
  /** int16 … float64, string, bool (in a register, with `bit`), or raw registers */
  type?: string;
  order?: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';
  length?: number;
  bit?: number;
  value: number | boolean | string | number[];
}

export interface PymodbusArea {
  size: number;
  values?: PymodbusValue[];
  /** [start, count] ranges the device does not have: reads covering them answer exception 2; `set` fills them */
  holes?: Array<[number, number]>;
}

export interface PymodbusSpec {
  hr?: PymodbusArea;
  ir?: PymodbusArea;
  co?: PymodbusArea;
  di?: PymodbusArea;
}

export interface PymodbusPeer {
  readonly host: string;
  /** the TCP port (0 when serving a serial line) */
  readonly port: number;
  /** changes a value while running */
  set(area: 'hr' | 'ir' | 'co' | 'di', value: PymodbusValue): Promise<void>;
  /** serial line only: ignore every request (true) or answer again (false) */
  mute(muted: boolean): Promise<void>;
  /** ends the process (SIGKILL by default: a crash, no goodbye on the wire) */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** starts it again on the same port, with the original data */
  restart(): Promise<void>;
}

export interface PymodbusOptions {
  spec: PymodbusSpec;
  /** 0 (default): the OS picks */
  port?: number;
  /** `rtu`: RTU frames (with CRC) over TCP, as a serial-to-Ethernet gateway speaks */
  framer?: 'socket' | 'rtu';
  /** serve RTU on this serial line (e.g. one end of a socat pty pair) instead of TCP */
  serial?: string;
}

export async function startPymodbus(options: PymodbusOptions): Promise<PymodbusPeer> {
  let child: ChildProcess | null = null;
  let lines: Array<(line: string) => void> = [];
  let port = options.port ?? 0;

  const launch = async (): Promise<number> => {
    const transport = options.serial
      ? ['--serial', options.serial]
      : ['--host', '127.0.0.1', '--port', String(port), '--framer', options.framer ?? 'socket'];
    const args = [SCRIPT, ...transport, '--spec', JSON.stringify(options.spec)];
    const proc = spawn(PYTHON_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let buffered = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const listeners = lines;
        lines = [];
        for (const l of listeners) l(line);
        nl = buffered.indexOf('\n');
      }
    });
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`pymodbus did not start within 10 s: ${stderr.trim()}`));
      }, 10_000);
      const waitListening = (line: string) => {
        const m = /^LISTENING (\d+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        } else lines.push(waitListening);
      };
      lines.push(waitListening);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`pymodbus exited (${code}): ${stderr.trim()}`));
      });
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  const command = (body: object) =>
    new Promise<void>((resolve, reject) => {
      const proc = child;
      if (!proc?.stdin) return reject(new Error('pymodbus is not running'));
      lines.push((line) => (line === 'OK' ? resolve() : reject(new Error(line))));
      proc.stdin.write(`${JSON.stringify(body)}\n`);
    });

  port = await launch();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    set: (area, value) => command({ area, ...value }),
    mute: (muted) => command({ mute: muted }),
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
