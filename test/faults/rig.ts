/**
 * Shared parts of the fault-injection suite: simulated Modbus devices of the
 * benchmark's register map with moving values, the gateway in a child
 * process (so it can be killed and its RSS read alone), health polling.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BadModbusServer } from '../integration/peers/bad-modbus-server.js';
import { type GatewayHealth, health } from '../bench/lib/gateway-process.js';
import { COILS, holdingRegisters, INPUT_REGISTERS } from '../bench/lib/modbus-plant.js';
import { rssMBOf } from '../bench/lib/sampler.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tempDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `gl-faults-${name}-`));
}

export function modbusDevice(index: number, port?: number): Promise<BadModbusServer> {
  return BadModbusServer.start({
    holdingRegisters: holdingRegisters(0, index),
    inputRegisters: Array.from({ length: INPUT_REGISTERS }, (_, k) => 1000 + k),
    coils: COILS,
    ...(port === undefined ? {} : { port }),
  });
}

/** moves the values of the servers in `devices` every 100 ms (the array may change: a restart replaces a server) */
export function moveValues(devices: BadModbusServer[]): () => void {
  let step = 0;
  const timer = setInterval(() => {
    step++;
    devices.forEach((s, i) => {
      s.set(0, holdingRegisters(step, i));
      s.coils[step % COILS] = s.coils[step % COILS] ? 0 : 1;
    });
  }, 100);
  return () => clearInterval(timer);
}

/** polls until `check` holds; resolves with the ms it took, rejects after `timeoutMs` */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 10,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

export function deviceOf(h: GatewayHealth, id: string) {
  const d = h.devices.find((x) => x.id === id);
  if (!d) throw new Error(`no device ${id} in health`);
  return d;
}

export { health, rssMBOf };
