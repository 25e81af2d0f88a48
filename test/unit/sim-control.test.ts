import { describe, expect, it } from 'vitest';
import { createControl, SimControlError } from '../../simulators/control.js';
import { MachineState } from '../../simulators/model/codes.js';
import { UINT32_RANGE } from '../../simulators/model/machine.js';
import { Plant } from '../../simulators/model/plant.js';
import { resolveOptions } from '../../simulators/options.js';
import { RealTimeRunner } from '../../simulators/runner.js';

function setup() {
  const plant = new Plant({ seed: 8 });
  const runner = new RealTimeRunner(plant, { speed: 1 });
  const control = createControl(plant, runner, new Map());
  return { plant, runner, control };
}

function errorCode(fn: () => unknown): string | null {
  try {
    fn();
  } catch (err) {
    return err instanceof SimControlError ? err.code : 'not a SimControlError';
  }
  return null;
}

describe('SimulatorControl', () => {
  it('rolls a counter over to just below 2^32 and it wraps', () => {
    const { plant, control } = setup();
    const snap = control.rollover('imm1', 'good', 2);
    expect(snap.counters.good).toBe(UINT32_RANGE - 2);
    const g0 = plant.machines.imm1.producedSinceStart('good');
    while (plant.machines.imm1.producedSinceStart('good') - g0 < 4) plant.step(1000);
    expect(control.state().machines.imm1.counters.good).toBe(2);
    expect(control.rollover('pk1', 'reject').counters.reject).toBe(UINT32_RANGE - 5);
  });

  it('forces and clears faults', () => {
    const { plant, control } = setup();
    expect(control.fault('cnc1', { durationS: 60, reason: 4 }).state).toBe(MachineState.fault);
    plant.step(61_000);
    expect(control.state().machines.cnc1.state).not.toBe(MachineState.fault);
    control.fault('cnc1');
    plant.step(3_600_000);
    expect(control.state().machines.cnc1.state).toBe(MachineState.fault);
    expect(control.clear('cnc1').state).toBe(MachineState.running);
  });

  it('pins and unpins a process value', () => {
    const { control } = setup();
    expect(control.override('imm1', 'barrelTemperature', 260.5).process.barrelTemperature?.value).toBe(260.5);
    expect(control.override('imm1', 'barrelTemperature', null).process.barrelTemperature?.overridden).toBe(false);
  });

  it('validates its inputs with typed errors', () => {
    const { control } = setup();
    expect(errorCode(() => control.fault('press9'))).toBe('GL_ERR_SIM_UNKNOWN_MACHINE');
    expect(errorCode(() => control.fault('imm1', { durationS: -1 }))).toBe('GL_ERR_SIM_OUT_OF_RANGE');
    expect(errorCode(() => control.fault('imm1', { reason: 11 }))).toBe('GL_ERR_SIM_OUT_OF_RANGE');
    expect(errorCode(() => control.setRejectRate('imm1', 1.5))).toBe('GL_ERR_SIM_OUT_OF_RANGE');
    expect(errorCode(() => control.setRejectRate('imm1', Number.NaN))).toBe('GL_ERR_SIM_OUT_OF_RANGE');
    expect(errorCode(() => control.rollover('imm1', 'bogus' as 'total'))).toBe('GL_ERR_SIM_UNKNOWN_FIELD');
    expect(errorCode(() => control.rollover('imm1', 'total', 0))).toBe('GL_ERR_SIM_OUT_OF_RANGE');
    expect(errorCode(() => control.override('imm1', 'spindleLoad', 1))).toBe('GL_ERR_SIM_UNKNOWN_FIELD');
    expect(errorCode(() => control.override('imm1', 'barrelTemperature', Number.POSITIVE_INFINITY))).toBe(
      'GL_ERR_SIM_OUT_OF_RANGE',
    );
    expect(errorCode(() => control.setSpeed(0))).toBe('GL_ERR_SIM_OUT_OF_RANGE');
    expect(control.setRejectRate('imm1', 0.1).rejectRate).toBe(0.1);
    expect(control.setRejectRate('imm1', null).rejectRate).toBe(0.02);
  });

  it('rejects unknown devices', async () => {
    const { control } = setup();
    await expect(control.stopDevice('nope')).rejects.toMatchObject({ code: 'GL_ERR_SIM_UNKNOWN_DEVICE', status: 404 });
  });
});

describe('RealTimeRunner', () => {
  it('steps the plant by elapsed real time × speed', () => {
    const plant = new Plant({ seed: 1 });
    let now = 0;
    const runner = new RealTimeRunner(plant, { speed: 60, now: () => now });
    runner.start();
    runner.stop();
    now = 100;
    runner.tick();
    expect(plant.simTimeMs).toBe(6000);
    now = 100 + 60_000; // a stalled loop is not made up for beyond 1 s
    runner.tick();
    expect(plant.simTimeMs).toBe(6000 + 60_000);
    expect(() => new RealTimeRunner(plant, { speed: 0 })).toThrow(RangeError);
  });
});

describe('resolveOptions', () => {
  it('lists every problem at once', () => {
    const { options, problems } = resolveOptions({
      seed: 1.5,
      speed: -1,
      ports: { line1Plc: 70000, bogus: 1 } as never,
      mqttUrl: 'not a url',
      publishIntervalMs: 1,
    });
    expect(options).toBeNull();
    expect(problems).toHaveLength(6);
  });

  it('fills defaults', () => {
    const { options } = resolveOptions({ ports: { control: 0 } });
    expect(options?.ports).toMatchObject({ line1Plc: 5020, control: 0, opcua: 4840 });
    expect(options?.seed).toBe(42);
    expect(options?.host).toBe('127.0.0.1');
  });
});
