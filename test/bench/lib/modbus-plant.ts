/**
 * The simulated plant of the Modbus benchmark: N devices, each with the same
 * 100-tag register map, the kind a PLC or power meter exposes: floats in a
 * row, a status table further on, 32-bit counters with spare registers
 * between them, a few input registers and coils.
 *
 * | tags | type    | where                              |
 * |------|---------|------------------------------------|
 * | 40   | float32 | hr:0, 2, … 78 (contiguous)         |
 * | 20   | uint16  | hr:100 … 119                       |
 * | 20   | int32   | hr:200, 204, … 276 (2 spare each)  |
 * | 10   | uint16  | ir:0 … 9                           |
 * | 10   | bool    | coil:0 … 9                         |
 *
 * The gateway's planner reads that in 5 requests (hr 0+80, hr 100+20,
 * hr 200+78, ir 0+10, coil 0+10); a per-tag poller sends 100.
 */
import { encodeValue } from '../../../protocols/modbus/codec.js';

export interface BenchTag {
  readonly id: string;
  readonly address: string;
  readonly type: 'float32' | 'uint16' | 'int32' | 'bool';
  /** area and wire offset, for the per-tag poller */
  readonly area: 'hr' | 'ir' | 'coil';
  readonly offset: number;
  readonly width: number;
}

export const HOLDING_REGISTERS = 300;
export const INPUT_REGISTERS = 10;
export const COILS = 10;

export function benchTags(device: number): BenchTag[] {
  const tags: BenchTag[] = [];
  const add = (area: BenchTag['area'], offset: number, type: BenchTag['type']) => {
    const width = type === 'float32' || type === 'int32' ? 2 : 1;
    const prefix = area === 'coil' ? 'coil' : area;
    tags.push({ id: `d${device}.t${tags.length}`, address: `${prefix}:${offset}`, type, area, offset, width });
  };
  for (let i = 0; i < 40; i++) add('hr', 2 * i, 'float32');
  for (let i = 0; i < 20; i++) add('hr', 100 + i, 'uint16');
  for (let i = 0; i < 20; i++) add('hr', 200 + 4 * i, 'int32');
  for (let i = 0; i < 10; i++) add('ir', i, 'uint16');
  for (let i = 0; i < 10; i++) add('coil', i, 'bool');
  return tags;
}

/** The device config the gateway reads (before schema defaults). */
export function benchDevice(device: number, port: number, intervalMs: number): Record<string, unknown> {
  return {
    protocol: 'modbus-tcp',
    id: `d${device}`,
    host: '127.0.0.1',
    port,
    timeoutMs: 1000,
    pollGroups: { default: intervalMs },
    tags: benchTags(device).map((t) => ({ id: t.id, address: t.address, type: t.type })),
  };
}

/** Holding-register contents at a step of the simulation: every value valid, most of them moving. */
export function holdingRegisters(step: number, device: number): number[] {
  const regs = new Array<number>(HOLDING_REGISTERS).fill(0);
  for (let i = 0; i < 40; i++) {
    const v = encodeValue(Math.fround(230 + device + i / 8 + (step % 1000) / 100), 'float32');
    regs[2 * i] = v[0]!;
    regs[2 * i + 1] = v[1]!;
  }
  for (let i = 0; i < 20; i++) regs[100 + i] = (step + i) & 0xffff;
  for (let i = 0; i < 20; i++) {
    const v = encodeValue(step * 10 + i - 100_000, 'int32');
    regs[200 + 4 * i] = v[0]!;
    regs[201 + 4 * i] = v[1]!;
  }
  return regs;
}
