import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MachineState, Reason } from '../../simulators/model/codes.js';
import { MachineModel, mod32, UINT32_RANGE } from '../../simulators/model/machine.js';
import { MACHINE_IDS, MACHINE_PARAMS, METER_PARAMS } from '../../simulators/model/plant-spec.js';
import { MAX_SUBSTEP_MS, Plant } from '../../simulators/model/plant.js';
import { Prng } from '../../simulators/model/prng.js';

const HOUR_MS = 3_600_000;

function runHours(plant: Plant, hours: number, stepMs = 1000): void {
  const steps = Math.round((hours * HOUR_MS) / stepMs);
  for (let i = 0; i < steps; i++) plant.step(stepMs);
}

describe('Prng', () => {
  it('repeats for the same seed and stream, and differs across streams', () => {
    const a = Prng.stream(42, 'machine:imm1');
    const b = Prng.stream(42, 'machine:imm1');
    const c = Prng.stream(42, 'machine:pk1');
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('draws exponentials with the asked mean', () => {
    const rng = new Prng(7);
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) sum += rng.exponential(10);
    expect(sum / n).toBeGreaterThan(9.5);
    expect(sum / n).toBeLessThan(10.5);
  });
});

describe('Plant determinism', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gives identical counters and values for the same seed after 8 simulated hours', () => {
    const a = new Plant({ seed: 42 });
    const b = new Plant({ seed: 42 });
    runHours(a, 8, 1000);
    runHours(b, 8, 1000);
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(a.machines.imm1.producedSinceStart('total')).toBeGreaterThan(1000);
  });

  it('gives identical results for the same irregular step sequence', () => {
    const seq = [100, 2500, 37, 1000, 6000, 250];
    const a = new Plant({ seed: 9 });
    const b = new Plant({ seed: 9 });
    for (let i = 0; i < 2000; i++) {
      const dt = seq[i % seq.length] ?? 100;
      a.step(dt);
      b.step(dt);
    }
    expect(a.snapshot()).toEqual(b.snapshot());
  });

  it('differs for a different seed', () => {
    const a = new Plant({ seed: 42 });
    const b = new Plant({ seed: 43 });
    runHours(a, 8, 1000);
    runHours(b, 8, 1000);
    const sa = a.snapshot();
    const sb = b.snapshot();
    expect(sa.machines.imm1.counters).not.toEqual(sb.machines.imm1.counters);
    expect(sa.meters.line1.importKwh).not.toEqual(sb.meters.line1.importKwh);
  });

  it('never uses Math.random', () => {
    vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random used');
    });
    const p = new Plant({ seed: 1 });
    runHours(p, 1, 1000);
    expect(p.simTimeMs).toBe(HOUR_MS);
  });

  it('splits long steps into sub-steps of at most 1 s', () => {
    const p = new Plant({ seed: 3 });
    const spy = vi.spyOn(p.machines.imm1, 'step');
    p.step(3500);
    expect(spy.mock.calls.map((c) => c[0])).toEqual([1000, 1000, 1000, 500]);
    expect(MAX_SUBSTEP_MS).toBe(1000);
    expect(p.simTimeMs).toBe(3500);
  });
});

describe('Machine behaviour over a long run', () => {
  const hours = 150;
  const plant = new Plant({ seed: 2024 });
  const startImport = { line1: plant.meters.line1.importKwh, line2: plant.meters.line2.importKwh };
  const startTotals = Object.fromEntries(MACHINE_IDS.map((id) => [id, plant.machines[id].counter('total')]));
  const expectedKwh = { line1: 0, line2: 0 };
  const jamDurationsS: number[] = [];
  const breakdownDurationsS: number[] = [];

  beforeAll(() => {
    let stopStart: number | null = null;
    let stopReason = 0;
    for (let i = 0; i < hours * 3600; i++) {
      plant.step(1000);
      for (const line of ['line1', 'line2'] as const) {
        const machinesKw = plant.machinesOnLine(line).reduce((s, m) => s + m.powerKw, 0);
        expectedKwh[line] += ((machinesKw + METER_PARAMS[line].baseLoadKw) * 1000) / HOUR_MS;
      }
      // Durations of imm1's unplanned stops, to the second.
      const m = plant.machines.imm1;
      if (m.state === MachineState.fault && stopStart === null) {
        stopStart = plant.simTimeMs;
        stopReason = m.reason;
      } else if (m.state !== MachineState.fault && stopStart !== null) {
        const d = (plant.simTimeMs - stopStart) / 1000;
        (stopReason === Reason.jam ? jamDurationsS : breakdownDurationsS).push(d);
        stopStart = null;
      }
    }
  }, 30_000);

  it('keeps good + reject = total', () => {
    for (const id of MACHINE_IDS) {
      const m = plant.machines[id];
      expect(m.producedSinceStart('good') + m.producedSinceStart('reject')).toBe(m.producedSinceStart('total'));
      expect(mod32(m.counter('good') + m.counter('reject'))).toBe(m.counter('total'));
      expect(m.counter('total') - (startTotals[id] ?? 0)).toBe(m.producedSinceStart('total'));
    }
  });

  it('breaks down at about the MTBF rate (per running hour)', () => {
    for (const id of MACHINE_IDS) {
      const m = plant.machines[id];
      const runningHours = m.stats.msInState[MachineState.running] / HOUR_MS;
      const expected = runningHours / (MACHINE_PARAMS[id].mtbfS / 3600);
      // Poisson: allow ±4 standard deviations.
      const tolerance = 4 * Math.sqrt(expected);
      expect(Math.abs(m.stats.breakdowns - expected)).toBeLessThan(tolerance);
      const micro = runningHours * MACHINE_PARAMS[id].microStopsPerHour;
      expect(Math.abs(m.stats.microStops - micro)).toBeLessThan(4 * Math.sqrt(micro));
    }
  });

  it('keeps micro-stops under 120 s and breakdowns at 120 s or more', () => {
    expect(jamDurationsS.length).toBeGreaterThan(50);
    for (const d of jamDurationsS) {
      expect(d).toBeGreaterThanOrEqual(10);
      expect(d).toBeLessThanOrEqual(91);
    }
    for (const d of breakdownDurationsS) expect(d).toBeGreaterThanOrEqual(120);
  });

  it('never makes parts faster than the ideal rate', () => {
    for (const id of MACHINE_IDS) {
      const m = plant.machines[id];
      const runS = m.stats.msInState[MachineState.running] / 1000;
      const maxParts = runS / MACHINE_PARAMS[id].idealCycleTimeS;
      expect(m.producedSinceStart('total')).toBeLessThanOrEqual(maxParts * 1.03 + 1);
      expect(m.producedSinceStart('total')).toBeGreaterThan(maxParts * 0.7);
    }
  });

  it('rejects at about the configured rate', () => {
    const m = plant.machines.imm1;
    const rate = m.producedSinceStart('reject') / m.producedSinceStart('total');
    expect(rate).toBeGreaterThan(0.015);
    expect(rate).toBeLessThan(0.03);
  });

  it('integrates energy as ∫P dt of the machines plus base load', () => {
    for (const line of ['line1', 'line2'] as const) {
      const delta = plant.meters[line].importKwh - startImport[line];
      expect(delta).toBeGreaterThan(100);
      expect(Math.abs(delta - expectedKwh[line]) / expectedKwh[line]).toBeLessThan(0.01);
    }
  });

  it('has the packing station starved and idle when the moulder stops', () => {
    const pk1 = plant.machines.pk1;
    expect(pk1.stats.msInState[MachineState.idle]).toBeGreaterThan(0);
    expect(pk1.producedSinceStart('total')).toBeLessThanOrEqual(plant.machines.imm1.producedSinceStart('good'));
  });

  it('takes planned stops on schedule', () => {
    const imm1 = plant.machines.imm1;
    // changeover every 8 h from 5 h and maintenance every 24 h from 22 h, over 150 h
    expect(imm1.stats.plannedStops).toBeGreaterThanOrEqual(19 + 6 - 2);
    expect(imm1.stats.msInState[MachineState.setup]).toBeGreaterThan(0);
    expect(imm1.stats.msInState[MachineState.planned]).toBeGreaterThan(0);
  });
});

describe('Injected overrides', () => {
  it('forces a fault for N seconds, then the machine resumes', () => {
    const p = new Plant({ seed: 5 });
    p.step(10_000);
    p.machines.cnc1.forceFault(30_000, Reason.toolBreak);
    expect(p.machines.cnc1.state).toBe(MachineState.fault);
    expect(p.machines.cnc1.reason).toBe(Reason.toolBreak);
    const before = p.machines.cnc1.producedSinceStart('total');
    p.step(29_000);
    expect(p.machines.cnc1.state).toBe(MachineState.fault);
    expect(p.machines.cnc1.producedSinceStart('total')).toBe(before);
    p.step(2_000);
    expect(p.machines.cnc1.state).not.toBe(MachineState.fault);
  });

  it('holds a fault without duration until cleared', () => {
    const p = new Plant({ seed: 5 });
    p.machines.imm1.forceFault(null, Reason.overheat);
    p.step(6 * HOUR_MS);
    expect(p.machines.imm1.state).toBe(MachineState.fault);
    expect(p.machines.imm1.reason).toBe(Reason.overheat);
    p.machines.imm1.clear();
    expect(p.machines.imm1.state).toBe(MachineState.running);
  });

  it('pins a process value until cleared', () => {
    const p = new Plant({ seed: 5 });
    const imm1 = p.machines.imm1;
    imm1.setOverride('barrelTemperature', 260.5);
    p.step(60_000);
    expect(imm1.processValue('barrelTemperature')).toBe(260.5);
    imm1.setOverride('barrelTemperature', null);
    expect(imm1.processValue('barrelTemperature')).toBeLessThan(240);
    expect(() => imm1.setOverride('nope', 1)).toThrow(RangeError);
  });

  it('rejects every part at reject rate 1 and none at 0', () => {
    const p = new Plant({ seed: 5 });
    const imm1 = p.machines.imm1;
    imm1.setRejectRate(1);
    const r0 = imm1.producedSinceStart('reject');
    const t0 = imm1.producedSinceStart('total');
    p.step(600_000);
    expect(imm1.producedSinceStart('reject') - r0).toBe(imm1.producedSinceStart('total') - t0);
    imm1.setRejectRate(0);
    const r1 = imm1.producedSinceStart('reject');
    p.step(600_000);
    expect(imm1.producedSinceStart('reject')).toBe(r1);
  });

  it('rolls a counter over: it wraps past 2^32 to small values', () => {
    const p = new Plant({ seed: 5 });
    const imm1 = p.machines.imm1;
    imm1.rollover('total', 3);
    expect(imm1.counter('total')).toBe(UINT32_RANGE - 3);
    const t0 = imm1.producedSinceStart('total');
    while (imm1.producedSinceStart('total') - t0 < 5) p.step(1000);
    expect(imm1.counter('total')).toBe(2);
  });

  it('resets counters to 0 like a PLC reset', () => {
    const p = new Plant({ seed: 5 });
    p.machines.pk1.resetCounters();
    expect(p.machines.pk1.counter('total')).toBe(0);
    expect(p.machines.pk1.counter('good')).toBe(0);
    expect(p.machines.pk1.counter('reject')).toBe(0);
  });

  it('draws off power when powered off and resumes when powered on', () => {
    const p = new Plant({ seed: 5 });
    const m = p.machines.wash1;
    m.setPowered(false);
    p.step(5000);
    expect(m.state).toBe(MachineState.off);
    expect(m.powerKw).toBeLessThan(0.2);
    m.setPowered(true);
    expect(m.state).not.toBe(MachineState.off);
  });
});

describe('MachineModel parameters', () => {
  it('refuses an MTTR that would make breakdowns look like micro-stops', () => {
    expect(() => new MachineModel({ ...MACHINE_PARAMS.imm1, mttrS: 60 }, 1)).toThrow(/mttrS/);
    expect(() => new MachineModel({ ...MACHINE_PARAMS.imm1, idealCycleTimeS: 0 }, 1)).toThrow(/idealCycleTimeS/);
  });
});
