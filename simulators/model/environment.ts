/**
 * Hall climate and the compressed-air header. Temperature follows the time of
 * day (Hong Kong, UTC+8) and the heat of running machines; air flow follows
 * the machines that run, and header pressure sags as flow rises.
 */
import { round } from './machine.js';
import { Prng } from './prng.js';

export interface EnvironmentSnapshot {
  temperatureC: number;
  humidityPct: number;
  airFlowM3h: number;
  airPressureBar: number;
}

const HK_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

export class EnvironmentModel {
  private readonly rng: Prng;
  private readonly baseTempC: number;
  private readonly baseHumidity: number;
  private heatC = 0;
  private airFlow = 0;
  private reading: EnvironmentSnapshot;

  /** Leakage of the air network, m³/h, drawn whether or not machines run. */
  static readonly AIR_LEAKAGE_M3H = 3;

  constructor(seed: number) {
    this.rng = Prng.stream(seed, 'environment');
    this.baseTempC = this.rng.uniform(25.5, 28.5);
    this.baseHumidity = this.rng.uniform(66, 76);
    this.airFlow = EnvironmentModel.AIR_LEAKAGE_M3H;
    this.reading = { temperatureC: this.baseTempC, humidityPct: this.baseHumidity, airFlowM3h: 0, airPressureBar: 7 };
  }

  /**
   * @param wallTimeMs simulated wall-clock time (ms since epoch) at the end of the step
   * @param machinesKw power drawn by all machines (their heat warms the hall)
   * @param machinesAirM3h compressed air drawn by all machines
   */
  step(dtMs: number, wallTimeMs: number, machinesKw: number, machinesAirM3h: number): void {
    if (!(dtMs > 0)) return;
    const dtS = dtMs / 1000;
    const hourOfDay = ((((wallTimeMs + HK_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
    // Warmest mid-afternoon (15:00), coolest before dawn.
    const diurnal = 2.5 * Math.cos(((hourOfDay - 15) / 24) * 2 * Math.PI);
    const heatTarget = machinesKw * 0.03;
    this.heatC += (heatTarget - this.heatC) * (1 - Math.exp(-dtS / 900));
    const temperatureC = this.baseTempC + diurnal + this.heatC + this.rng.gauss(0, 0.05);
    const humidityPct = clampNum(this.baseHumidity - 1.8 * (diurnal + this.heatC) + this.rng.gauss(0, 0.3), 20, 99);

    const flowTarget = EnvironmentModel.AIR_LEAKAGE_M3H + machinesAirM3h;
    this.airFlow += (flowTarget - this.airFlow) * (1 - Math.exp(-dtS / 5));
    const airFlowM3h = Math.max(0, this.airFlow + this.rng.gauss(0, 0.2));
    const airPressureBar = 7.2 - 0.025 * airFlowM3h + this.rng.gauss(0, 0.02);
    this.reading = {
      temperatureC: round(temperatureC, 2),
      humidityPct: round(humidityPct, 1),
      airFlowM3h: round(airFlowM3h, 2),
      airPressureBar: round(airPressureBar, 3),
    };
  }

  snapshot(): EnvironmentSnapshot {
    return { ...this.reading };
  }
}

function clampNum(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
