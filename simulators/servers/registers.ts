/**
 * Register encoding for the simulated Modbus devices, written with Buffer on
 * purpose: the simulators share no code with the gateway's decoders, so a
 * decoding bug cannot hide behind the same bug in the encoder.
 */

/** Order of the 16-bit words (and their bytes) of a multi-register value. A is the most significant byte. */
export type WordOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

export type RegisterType =
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'int64'
  | 'float32'
  | 'float64'
  | 'string';

export type RegisterValue = number | bigint | string;

/** Modbus exception codes the simulators answer with. */
export const ModbusExceptionCode = {
  illegalFunction: 0x01,
  illegalDataAddress: 0x02,
  illegalDataValue: 0x03,
} as const;

/** Thrown from a server vector; modbus-serial's ServerTCP turns `modbusErrorCode` into an exception response. */
export class ModbusException extends Error {
  readonly modbusErrorCode: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'ModbusException';
    this.modbusErrorCode = code;
  }
}

const TYPE_WORDS: Readonly<Record<Exclude<RegisterType, 'string'>, number>> = {
  uint16: 1,
  int16: 1,
  uint32: 2,
  int32: 2,
  uint64: 4,
  int64: 4,
  float32: 2,
  float64: 4,
};

export function registerCount(type: RegisterType, stringLength = 0): number {
  return type === 'string' ? Math.ceil(stringLength / 2) : TYPE_WORDS[type];
}

/**
 * Encodes a value into 16-bit register words in the given order.
 * Integers are rounded and clamped to the type's range; strings are ASCII,
 * two characters per register, first character in the high byte, padded with NUL.
 */
export function encodeRegisters(
  type: RegisterType,
  value: RegisterValue,
  order: WordOrder = 'ABCD',
  stringRegisters = 0,
): number[] {
  if (type === 'string') {
    const buf = Buffer.alloc(stringRegisters * 2);
    buf.write(String(value).slice(0, stringRegisters * 2), 'latin1');
    return wordsOf(buf);
  }
  const words = TYPE_WORDS[type];
  const buf = Buffer.alloc(words * 2);
  switch (type) {
    case 'uint16':
      buf.writeUInt16BE(clampInt(value, 0, 0xffff));
      break;
    case 'int16':
      buf.writeInt16BE(clampInt(value, -0x8000, 0x7fff));
      break;
    case 'uint32':
      buf.writeUInt32BE(clampInt(value, 0, 0xffffffff));
      break;
    case 'int32':
      buf.writeInt32BE(clampInt(value, -0x80000000, 0x7fffffff));
      break;
    case 'uint64':
      buf.writeBigUInt64BE(clampBig(value, 0n, 0xffffffffffffffffn));
      break;
    case 'int64':
      buf.writeBigInt64BE(clampBig(value, -(2n ** 63n), 2n ** 63n - 1n));
      break;
    case 'float32':
      buf.writeFloatBE(Number(value));
      break;
    case 'float64':
      buf.writeDoubleBE(Number(value));
      break;
  }
  return reorder(buf, order);
}

/** Inverse of encodeRegisters for numbers, used by tests and by the docs' examples. */
export function decodeRegisters(
  type: Exclude<RegisterType, 'string'>,
  words: readonly number[],
  order: WordOrder = 'ABCD',
): number | bigint {
  const n = TYPE_WORDS[type];
  if (words.length !== n) throw new RangeError(`${type} needs ${n} registers, got ${words.length}`);
  // Reordering is its own inverse for all four orders.
  const wire = Buffer.alloc(n * 2);
  words.forEach((w, i) => wire.writeUInt16BE(w, i * 2));
  const buf = Buffer.alloc(n * 2);
  reorder(wire, order).forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  switch (type) {
    case 'uint16':
      return buf.readUInt16BE();
    case 'int16':
      return buf.readInt16BE();
    case 'uint32':
      return buf.readUInt32BE();
    case 'int32':
      return buf.readInt32BE();
    case 'uint64':
      return buf.readBigUInt64BE();
    case 'int64':
      return buf.readBigInt64BE();
    case 'float32':
      return buf.readFloatBE();
    case 'float64':
      return buf.readDoubleBE();
  }
}

function reorder(bigEndian: Buffer, order: WordOrder): number[] {
  const words = wordsOf(bigEndian);
  if (words.length === 1) return words; // a single register is always big-endian on the wire
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const reverseWords = order === 'CDAB' || order === 'DCBA';
  const out = reverseWords ? words.reverse() : words;
  return swapBytes ? out.map((w) => ((w & 0xff) << 8) | (w >> 8)) : out;
}

function wordsOf(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i += 2) out.push(buf.readUInt16BE(i));
  return out;
}

function clampInt(value: RegisterValue, lo: number, hi: number): number {
  const n = Math.round(Number(value));
  if (Number.isNaN(n)) return 0;
  return Math.min(hi, Math.max(lo, n));
}

function clampBig(value: RegisterValue, lo: bigint, hi: bigint): bigint {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else {
    const num = Math.round(Number(value));
    n = Number.isFinite(num) ? BigInt(num) : 0n;
  }
  return n < lo ? lo : n > hi ? hi : n;
}

// ------------------------------------------------------------------- banks

export interface RegisterField {
  /** 0-based wire offset of the first register. */
  readonly offset: number;
  readonly type: RegisterType;
  /** Word order for multi-register values; defaults to the bank's device order. */
  readonly order?: WordOrder;
  /** Number of registers of a string field. */
  readonly registers?: number;
  /** Raw = engineering value × scale (integers only). */
  readonly scale?: number;
  readonly name: string;
  readonly unit?: string;
  readonly description: string;
  /** Engineering value, read from the model at request time. */
  readonly read: () => RegisterValue;
}

export interface RegisterBankOptions {
  /** Word order of fields that do not name one. */
  readonly defaultOrder?: WordOrder;
  /**
   * Addresses in [from, to] that no field covers read as 0 instead of raising
   * exception 2 (as meters do for parameters they do not measure).
   */
  readonly zeroFill?: readonly [number, number];
}

interface Slot {
  readonly field: RegisterField;
  readonly index: number;
}

/** A table of registers: answers reads of any range, encoding each field once per request. */
export class RegisterBank {
  readonly fields: readonly RegisterField[];
  readonly defaultOrder: WordOrder;
  private readonly slots = new Map<number, Slot>();
  private readonly zeroFill: readonly [number, number] | null;

  constructor(fields: readonly RegisterField[], options: RegisterBankOptions = {}) {
    this.fields = fields;
    this.defaultOrder = options.defaultOrder ?? 'ABCD';
    this.zeroFill = options.zeroFill ?? null;
    for (const field of fields) {
      const n = registerCount(field.type, (field.registers ?? 0) * 2);
      if (field.type === 'string' && !field.registers) throw new RangeError(`${field.name}: string needs registers`);
      for (let i = 0; i < n; i++) {
        const addr = field.offset + i;
        if (this.slots.has(addr)) throw new RangeError(`register ${addr} is mapped twice (${field.name})`);
        this.slots.set(addr, { field, index: i });
      }
    }
  }

  /** Words for [address, address + length), or a ModbusException. */
  read(address: number, length: number): number[] {
    if (length < 1 || length > 125) {
      throw new ModbusException(ModbusExceptionCode.illegalDataValue, `quantity ${length} is outside 1..125`);
    }
    const out: number[] = [];
    const cache = new Map<RegisterField, number[]>();
    for (let addr = address; addr < address + length; addr++) {
      const slot = this.slots.get(addr);
      if (!slot) {
        if (this.zeroFill && addr >= this.zeroFill[0] && addr <= this.zeroFill[1]) {
          out.push(0);
          continue;
        }
        throw new ModbusException(ModbusExceptionCode.illegalDataAddress, `register ${addr} is not mapped`);
      }
      let words = cache.get(slot.field);
      if (!words) {
        words = this.encodeField(slot.field);
        cache.set(slot.field, words);
      }
      out.push(words[slot.index] ?? 0);
    }
    return out;
  }

  encodeField(field: RegisterField): number[] {
    const raw = field.read();
    const order = field.order ?? this.defaultOrder;
    if (field.type === 'string') return encodeRegisters('string', raw, order, field.registers ?? 0);
    const scaled = field.scale !== undefined && typeof raw === 'number' ? raw * field.scale : raw;
    return encodeRegisters(field.type, scaled, order);
  }
}

export interface BitField {
  readonly address: number;
  readonly name: string;
  readonly description: string;
  readonly read: () => boolean;
}

export class BitBank {
  private readonly bits = new Map<number, BitField>();
  constructor(readonly fields: readonly BitField[]) {
    for (const f of fields) {
      if (this.bits.has(f.address)) throw new RangeError(`bit ${f.address} is mapped twice (${f.name})`);
      this.bits.set(f.address, f);
    }
  }

  read(address: number): boolean {
    const f = this.bits.get(address);
    if (!f) throw new ModbusException(ModbusExceptionCode.illegalDataAddress, `bit ${address} is not mapped`);
    return f.read();
  }
}
