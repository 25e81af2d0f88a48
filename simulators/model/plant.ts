/**
 * The simulated microfactory. `step(dtMs)` is the only way time passes, so the
 * same seed and the same sequence of steps give the same counts and values.
 */
import { EnvironmentModel, type EnvironmentSnapshot } from './environment.js';
import { type MachineParams, MachineModel, type MachineSnapshot, PartBuffer, round } from './machine.js';
import {
  LINE_FLOW,
  LINE_IDS,
  type LineId,
  MACHINE_IDS,
  MACHINE_PARAMS,
  METER_PARAMS,
  type MachineId,
} from './plant-spec.js';
import { PowerMeterModel, type PowerMeterSnapshot } from './power-meter.js';

/** Longest simulated interval one machine update covers; longer steps are split. */
export const MAX_SUBSTEP_MS = 1000;

/** Monday 2025-01-06 08:00 in Hong Kong: the default simulated start. */
export const DEFAULT_START_TIME_MS = Date.UTC(2025, 0, 6, 0, 0, 0);

export interface PlantOptions {
  seed?: number;
  /** Wall-clock time (ms since epoch) that simulated time 0 stands for. */
  startTimeMs?: number;
  /** Per-machine parameter changes on top of the demo plant's. */
  machines?: Partial<Record<MachineId, Partial<MachineParams>>>;
}

export interface PlantSnapshot {
  seed: number;
  simTimeMs: number;
  /** startTimeMs + simTimeMs */
  simWallTimeMs: number;
  simWallTime: string;
  machines: Record<MachineId, MachineSnapshot>;
  meters: Record<LineId, PowerMeterSnapshot>;
  environment: EnvironmentSnapshot;
  buffers: Record<LineId, { level: number; capacity: number }>;
}

export class Plant {
  readonly seed: number;
  readonly startTimeMs: number;
  readonly machines: Readonly<Record<MachineId, MachineModel>>;
  readonly meters: Readonly<Record<LineId, PowerMeterModel>>;
  readonly environment: EnvironmentModel;
  readonly buffers: Readonly<Record<LineId, PartBuffer>>;
  private simMs = 0;

  constructor(options: PlantOptions = {}) {
    const seed = options.seed ?? 42;
    if (!Number.isInteger(seed)) throw new RangeError('seed must be an integer');
    this.seed = seed >>> 0;
    this.startTimeMs = options.startTimeMs ?? DEFAULT_START_TIME_MS;
    const build = (id: MachineId) =>
      new MachineModel({ ...MACHINE_PARAMS[id], ...options.machines?.[id], id }, this.seed);
    this.machines = { imm1: build('imm1'), pk1: build('pk1'), cnc1: build('cnc1'), wash1: build('wash1') };
    this.meters = {
      line1: new PowerMeterModel(METER_PARAMS.line1, this.seed),
      line2: new PowerMeterModel(METER_PARAMS.line2, this.seed),
    };
    this.environment = new EnvironmentModel(this.seed);
    const buffer = (line: LineId) => {
      const flow = LINE_FLOW[line];
      const b = new PartBuffer(flow.capacity);
      this.machines[flow.upstream].output = b;
      this.machines[flow.downstream].input = b;
      return b;
    };
    this.buffers = { line1: buffer('line1'), line2: buffer('line2') };
  }

  /** Simulated ms since the start. */
  get simTimeMs(): number {
    return this.simMs;
  }

  get simWallTimeMs(): number {
    return this.startTimeMs + this.simMs;
  }

  machine(id: string): MachineModel | undefined {
    return isMachineId(id) ? this.machines[id] : undefined;
  }

  machinesOnLine(line: LineId): MachineModel[] {
    return MACHINE_IDS.map((id) => this.machines[id]).filter((m) => m.params.line === line);
  }

  /** Advances simulated time by `dtMs`, in sub-steps of at most MAX_SUBSTEP_MS. */
  step(dtMs: number): void {
    if (!Number.isFinite(dtMs) || dtMs < 0) throw new RangeError('dtMs must be a finite number ≥ 0');
    let left = dtMs;
    while (left > 0) {
      const dt = Math.min(left, MAX_SUBSTEP_MS);
      this.subStep(dt);
      left -= dt;
    }
  }

  private subStep(dt: number): void {
    const now = this.simMs;
    for (const id of MACHINE_IDS) this.machines[id].step(dt, now);
    let totalKw = 0;
    let air = 0;
    for (const line of LINE_IDS) {
      let kw = 0;
      for (const m of this.machinesOnLine(line)) {
        kw += m.powerKw;
        air += m.airM3h;
      }
      totalKw += kw;
      this.meters[line].step(dt, kw);
    }
    this.simMs = now + dt;
    this.environment.step(dt, this.simWallTimeMs, totalKw, air);
  }

  snapshot(): PlantSnapshot {
    const machines = {} as Record<MachineId, MachineSnapshot>;
    for (const id of MACHINE_IDS) machines[id] = this.machines[id].snapshot();
    return {
      seed: this.seed,
      simTimeMs: round(this.simMs, 3),
      simWallTimeMs: Math.round(this.simWallTimeMs),
      simWallTime: new Date(this.simWallTimeMs).toISOString(),
      machines,
      meters: { line1: this.meters.line1.snapshot(), line2: this.meters.line2.snapshot() },
      environment: this.environment.snapshot(),
      buffers: {
        line1: { level: this.buffers.line1.level, capacity: this.buffers.line1.capacity },
        line2: { level: this.buffers.line2.level, capacity: this.buffers.line2.capacity },
      },
    };
  }
}

export function isMachineId(id: string): id is MachineId {
  return (MACHINE_IDS as readonly string[]).includes(id);
}
