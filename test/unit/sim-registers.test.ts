import { describe, expect, it } from 'vitest';
import { Plant } from '../../simulators/model/plant.js';
import { line1PlcMap, line2PlcMap, sdm630Map } from '../../simulators/servers/register-maps.js';
import {
  BitBank,
  decodeRegisters,
  encodeRegisters,
  ModbusException,
  RegisterBank,
  type WordOrder,
} from '../../simulators/servers/registers.js';

const ORDERS: WordOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

describe('encodeRegisters', () => {
  it('puts float32 1.0 in the documented word orders', () => {
    expect(encodeRegisters('float32', 1, 'ABCD')).toEqual([0x3f80, 0x0000]);
    expect(encodeRegisters('float32', 1, 'CDAB')).toEqual([0x0000, 0x3f80]);
    expect(encodeRegisters('float32', 1, 'BADC')).toEqual([0x803f, 0x0000]);
    expect(encodeRegisters('float32', 1, 'DCBA')).toEqual([0x0000, 0x803f]);
  });

  it('encodes uint32 0x12345678 high word first (ABCD) or low word first (CDAB)', () => {
    expect(encodeRegisters('uint32', 0x12345678, 'ABCD')).toEqual([0x1234, 0x5678]);
    expect(encodeRegisters('uint32', 0x12345678, 'CDAB')).toEqual([0x5678, 0x1234]);
  });

  it('encodes signed and 64-bit values', () => {
    expect(encodeRegisters('int16', -1)).toEqual([0xffff]);
    expect(encodeRegisters('int32', -12345, 'ABCD')).toEqual([0xffff, 0xcfc7]);
    expect(encodeRegisters('uint64', 2n ** 40n + 5n, 'ABCD')).toEqual([0x0000, 0x0100, 0x0000, 0x0005]);
    expect(encodeRegisters('float64', 1, 'ABCD')).toEqual([0x3ff0, 0, 0, 0]);
    expect(encodeRegisters('float64', 1, 'CDAB')).toEqual([0, 0, 0, 0x3ff0]);
  });

  it('clamps integers to the type range', () => {
    expect(encodeRegisters('int16', 99999)).toEqual([0x7fff]);
    expect(encodeRegisters('uint16', -5)).toEqual([0]);
    expect(encodeRegisters('uint32', 2 ** 32 + 7, 'ABCD')).toEqual([0xffff, 0xffff]);
  });

  it('packs ASCII two characters per register, first in the high byte', () => {
    expect(encodeRegisters('string', 'IMM-7000', 'ABCD', 4)).toEqual([0x494d, 0x4d2d, 0x3730, 0x3030]);
    expect(encodeRegisters('string', 'AB', 'ABCD', 2)).toEqual([0x4142, 0x0000]);
  });

  it('round-trips through decodeRegisters in every order', () => {
    for (const order of ORDERS) {
      expect(decodeRegisters('float32', encodeRegisters('float32', 230.5, order), order)).toBeCloseTo(230.5, 4);
      expect(decodeRegisters('int32', encodeRegisters('int32', -7_000_000, order), order)).toBe(-7_000_000);
      expect(decodeRegisters('uint32', encodeRegisters('uint32', 4_294_967_290, order), order)).toBe(4_294_967_290);
      expect(decodeRegisters('float64', encodeRegisters('float64', 61.123456789, order), order)).toBe(61.123456789);
      expect(decodeRegisters('uint64', encodeRegisters('uint64', 123_456_789_012, order), order)).toBe(
        123_456_789_012n,
      );
    }
  });
});

describe('RegisterBank', () => {
  const bank = new RegisterBank(
    [
      { offset: 0, type: 'uint16', name: 'a', description: '', read: () => 7 },
      { offset: 2, type: 'float32', name: 'b', description: '', read: () => 1 },
    ],
    { defaultOrder: 'CDAB' },
  );

  it('reads ranges and applies the default word order', () => {
    expect(bank.read(2, 2)).toEqual([0x0000, 0x3f80]);
    expect(bank.read(3, 1)).toEqual([0x3f80]);
  });

  it('answers exception 2 for unmapped addresses, gaps included', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof ModbusException ? err.modbusErrorCode : -1;
      }
      return 0;
    };
    expect(code(() => bank.read(1, 1))).toBe(2);
    expect(code(() => bank.read(0, 4))).toBe(2);
    expect(code(() => bank.read(4, 1))).toBe(2);
    expect(code(() => bank.read(0, 126))).toBe(3);
  });

  it('reads unmapped addresses inside the zero-fill range as 0', () => {
    const meter = new RegisterBank([{ offset: 4, type: 'uint16', name: 'x', description: '', read: () => 9 }], {
      zeroFill: [0, 0x10],
    });
    expect(meter.read(0, 6)).toEqual([0, 0, 0, 0, 9, 0]);
    expect(() => meter.read(0x10, 2)).toThrow(ModbusException);
  });

  it('refuses overlapping fields', () => {
    expect(
      () =>
        new RegisterBank([
          { offset: 0, type: 'uint32', name: 'a', description: '', read: () => 0 },
          { offset: 1, type: 'uint16', name: 'b', description: '', read: () => 0 },
        ]),
    ).toThrow(/mapped twice/);
  });

  it('answers exception 2 for unmapped bits', () => {
    const bits = new BitBank([{ address: 0, name: 'on', description: '', read: () => true }]);
    expect(bits.read(0)).toBe(true);
    expect(() => bits.read(1)).toThrow(ModbusException);
  });
});

describe('device register maps', () => {
  const plant = new Plant({ seed: 11 });
  plant.step(120_000);

  it('line1-plc exposes imm1 and pk1 as documented', () => {
    const { holding, coils, discreteInputs } = line1PlcMap(plant);
    if (!holding || !coils || !discreteInputs) throw new Error('map incomplete');
    const imm1 = plant.machines.imm1;
    const pk1 = plant.machines.pk1;
    expect(holding.read(0, 1)).toEqual([imm1.state]);
    expect(decodeRegisters('uint32', holding.read(2, 2), 'ABCD')).toBe(imm1.counter('total'));
    expect(decodeRegisters('uint32', holding.read(4, 2), 'ABCD')).toBe(imm1.counter('good'));
    expect(decodeRegisters('uint32', holding.read(6, 2), 'CDAB')).toBe(imm1.counter('reject'));
    expect(decodeRegisters('float32', holding.read(8, 2), 'ABCD')).toBeCloseTo(
      imm1.processValue('barrelTemperature'),
      3,
    );
    expect(decodeRegisters('int16', holding.read(10, 1))).toBe(Math.round(imm1.processValue('hydraulicPressure') * 10));
    expect(decodeRegisters('uint16', holding.read(11, 1))).toBe(Math.round(imm1.lastCycleTimeS * 10));
    expect(decodeRegisters('uint64', holding.read(12, 4), 'ABCD')).toBe(BigInt(imm1.operatingSeconds));
    expect(decodeRegisters('uint32', holding.read(22, 2), 'CDAB')).toBe(pk1.counter('total'));
    expect(decodeRegisters('float32', holding.read(28, 2), 'CDAB')).toBeCloseTo(
      pk1.processValue('sealJawTemperature'),
      3,
    );
    expect(Buffer.from(holding.read(30, 4).flatMap((w) => [w >> 8, w & 0xff])).toString('latin1')).toBe('IMM-7000');
    expect(holding.read(34, 4)).toEqual([0, 0, 0, 0]);
    imm1.setOverride('mouldTemperatureDeviation', -1.23);
    expect(decodeRegisters('int32', holding.read(40, 2), 'ABCD')).toBe(-123);
    expect(holding.read(16, 4)).toEqual([0, 0, 0, 0]);
    expect(() => holding.read(99, 2)).toThrow(ModbusException);
    expect(coils.read(0)).toBe(true);
    expect(typeof discreteInputs.read(0)).toBe('boolean');
  });

  it('line2-plc exposes wash1 with CDAB counters and an ABCD float64', () => {
    const { holding } = line2PlcMap(plant);
    if (!holding) throw new Error('map incomplete');
    const wash1 = plant.machines.wash1;
    expect(decodeRegisters('uint32', holding.read(2, 2), 'CDAB')).toBe(wash1.counter('total'));
    expect(decodeRegisters('float64', holding.read(8, 4), 'ABCD')).toBe(wash1.processValue('washWaterTemperature'));
    expect(decodeRegisters('int16', holding.read(12, 1))).toBe(Math.round(wash1.processValue('pumpPressure') * 100));
  });

  it('the SDM630 map has float32 ABCD at the Eastron offsets', () => {
    const { input, holding } = sdm630Map(plant.meters.line1);
    if (!input) throw new Error('map incomplete');
    expect(holding).toBeUndefined();
    const live = plant.meters.line1.live;
    const f = (offset: number) => decodeRegisters('float32', input.read(offset, 2), 'ABCD') as number;
    expect(f(0x0000)).toBeCloseTo(live.phases[0].voltageV, 3);
    expect(f(0x0034)).toBeCloseTo(live.totalPowerW, 0);
    expect(f(0x003e)).toBeCloseTo(live.powerFactor, 5);
    expect(f(0x0046)).toBeCloseTo(live.frequencyHz, 4);
    expect(f(0x0048)).toBeCloseTo(plant.meters.line1.importKwh, 1);
    expect(f(0x004a)).toBe(0);
    expect(f(0x0156)).toBeCloseTo(plant.meters.line1.importKwh, 1);
    expect(input.read(0x0100, 2)).toEqual([0, 0]);
    expect(() => input.read(0x0181, 1)).toThrow(ModbusException);
  });
});
