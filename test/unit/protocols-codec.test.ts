import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATA_TYPES, type DataType, WORD_ORDERS, type WordOrder } from '../../config/schema.js';
import { decodeAt, decodeRegisters, encodeValue, registerCount } from '../../protocols/modbus/codec.js';

const ok = (value: unknown) => ({ ok: true, value });

describe('registerCount', () => {
  it('gives the width of each type', () => {
    expect(registerCount('bool')).toBe(1);
    expect(registerCount('int16')).toBe(1);
    expect(registerCount('uint16')).toBe(1);
    expect(registerCount('int32')).toBe(2);
    expect(registerCount('uint32')).toBe(2);
    expect(registerCount('float32')).toBe(2);
    expect(registerCount('int64')).toBe(4);
    expect(registerCount('uint64')).toBe(4);
    expect(registerCount('float64')).toBe(4);
    expect(registerCount('string', 10)).toBe(10);
    expect(() => registerCount('string')).toThrow(RangeError);
  });
});

describe('decodeRegisters: known vectors in all four word orders', () => {
  // float32 123.456 = 0x42F6E979: bytes A=42 B=F6 C=E9 D=79
  const float32: Record<WordOrder, number[]> = {
    ABCD: [0x42f6, 0xe979],
    CDAB: [0xe979, 0x42f6],
    BADC: [0xf642, 0x79e9],
    DCBA: [0x79e9, 0xf642],
  };
  // int32 -2 = 0xFFFFFFFE
  const int32: Record<WordOrder, number[]> = {
    ABCD: [0xffff, 0xfffe],
    CDAB: [0xfffe, 0xffff],
    BADC: [0xffff, 0xfeff],
    DCBA: [0xfeff, 0xffff],
  };
  // uint64 2^40 + 5 = 0x0000_0100_0000_0005
  const uint64: Record<WordOrder, number[]> = {
    ABCD: [0x0000, 0x0100, 0x0000, 0x0005],
    CDAB: [0x0005, 0x0000, 0x0100, 0x0000],
    BADC: [0x0000, 0x0001, 0x0000, 0x0500],
    DCBA: [0x0500, 0x0000, 0x0001, 0x0000],
  };

  for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
    it(`float32 123.456 in ${order}`, () => {
      const r = decodeRegisters(float32[order], 'float32', order);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.value).toBeCloseTo(123.456, 4);
      expect(encodeValue(123.456, 'float32', order)).toEqual(float32[order]);
    });
    it(`int32 -2 in ${order}`, () => {
      expect(decodeRegisters(int32[order], 'int32', order)).toEqual(ok(-2));
      expect(decodeRegisters(int32[order], 'uint32', order)).toEqual(ok(0xfffffffe));
      expect(encodeValue(-2, 'int32', order)).toEqual(int32[order]);
    });
    it(`uint64 2^40+5 in ${order}`, () => {
      expect(decodeRegisters(uint64[order], 'uint64', order)).toEqual(ok(2 ** 40 + 5));
      expect(decodeRegisters(uint64[order], 'int64', order)).toEqual(ok(2 ** 40 + 5));
      expect(encodeValue(2 ** 40 + 5, 'uint64', order)).toEqual(uint64[order]);
    });
  }

  it('float64 1.5 big-endian and little-endian', () => {
    expect(decodeRegisters([0x3ff8, 0, 0, 0], 'float64', 'ABCD')).toEqual(ok(1.5));
    expect(decodeRegisters([0, 0, 0, 0xf83f], 'float64', 'DCBA')).toEqual(ok(1.5));
    expect(decodeRegisters([0, 0, 0, 0x3ff8], 'float64', 'CDAB')).toEqual(ok(1.5));
  });

  it('16-bit values: byte-swapped only under BADC and DCBA', () => {
    expect(decodeRegisters([0x0102], 'uint16', 'ABCD')).toEqual(ok(0x0102));
    expect(decodeRegisters([0x0102], 'uint16', 'CDAB')).toEqual(ok(0x0102));
    expect(decodeRegisters([0x0102], 'uint16', 'BADC')).toEqual(ok(0x0201));
    expect(decodeRegisters([0x0102], 'uint16', 'DCBA')).toEqual(ok(0x0201));
    expect(decodeRegisters([0xffff], 'int16')).toEqual(ok(-1));
    expect(decodeRegisters([0x8000], 'int16')).toEqual(ok(-32768));
    expect(decodeRegisters([0x7fff], 'int16')).toEqual(ok(32767));
  });

  it('int64 -1 and the extremes of 64 bits', () => {
    expect(decodeRegisters([0xffff, 0xffff, 0xffff, 0xffff], 'int64')).toEqual(ok(-1));
    // above 2^53 the result is the nearest double
    expect(decodeRegisters([0xffff, 0xffff, 0xffff, 0xffff], 'uint64')).toEqual(ok(2 ** 64));
    expect(decodeRegisters([0x8000, 0, 0, 0], 'int64')).toEqual(ok(-(2 ** 63)));
    // 2^53 + 1 is not a double: it comes back as 2^53
    expect(decodeRegisters([0x0020, 0, 0, 1], 'uint64')).toEqual(ok(9007199254740992));
    expect(decodeRegisters([0x001f, 0xffff, 0xffff, 0xffff], 'uint64')).toEqual(ok(Number.MAX_SAFE_INTEGER));
  });
});

describe('decodeRegisters: bools, strings, errors', () => {
  it('bool: a whole register or one bit of it', () => {
    expect(decodeRegisters([0], 'bool')).toEqual(ok(false));
    expect(decodeRegisters([7], 'bool')).toEqual(ok(true));
    expect(decodeRegisters([0b1000], 'bool', 'ABCD', { bit: 3 })).toEqual(ok(true));
    expect(decodeRegisters([0b1000], 'bool', 'ABCD', { bit: 2 })).toEqual(ok(false));
    expect(decodeRegisters([0x8000], 'bool', 'DCBA', { bit: 15 })).toEqual(ok(true));
  });

  it('string: two characters per register, high byte first, trailing NULs and spaces trimmed', () => {
    expect(decodeRegisters([0x5055, 0x4d50, 0x2d30, 0x3100], 'string', 'ABCD', { length: 4 })).toEqual(ok('PUMP-01'));
    expect(decodeRegisters([0x4142, 0x2020, 0x2020], 'string', 'ABCD', { length: 3 })).toEqual(ok('AB'));
    expect(decodeRegisters([0x4142, 0x0000, 0x4344], 'string', 'ABCD', { length: 3 })).toEqual(ok('AB'));
    expect(decodeRegisters([0x4142, 0x4344], 'string', 'CDAB', { length: 2 })).toEqual(ok('ABCD'));
    expect(decodeRegisters([0x4241, 0x4443], 'string', 'BADC', { length: 2 })).toEqual(ok('ABCD'));
    expect(decodeRegisters([0, 0], 'string', 'ABCD', { length: 2 })).toEqual(ok(''));
    expect(encodeValue('PUMP-01', 'string', 'ABCD', { length: 4 })).toEqual([0x5055, 0x4d50, 0x2d30, 0x3100]);
  });

  it('NaN and infinite floats are decode errors', () => {
    expect(decodeRegisters([0x7fc0, 0], 'float32')).toEqual({ ok: false, reason: 'decode error: NaN' });
    expect(decodeRegisters([0x7f80, 0], 'float32')).toEqual({ ok: false, reason: 'decode error: Infinity' });
    expect(decodeRegisters([0xff80, 0], 'float32')).toEqual({ ok: false, reason: 'decode error: -Infinity' });
    expect(decodeRegisters([0x7ff8, 0, 0, 0], 'float64')).toEqual({ ok: false, reason: 'decode error: NaN' });
  });

  it('too few registers or non-register values are decode errors', () => {
    const short = decodeRegisters([1], 'float32');
    expect(short.ok).toBe(false);
    if (!short.ok) expect(short.reason).toMatch(/^decode error: float32 needs 2 registers/);
    expect(decodeRegisters([70000], 'uint16').ok).toBe(false);
    expect(decodeRegisters([1, 2], 'string').ok).toBe(false);
  });

  it('extra registers are ignored', () => {
    expect(decodeRegisters([0x0001, 0x0002, 0x9999], 'uint32')).toEqual(ok(0x00010002));
  });
});

describe('encodeValue round-trips', () => {
  const cases: Array<[DataType, number]> = [
    ['int16', -12345],
    ['uint16', 54321],
    ['int32', -123456789],
    ['uint32', 4000000000],
    ['int64', -(2 ** 50) - 3],
    ['uint64', 2 ** 52 + 7],
    ['float32', 0.5],
    ['float64', Math.PI],
  ];
  for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
    for (const [type, value] of cases) {
      it(`${type} ${value} in ${order}`, () => {
        expect(decodeRegisters(encodeValue(value, type, order), type, order)).toEqual(ok(value));
      });
    }
  }

  it('refuses values the type cannot hold', () => {
    expect(() => encodeValue(40000, 'int16')).toThrow(RangeError);
    expect(() => encodeValue(-1, 'uint32')).toThrow(RangeError);
    expect(() => encodeValue(1.5, 'int32')).toThrow(RangeError);
    expect(() => encodeValue('toolong', 'string', 'ABCD', { length: 2 })).toThrow(RangeError);
    expect(encodeValue(2n ** 64n - 1n, 'uint64')).toEqual([0xffff, 0xffff, 0xffff, 0xffff]);
  });

  it('encodes bools as a register or a bit', () => {
    expect(encodeValue(true, 'bool')).toEqual([1]);
    expect(encodeValue(true, 'bool', 'ABCD', { bit: 4 })).toEqual([16]);
  });
});

describe("decodeAt (in place, the poll cycle's path)", () => {
  it('decodes inside a longer response exactly as decodeRegisters decodes a copy', () => {
    const register = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        fc.array(register, { minLength: 0, maxLength: 12 }),
        fc.nat({ max: 12 }),
        fc.constantFrom(...DATA_TYPES),
        fc.constantFrom(...WORD_ORDERS),
        fc.option(fc.integer({ min: -1, max: 16 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        (registers, at, type, order, bit, length) => {
          const copy = registers.slice(at, at + (type === 'string' ? (length ?? 0) : 4));
          expect(decodeAt(registers, at, type, order, bit, length)).toEqual(
            decodeRegisters(copy, type, order, { bit, length }),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('says how many registers were there when the response is short', () => {
    expect(decodeAt([1, 2, 3], 2, 'float32')).toEqual({
      ok: false,
      reason: 'decode error: float32 needs 2 registers, got 1',
    });
    expect(decodeAt([1], 5, 'uint16')).toEqual({ ok: false, reason: 'decode error: uint16 needs 1 registers, got 0' });
  });

  it('reads the same 32-bit value from every offset', () => {
    const value = encodeValue(-123.5, 'float32', 'CDAB');
    for (let at = 0; at < 5; at++) {
      const regs = [7, 7, 7, 7, 7, 7];
      regs.splice(at, 2, ...value);
      expect(decodeAt(regs, at, 'float32', 'CDAB')).toEqual(ok(-123.5));
    }
  });
});
