/**
 * Port handling and the CLI: a busy port falls back to a free one without
 * touching the other devices, and `greenline simulate` starts and stops cleanly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ModbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulatorsCli } from '../../simulators/cli.js';
import { FREE_PORTS, type RunningSimulators, startSimulators } from '../../simulators/index.js';

// modbus-serial is CommonJS: its class is the module itself, typed as `.default`.
const ModbusRTU = ModbusSerial.default;

let dataDir: string;
const blockers: net.Server[] = [];

async function occupyPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen({ port: 0, host: '127.0.0.1' }, () => resolve()));
  blockers.push(srv);
  const addr = srv.address();
  if (typeof addr !== 'object' || !addr) throw new Error('no address');
  return addr.port;
}

async function readHr0(port: number): Promise<number[]> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(1);
  c.setTimeout(2000);
  try {
    return (await c.readHoldingRegisters(0, 2)).data;
  } finally {
    await new Promise<void>((resolve) => c.close(() => resolve()));
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'greenline-sim-ports-'));
});

afterAll(async () => {
  for (const b of blockers) await new Promise<void>((resolve) => b.close(() => resolve()));
  await rm(dataDir, { recursive: true, force: true });
});

describe('busy ports', () => {
  it('fall back to free ports, report it, and leave the other devices alone', async () => {
    const busyPlc = await occupyPort();
    const busyControl = await occupyPort();
    const busyMqtt = await occupyPort();
    const lines: string[] = [];
    let sims: RunningSimulators | null = null;
    try {
      sims = await startSimulators({
        ports: { ...FREE_PORTS, line1Plc: busyPlc, control: busyControl, mqtt: busyMqtt },
        dataDir,
        opcuaSecurity: false,
        log: (l) => lines.push(l),
      });
      const e = sims.endpoints;
      for (const ep of Object.values(e)) expect(ep?.running, ep?.id).toBe(true);
      expect(e['line1-plc']?.fellBack).toBe(true);
      expect(e['line1-plc']?.port).not.toBe(busyPlc);
      expect(e.control.fellBack).toBe(true);
      expect(e['mqtt-broker']?.fellBack).toBe(true);
      expect(e['line2-plc']?.fellBack).toBe(false);
      expect(lines.some((l) => l.includes('line1-plc') && l.includes(String(busyPlc)))).toBe(true);
      expect(await readHr0(e['line1-plc']?.port ?? 0)).toHaveLength(2);
      expect(await readHr0(e['line2-plc']?.port ?? 0)).toHaveLength(2);
      expect(e['line1-plc']?.url).toMatch(/^modbus-tcp:\/\/127\.0\.0\.1:\d+ unit 1$/);
      expect(e['cnc1-opcua']?.url).toMatch(/^opc\.tcp:\/\/127\.0\.0\.1:\d+\/greenline$/);
      expect(e.control.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await sims?.stop();
      await sims?.stop(); // twice is harmless
    }
  });

  it('refuses invalid options with every problem listed', async () => {
    await expect(startSimulators({ speed: 0, seed: -1 })).rejects.toMatchObject({
      code: 'GL_ERR_SIM_CONFIG',
      message: expect.stringMatching(/seed.*speed/),
    });
  });
});

describe('runSimulatorsCli', () => {
  it('starts from a YAML config, prints the endpoints and stops on abort', async () => {
    const config = path.join(dataDir, 'sim.yaml');
    await writeFile(
      config,
      `seed: 7\nspeed: 30\nports:\n  line1Plc: 0\n  line2Plc: 0\n  line1Meter: 0\n  line2Meter: 0\n  opcua: 0\n  mqtt: 0\n  control: 0\nopcuaSecurity: false\ndataDir: ${JSON.stringify(dataDir)}\n`,
    );
    const out: string[] = [];
    const abort = new AbortController();
    let seed = -1;
    let plcPort = 0;
    const code = await runSimulatorsCli(['--config', config, '--speed', '60'], {
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      handleSignals: false,
      signal: abort.signal,
      onStarted: (sims) => {
        seed = sims.plant.seed;
        plcPort = sims.endpoints['line1-plc']?.port ?? 0;
        expect(sims.runner.speed).toBe(60); // the command line wins over the file
        setTimeout(() => abort.abort(), 200);
      },
    });
    expect(code).toBe(0);
    expect(seed).toBe(7);
    const text = out.join('');
    expect(text).toContain('modbus-tcp://127.0.0.1:');
    expect(text).toContain('opc.tcp://127.0.0.1:');
    expect(text).toContain('simulators/README.md');
    // everything is closed after the CLI returns
    await expect(readHr0(plcPort)).rejects.toThrow();
  });

  it('reports bad options with exit code 2', async () => {
    const err: string[] = [];
    const code = await runSimulatorsCli(['--seed', 'abc', '--speed', '99999'], {
      stdout: () => undefined,
      stderr: (t) => err.push(t),
      handleSignals: false,
    });
    expect(code).toBe(2);
    expect(err.join('')).toContain('GL_ERR_SIM_CONFIG');
    expect(err.join('')).toContain('--seed');
    expect(err.join('')).toContain('speed');
    expect(await runSimulatorsCli(['--bogus'], { stdout: () => undefined, stderr: () => undefined })).toBe(2);
    const help: string[] = [];
    expect(await runSimulatorsCli(['--help'], { stdout: (t) => help.push(t) })).toBe(0);
    expect(help.join('')).toContain('--seed');
  });
});
