/**
 * A generated plant config for the whole gateway: N Modbus TCP devices of the
 * benchmark's 100-tag map (modbus-plant.ts), one line with one machine whose
 * state, counters and energy come from device 0, a signed-in user.
 */
import type { PlantConfigInput } from '../../../config/schema.js';
import { benchDevice } from './modbus-plant.js';

export const BENCH_USER = { username: 'bench', password: 'bench-password-1', role: 'admin' } as const;

/** device 0's uint16 at hr:119: left alone by the value mover, changed only at known instants */
export const PROBE_TAG = 'd0.t59';
export const PROBE_REGISTER = 119;

export interface PlantOptions {
  readonly storePath: string;
  readonly intervalMs: number;
  readonly liveMaxHz?: number;
  /** more devices (OPC UA, MQTT) beside the Modbus ones */
  readonly extraDevices?: readonly Record<string, unknown>[];
}

export function benchPlant(ports: readonly number[], options: PlantOptions): PlantConfigInput {
  return {
    site: { id: 'bench', name: 'Bench Works', timezone: 'UTC' },
    areas: [{ id: 'a1', name: 'Hall' }],
    lines: [
      {
        id: 'L1',
        name: 'Line 1',
        area: 'a1',
        outputMachine: 'M1',
        calendar: 'c1',
        energy: { kwhTag: 'd0.t0' },
        machines: [
          {
            id: 'M1',
            name: 'Press',
            idealCycleTimeS: 1,
            // a coil: true = running, false = idle
            state: { tag: 'd0.t90', map: { true: 'running', false: 'idle' } },
            counters: { total: 'd0.t60', good: 'd0.t61' },
          },
        ],
      },
    ],
    devices: [
      ...ports.map((port, i) => benchDevice(i, port, options.intervalMs)),
      ...(options.extraDevices ?? []),
    ] as PlantConfigInput['devices'],
    calendars: [{ id: 'c1', shifts: [{ id: 'all-day', start: '00:00', end: '23:59' }] }],
    store: { path: options.storePath },
    server: { host: '127.0.0.1', port: 0, liveMaxHz: options.liveMaxHz ?? 4 },
    users: [BENCH_USER],
  } as PlantConfigInput;
}
