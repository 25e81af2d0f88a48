/**
 * Registers ⇄ values. Pure.
 *
 * Byte order: a value's bytes are named A B C D … with A the most significant.
 * The four word orders say how those bytes sit in the registers on the wire:
 *
 * | order | 32-bit registers | 64-bit registers        | meaning                               |
 * |-------|------------------|-------------------------|---------------------------------------|
 * | ABCD  | AB CD            | AB CD EF GH             | big-endian                            |
 * | CDAB  | CD AB            | GH EF CD AB             | register order reversed               |
 * | BADC  | BA DC            | BA DC FE HG             | bytes swapped inside each register    |
 * | DCBA  | DC BA            | HG FE DC BA             | both: little-endian                   |
 *
 * 16-bit values follow the same rule: BADC and DCBA swap the two bytes of the
 * register, ABCD and CDAB read it as is. Strings never reorder registers (the
 * first register holds the first characters) but are byte-swapped under BADC
 * and DCBA; under ABCD and CDAB the high byte is the first character.
 * A bit-in-register (`hr:10.3`) numbers bits of the register as transmitted,
 * bit 0 least significant, whatever the word order.
 *
 * 64-bit integers are returned as JavaScript numbers: exact up to 2^53, the
 * nearest double above (a counter that large has lost its last digits; the
 * pipeline works in numbers, so a string would not serve it better).
 *
 * Floats that are NaN or ±Infinity do not decode: a sensor fault is not a value.
 */
import type { DataType, WordOrder } from '../../config/schema.js';

export type DecodedValue = number | boolean | string;

export type DecodeResult = { ok: true; value: DecodedValue } | { ok: false; reason: string };

export interface DecodeOptions {
  /** bit 0…15 of the register, for a `bool` at a bit-in-register address */
  bit?: number;
  /** string length in registers */
  length?: number;
}

/** Registers a value of this type occupies. */
export function registerCount(type: DataType, length?: number): number {
  switch (type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
    case 'string':
      if (length === undefined || !Number.isInteger(length) || length < 1) {
        throw new RangeError('a string needs a length of at least one register');
      }
      return length;
  }
}

const reversesRegisters = (order: WordOrder): boolean => order === 'CDAB' || order === 'DCBA';
const swapsBytes = (order: WordOrder): boolean => order === 'BADC' || order === 'DCBA';

/**
 * The bytes of the registers rearranged into (or, applied again, out of)
 * big-endian order: the mapping is its own inverse.
 */
function reorder(registers: readonly number[], order: WordOrder, reverse: boolean): Uint8Array {
  const n = registers.length;
  const bytes = new Uint8Array(n * 2);
  const swap = swapsBytes(order);
  for (let i = 0; i < n; i++) {
    const reg = registers[reverse ? n - 1 - i : i]!;
    const hi = (reg >> 8) & 0xff;
    const lo = reg & 0xff;
    bytes[2 * i] = swap ? lo : hi;
    bytes[2 * i + 1] = swap ? hi : lo;
  }
  return bytes;
}

function toRegisters(bytes: Uint8Array, order: WordOrder, reverse: boolean): number[] {
  const n = bytes.length / 2;
  const swap = swapsBytes(order);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const a = bytes[2 * i]!;
    const b = bytes[2 * i + 1]!;
    out[reverse ? n - 1 - i : i] = swap ? (b << 8) | a : (a << 8) | b;
  }
  return out;
}

function isRegister(r: unknown): r is number {
  return typeof r === 'number' && Number.isInteger(r) && r >= 0 && r <= 0xffff;
}

function finiteFloat(v: number): DecodeResult {
  if (Number.isNaN(v)) return { ok: false, reason: 'decode error: NaN' };
  if (!Number.isFinite(v)) return { ok: false, reason: `decode error: ${v > 0 ? 'Infinity' : '-Infinity'}` };
  return { ok: true, value: v };
}

/**
 * Decodes the registers of one value. `registers` holds exactly the value's
 * registers (extra ones are ignored, missing ones are a decode error).
 */
export function decodeRegisters(
  registers: readonly number[],
  type: DataType,
  order: WordOrder = 'ABCD',
  options: DecodeOptions = {},
): DecodeResult {
  return decodeAt(registers, 0, type, order, options.bit, options.length);
}

/** Big-endian scratch space for one numeric value (at most 4 registers): decoding allocates nothing else. */
const scratch = new DataView(new ArrayBuffer(8));

/**
 * Decodes the value whose first register is `registers[at]`, in place: the
 * same result as `decodeRegisters(registers.slice(at, at + width), …)`
 * without the copy. This is a poll cycle's hot path, one call per tag.
 */
export function decodeAt(
  registers: readonly number[],
  at: number,
  type: DataType,
  order: WordOrder = 'ABCD',
  bit?: number,
  length?: number,
): DecodeResult {
  let count: number;
  try {
    count = registerCount(type, length);
  } catch (err) {
    return { ok: false, reason: `decode error: ${(err as Error).message}` };
  }
  const available = Math.max(0, registers.length - at);
  if (available < count) {
    return { ok: false, reason: `decode error: ${type} needs ${count} registers, got ${available}` };
  }
  for (let i = at; i < at + count; i++) {
    const r = registers[i];
    if (!isRegister(r)) return { ok: false, reason: `decode error: ${String(r)} is not a register value` };
  }

  if (type === 'bool') {
    const reg = registers[at]!;
    if (bit === undefined) return { ok: true, value: reg !== 0 };
    if (!Number.isInteger(bit) || bit < 0 || bit > 15) {
      return { ok: false, reason: `decode error: bit ${bit} is out of range 0–15` };
    }
    return { ok: true, value: ((reg >> bit) & 1) === 1 };
  }

  if (type === 'string') {
    const bytes = reorder(registers.slice(at, at + count), order, false);
    let end = bytes.indexOf(0);
    if (end < 0) end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0x20) end--;
    return { ok: true, value: Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1') };
  }

  // the value's bytes in big-endian order (see the table at the top)
  const reverse = reversesRegisters(order);
  const swap = swapsBytes(order);
  for (let i = 0; i < count; i++) {
    const reg = registers[at + (reverse ? count - 1 - i : i)]!;
    scratch.setUint16(2 * i, swap ? ((reg & 0xff) << 8) | (reg >> 8) : reg);
  }
  switch (type) {
    case 'int16':
      return { ok: true, value: scratch.getInt16(0) };
    case 'uint16':
      return { ok: true, value: scratch.getUint16(0) };
    case 'int32':
      return { ok: true, value: scratch.getInt32(0) };
    case 'uint32':
      return { ok: true, value: scratch.getUint32(0) };
    case 'int64':
      return { ok: true, value: Number(scratch.getBigInt64(0)) };
    case 'uint64':
      return { ok: true, value: Number(scratch.getBigUint64(0)) };
    case 'float32':
      return finiteFloat(scratch.getFloat32(0));
    case 'float64':
      return finiteFloat(scratch.getFloat64(0));
  }
}

function integerIn(value: unknown, min: number, max: number, type: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${String(value)} is not a ${type} (${min} … ${max})`);
  }
  return value;
}

function bigIntIn(value: unknown, min: bigint, max: bigint, type: string): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isInteger(value)) v = BigInt(value);
  else throw new RangeError(`${String(value)} is not a ${type}`);
  if (v < min || v > max) throw new RangeError(`${String(value)} is out of range for ${type}`);
  return v;
}

/**
 * The registers that hold `value`, in the given order: the inverse of
 * `decodeRegisters`. Throws a RangeError for a value the type cannot hold.
 * A `bool` encodes as a whole register (0 or 1); `options.bit` sets that bit only.
 */
export function encodeValue(
  value: number | bigint | boolean | string,
  type: DataType,
  order: WordOrder = 'ABCD',
  options: DecodeOptions = {},
): number[] {
  const count = registerCount(type, options.length);
  if (type === 'bool') {
    if (typeof value !== 'boolean' && value !== 0 && value !== 1)
      throw new RangeError(`${String(value)} is not a bool`);
    const on = value === true || value === 1;
    if (options.bit === undefined) return [on ? 1 : 0];
    integerIn(options.bit, 0, 15, 'bit number');
    return [on ? 1 << options.bit : 0];
  }
  if (type === 'string') {
    if (typeof value !== 'string') throw new RangeError(`${String(value)} is not a string`);
    const text = Buffer.from(value, 'latin1');
    if (text.length > count * 2) throw new RangeError(`"${value}" needs more than ${count} registers`);
    const bytes = new Uint8Array(count * 2);
    bytes.set(text);
    return toRegisters(bytes, order, false);
  }

  const bytes = new Uint8Array(count * 2);
  const view = new DataView(bytes.buffer);
  switch (type) {
    case 'int16':
      view.setInt16(0, integerIn(value, -0x8000, 0x7fff, type));
      break;
    case 'uint16':
      view.setUint16(0, integerIn(value, 0, 0xffff, type));
      break;
    case 'int32':
      view.setInt32(0, integerIn(value, -0x80000000, 0x7fffffff, type));
      break;
    case 'uint32':
      view.setUint32(0, integerIn(value, 0, 0xffffffff, type));
      break;
    case 'int64':
      view.setBigInt64(0, bigIntIn(value, -(2n ** 63n), 2n ** 63n - 1n, type));
      break;
    case 'uint64':
      view.setBigUint64(0, bigIntIn(value, 0n, 2n ** 64n - 1n, type));
      break;
    case 'float32':
    case 'float64': {
      if (typeof value !== 'number') throw new RangeError(`${String(value)} is not a number`);
      if (type === 'float32') view.setFloat32(0, value);
      else view.setFloat64(0, value);
      break;
    }
  }
  return toRegisters(bytes, order, reversesRegisters(order));
}
