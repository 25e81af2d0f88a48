/**
 * A three-phase energy meter on one line (220/380 V, 50 Hz as in Hong Kong).
 * It sums the machines' power plus a base load and integrates import kWh.
 */
import { round } from './machine.js';
import { Prng } from './prng.js';

export interface PowerMeterParams {
  readonly id: string;
  readonly line: string;
  /** Lighting and the line's share of the compressor, kW. */
  readonly baseLoadKw: number;
  readonly initialImportKwhRange: readonly [number, number];
  readonly nominalVoltage: number;
  readonly nominalFrequency: number;
  readonly powerFactor: number;
}

export interface PhaseReading {
  voltageV: number;
  currentA: number;
  powerW: number;
}

export interface PowerMeterSnapshot {
  id: string;
  line: string;
  phases: [PhaseReading, PhaseReading, PhaseReading];
  totalPowerW: number;
  powerFactor: number;
  frequencyHz: number;
  importKwh: number;
  exportKwh: number;
  totalKwh: number;
}

const MS_PER_HOUR = 3_600_000;

export class PowerMeterModel {
  readonly id: string;
  readonly params: PowerMeterParams;
  private readonly rng: Prng;
  private importKwhValue: number;
  private readonly phaseShare: [number, number, number];
  private voltageDrift: [number, number, number] = [0, 0, 0];
  private reading: PowerMeterSnapshot;

  constructor(params: PowerMeterParams, seed: number) {
    this.id = params.id;
    this.params = params;
    this.rng = Prng.stream(seed, `meter:${params.id}`);
    const [lo, hi] = params.initialImportKwhRange;
    this.importKwhValue = round(this.rng.uniform(lo, hi), 1);
    // Single-phase loads (lighting, controls) make the phases a little unequal.
    const a = this.rng.uniform(0.31, 0.36);
    const b = this.rng.uniform(0.31, 0.36);
    this.phaseShare = [a, b, 1 - a - b];
    this.reading = this.compute(params.baseLoadKw);
  }

  get importKwh(): number {
    return this.importKwhValue;
  }

  get totalPowerW(): number {
    return this.reading.totalPowerW;
  }

  /**
   * Advances by `dtMs` with the machines drawing `machinesKw` in total over it;
   * the energy is integrated from the power the meter reports for the interval.
   */
  step(dtMs: number, machinesKw: number): void {
    if (!(dtMs > 0)) return;
    const dtS = dtMs / 1000;
    const a = Math.exp(-dtS / 300);
    for (let i = 0; i < 3; i++) {
      const d = this.voltageDrift[i] ?? 0;
      this.voltageDrift[i] = d * a + 1.5 * Math.sqrt(1 - a * a) * this.rng.gauss();
    }
    const baseKw = this.params.baseLoadKw * (1 + this.rng.gauss(0, 0.02));
    this.reading = this.compute(machinesKw + baseKw);
    this.importKwhValue += (this.reading.totalPowerW / 1000) * (dtMs / MS_PER_HOUR);
    this.reading.importKwh = this.importKwhValue;
    this.reading.totalKwh = this.importKwhValue + this.reading.exportKwh;
  }

  snapshot(): PowerMeterSnapshot {
    const r = this.reading;
    return {
      ...r,
      phases: r.phases.map((p) => ({ ...p })) as [PhaseReading, PhaseReading, PhaseReading],
      importKwh: round(this.importKwhValue, 4),
      totalKwh: round(this.importKwhValue + r.exportKwh, 4),
    };
  }

  /** The live reading (not a copy): what the meter's registers return right now. */
  get live(): Readonly<PowerMeterSnapshot> {
    return this.reading;
  }

  private compute(totalKw: number): PowerMeterSnapshot {
    const pf = clamp(this.params.powerFactor + this.rng.gauss(0, 0.005), 0.5, 1);
    const phases = this.phaseShare.map((share, i) => {
      const voltageV = round(this.params.nominalVoltage + (this.voltageDrift[i] ?? 0) + this.rng.gauss(0, 0.3), 2);
      const powerW = round(totalKw * 1000 * share, 1);
      const currentA = round(powerW / (voltageV * pf), 3);
      return { voltageV, currentA, powerW };
    }) as [PhaseReading, PhaseReading, PhaseReading];
    const totalPowerW = round(phases[0].powerW + phases[1].powerW + phases[2].powerW, 1);
    return {
      id: this.id,
      line: this.params.line,
      phases,
      totalPowerW,
      powerFactor: round(pf, 3),
      frequencyHz: round(this.params.nominalFrequency + this.rng.gauss(0, 0.015), 3),
      importKwh: this.importKwhValue,
      exportKwh: 0,
      totalKwh: this.importKwhValue,
    };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
