/**
 * Register maps of the simulated Modbus devices: the two line PLCs and the
 * Eastron SDM630 power meters. Offsets are 0-based wire addresses; manuals
 * number the same registers from 1 (4xxxx holding, 3xxxx input).
 * simulators/README.md documents the same tables.
 */
import { MachineState } from '../model/codes.js';
import type { MachineModel } from '../model/machine.js';
import type { Plant } from '../model/plant.js';
import type { PowerMeterModel } from '../model/power-meter.js';
import { BitBank, type BitField, RegisterBank, type RegisterField } from './registers.js';

export interface ModbusMap {
  readonly holding?: RegisterBank;
  readonly input?: RegisterBank;
  readonly coils?: BitBank;
  readonly discreteInputs?: BitBank;
}

/** The state, reason and three counters every PLC exposes per machine. */
function machineBlock(
  m: MachineModel,
  base: number,
  orders: { total: 'ABCD' | 'CDAB'; good: 'ABCD' | 'CDAB'; reject: 'ABCD' | 'CDAB' },
): RegisterField[] {
  const id = m.id;
  return [
    {
      offset: base,
      type: 'uint16',
      name: `${id}.state`,
      description: `${id} state code (0 off … 5 planned stop)`,
      read: () => m.state,
    },
    { offset: base + 1, type: 'uint16', name: `${id}.reason`, description: `${id} reason code`, read: () => m.reason },
    {
      offset: base + 2,
      type: 'uint32',
      order: orders.total,
      name: `${id}.totalCount`,
      unit: 'parts',
      description: `${id} total parts (wraps at 2^32)`,
      read: () => m.counter('total'),
    },
    {
      offset: base + 4,
      type: 'uint32',
      order: orders.good,
      name: `${id}.goodCount`,
      unit: 'parts',
      description: `${id} good parts (wraps at 2^32)`,
      read: () => m.counter('good'),
    },
    {
      offset: base + 6,
      type: 'uint32',
      order: orders.reject,
      name: `${id}.rejectCount`,
      unit: 'parts',
      description: `${id} rejected parts (wraps at 2^32)`,
      read: () => m.counter('reject'),
    },
  ];
}

/** line1-plc: imm1 and pk1. Device word order ABCD; some fields are CDAB as noted. */
export function line1PlcMap(plant: Plant): ModbusMap {
  const imm1 = plant.machines.imm1;
  const pk1 = plant.machines.pk1;
  const holding = new RegisterBank(
    [
      ...machineBlock(imm1, 0, { total: 'ABCD', good: 'ABCD', reject: 'CDAB' }),
      {
        offset: 8,
        type: 'float32',
        name: 'imm1.barrelTemperature',
        unit: '°C',
        description: 'imm1 barrel temperature',
        read: () => imm1.processValue('barrelTemperature'),
      },
      {
        offset: 10,
        type: 'int16',
        scale: 10,
        name: 'imm1.hydraulicPressure',
        unit: 'bar',
        description: 'imm1 hydraulic pressure, raw = bar × 10',
        read: () => imm1.processValue('hydraulicPressure'),
      },
      {
        offset: 11,
        type: 'uint16',
        scale: 10,
        name: 'imm1.lastCycleTime',
        unit: 's',
        description: 'imm1 last cycle time, raw = s × 10 (0.1 s units)',
        read: () => imm1.lastCycleTimeS,
      },
      {
        offset: 12,
        type: 'uint64',
        name: 'imm1.operatingSeconds',
        unit: 's',
        description: 'imm1 operating seconds (time in state running)',
        read: () => imm1.operatingSeconds,
      },
      ...machineBlock(pk1, 20, { total: 'CDAB', good: 'CDAB', reject: 'CDAB' }),
      {
        offset: 28,
        type: 'float32',
        order: 'CDAB',
        name: 'pk1.sealJawTemperature',
        unit: '°C',
        description: 'pk1 seal-jaw temperature',
        read: () => pk1.processValue('sealJawTemperature'),
      },
      {
        offset: 30,
        type: 'string',
        registers: 8,
        name: 'imm1.model',
        description: 'imm1 machine model: ASCII, 2 chars per register, high byte first, NUL-padded to 16 bytes',
        read: () => imm1.params.model,
      },
      {
        offset: 40,
        type: 'int32',
        scale: 100,
        name: 'imm1.mouldTemperatureDeviation',
        unit: '°C',
        description: 'imm1 mould temperature deviation, raw = °C × 100 (signed)',
        read: () => imm1.processValue('mouldTemperatureDeviation'),
      },
    ],
    { defaultOrder: 'ABCD', zeroFill: [0, PLC_DATA_REGISTERS - 1] },
  );
  const coils: BitField[] = [
    {
      address: 0,
      name: 'imm1.heaterOn',
      description: 'imm1 barrel heaters on (all states but off and planned stop)',
      read: () => imm1.state !== MachineState.off && imm1.state !== MachineState.planned,
    },
    {
      address: 1,
      name: 'pk1.runningLamp',
      description: 'pk1 green stack lamp (state running)',
      read: () => pk1.state === MachineState.running,
    },
  ];
  const discreteInputs: BitField[] = [
    {
      address: 0,
      name: 'imm1.safetyDoorClosed',
      description: 'imm1 safety door closed (open during fault, setup and planned stops)',
      read: () =>
        imm1.state === MachineState.running || imm1.state === MachineState.idle || imm1.state === MachineState.off,
    },
  ];
  return { holding, coils: new BitBank(coils), discreteInputs: new BitBank(discreteInputs) };
}

/** line2-plc: wash1. Device word order CDAB; the float64 is ABCD. */
export function line2PlcMap(plant: Plant): ModbusMap {
  const wash1 = plant.machines.wash1;
  const holding = new RegisterBank(
    [
      ...machineBlock(wash1, 0, { total: 'CDAB', good: 'CDAB', reject: 'CDAB' }),
      {
        offset: 8,
        type: 'float64',
        order: 'ABCD',
        name: 'wash1.washWaterTemperature',
        unit: '°C',
        description: 'wash1 wash-water temperature',
        read: () => wash1.processValue('washWaterTemperature'),
      },
      {
        offset: 12,
        type: 'int16',
        scale: 100,
        name: 'wash1.pumpPressure',
        unit: 'bar',
        description: 'wash1 pump pressure, raw = bar × 100',
        read: () => wash1.processValue('pumpPressure'),
      },
    ],
    { defaultOrder: 'CDAB', zeroFill: [0, PLC_DATA_REGISTERS - 1] },
  );
  return { holding };
}

/** Last input register of the SDM630 parameter table; unmapped ones up to here read 0. */
export const SDM630_LAST_REGISTER = 0x0180;

/**
 * A PLC's data memory is one contiguous block: unused words inside it read as
 * 0, as on a real controller; addresses past it answer exception 2.
 */
export const PLC_DATA_REGISTERS = 100;

/** Eastron SDM630 layout: input registers (FC04), float32, high word first. */
export function sdm630Map(meter: PowerMeterModel): ModbusMap {
  const r = () => meter.live;
  const f = (offset: number, name: string, unit: string, description: string, read: () => number): RegisterField => ({
    offset,
    type: 'float32',
    order: 'ABCD',
    name,
    unit,
    description,
    read,
  });
  const input = new RegisterBank(
    [
      f(0x0000, 'phase1Voltage', 'V', 'Phase 1 line to neutral volts', () => r().phases[0].voltageV),
      f(0x0002, 'phase2Voltage', 'V', 'Phase 2 line to neutral volts', () => r().phases[1].voltageV),
      f(0x0004, 'phase3Voltage', 'V', 'Phase 3 line to neutral volts', () => r().phases[2].voltageV),
      f(0x0006, 'phase1Current', 'A', 'Phase 1 current', () => r().phases[0].currentA),
      f(0x0008, 'phase2Current', 'A', 'Phase 2 current', () => r().phases[1].currentA),
      f(0x000a, 'phase3Current', 'A', 'Phase 3 current', () => r().phases[2].currentA),
      f(0x000c, 'phase1Power', 'W', 'Phase 1 active power', () => r().phases[0].powerW),
      f(0x000e, 'phase2Power', 'W', 'Phase 2 active power', () => r().phases[1].powerW),
      f(0x0010, 'phase3Power', 'W', 'Phase 3 active power', () => r().phases[2].powerW),
      f(0x0034, 'totalSystemPower', 'W', 'Total system power', () => r().totalPowerW),
      f(0x003e, 'totalSystemPowerFactor', '', 'Total system power factor', () => r().powerFactor),
      f(0x0046, 'frequency', 'Hz', 'Frequency of supply voltages', () => r().frequencyHz),
      f(0x0048, 'importKwh', 'kWh', 'Import active energy', () => meter.importKwh),
      f(0x004a, 'exportKwh', 'kWh', 'Export active energy', () => r().exportKwh),
      f(0x0156, 'totalKwh', 'kWh', 'Total active energy (import + export)', () => meter.importKwh + r().exportKwh),
    ],
    { defaultOrder: 'ABCD', zeroFill: [0x0000, SDM630_LAST_REGISTER] },
  );
  return { input };
}
