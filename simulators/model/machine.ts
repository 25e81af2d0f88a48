/**
 * One simulated machine: a state machine driven by seeded random events,
 * part counters that wrap like a PLC's uint32, process values that follow
 * the state with lag and noise, and the electrical power drawn per state.
 *
 * Everything advances only through `step(dtMs, nowMs)`; time is an argument.
 */
import {
  MachineState,
  type MachineStateCode,
  MICRO_STOP_LIMIT_S,
  REASON_NAMES,
  Reason,
  type ReasonCode,
  STATE_NAMES,
} from './codes.js';
import { Prng } from './prng.js';

export const UINT32_RANGE = 2 ** 32;

export type CounterName = 'total' | 'good' | 'reject';
export const COUNTER_NAMES: readonly CounterName[] = ['total', 'good', 'reject'];

/** Parts waiting between an upstream and a downstream machine. */
export class PartBuffer {
  level = 0;
  constructor(readonly capacity: number) {}
}

export interface ProcessVariableSpec {
  readonly name: string;
  readonly unit: string;
  /** Value the variable settles to in each state. */
  readonly targets: Readonly<Record<MachineStateCode, number>>;
  /** In state running, multiply the target by the current speed factor. */
  readonly scaleWithSpeed?: boolean;
  /** First-order time constant towards the target, seconds. */
  readonly tauS: number;
  /** Standard deviation of the measurement noise added to every reading. */
  readonly noiseSd: number;
  /** Standard deviation of a slow mean-reverting wander (time constant 10 min). */
  readonly driftSd?: number;
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
}

export interface PlannedStopSpec {
  /** First occurrence, seconds of simulated time after the start. */
  readonly firstAtS: number;
  readonly everyS: number;
  readonly durationS: number;
  readonly state: typeof MachineState.setup | typeof MachineState.planned;
  readonly reason: ReasonCode;
}

export interface MachineParams {
  readonly id: string;
  readonly line: string;
  readonly name: string;
  /** The machine model string shown on the nameplate (and in a PLC string register). */
  readonly model: string;
  readonly idealCycleTimeS: number;
  /** Relative standard deviation of the cycle time around ideal / speed. */
  readonly cycleJitter: number;
  /** Mean running time between breakdowns, seconds. */
  readonly mtbfS: number;
  /** Mean breakdown duration, seconds (> 120: breakdowns always outlast micro-stops). */
  readonly mttrS: number;
  readonly breakdownReasons: readonly ReasonCode[];
  readonly microStopsPerHour: number;
  readonly microStopMinS: number;
  readonly microStopMaxS: number;
  /** Slow-running periods per running hour, their length, and the speed factor range. */
  readonly slowPeriodsPerHour: number;
  readonly slowMinS: number;
  readonly slowMaxS: number;
  readonly slowFactorMin: number;
  readonly slowFactorMax: number;
  readonly rejectRate: number;
  /** Parts after a setup or changeover that are rejected with probability 0.5 at least. */
  readonly startupRejectParts: number;
  /** Own starvation (e.g. hopper empty) per running hour and its length. */
  readonly starvedPerHour: number;
  readonly starvedMinS: number;
  readonly starvedMaxS: number;
  readonly plannedStops: readonly PlannedStopSpec[];
  readonly powerKw: {
    readonly running: number;
    readonly idle: number;
    readonly stopped: number;
    readonly off: number;
  };
  /** Compressed air drawn while running at full speed, m³/h. */
  readonly airM3h: number;
  readonly process: readonly ProcessVariableSpec[];
  /** For a machine fed from a buffer: restart after starvation at this level. */
  readonly restartLevel: number;
  /** Lifetime part count at the start (the PLC has been running before). */
  readonly initialTotalRange: readonly [number, number];
  readonly initialOperatingHoursRange: readonly [number, number];
}

type StopKind =
  | 'none'
  | 'breakdown'
  | 'micro-stop'
  | 'forced'
  | 'planned'
  | 'starved'
  | 'starved-feed'
  | 'blocked'
  | 'off';

export interface MachineStats {
  breakdowns: number;
  microStops: number;
  forcedFaults: number;
  starvations: number;
  plannedStops: number;
  slowPeriods: number;
  /** Simulated ms spent in each state code. */
  msInState: Record<MachineStateCode, number>;
  /** kWh drawn by this machine (power × time) since the start. */
  energyKwh: number;
}

export interface ProcessValueView {
  value: number;
  unit: string;
  overridden: boolean;
}

export interface MachineSnapshot {
  id: string;
  line: string;
  name: string;
  model: string;
  state: MachineStateCode;
  stateName: string;
  reason: ReasonCode;
  reasonName: string;
  speedFactor: number;
  rejectRate: number;
  idealCycleTimeS: number;
  /** Counter values as the device exposes them (uint32, after rollover jumps). */
  counters: Record<CounterName, number>;
  /** Parts since the model started, unaffected by rollover jumps or resets. */
  producedSinceStart: Record<CounterName, number>;
  lastCycleTimeS: number;
  operatingSeconds: number;
  powerKw: number;
  airM3h: number;
  process: Record<string, ProcessValueView>;
  stats: MachineStats;
}

interface ProcessState {
  readonly spec: ProcessVariableSpec;
  settled: number;
  drift: number;
  reading: number;
}

const MS_PER_HOUR = 3_600_000;
const MIN_EVENT_MS = 1;

export class MachineModel {
  readonly id: string;
  readonly params: MachineParams;
  private readonly rng: Prng;

  private stateCode: MachineStateCode = MachineState.running;
  private reasonCode: ReasonCode = Reason.none;
  private stopKind: StopKind = 'none';
  /** Remaining ms of a timed stop; Infinity for a forced fault without duration. */
  private stopRemainingMs = 0;

  private speed = 1;
  private rejectRateValue: number;
  private startupRejectsLeft = 0;

  // Countdowns in running time.
  private toBreakdownMs: number;
  private toMicroStopMs: number;
  private toStarveMs: number;
  private toSlowToggleMs: number;

  private readonly nextPlannedAtMs: number[];

  private cycleActive = false;
  private cycleTargetMs = 0;
  private cycleProgressMs = 0;
  private cycleElapsedMs = 0;
  private lastCycleMs: number;

  private operatingMs: number;
  private readonly lifetimeBase: Record<CounterName, number>;
  private readonly produced: Record<CounterName, number> = { total: 0, good: 0, reject: 0 };
  private readonly counterOffset: Record<CounterName, number> = { total: 0, good: 0, reject: 0 };

  private readonly processes: ProcessState[];
  private readonly overrides = new Map<string, number>();
  private power = 0;

  private readonly statsValue: MachineStats = {
    breakdowns: 0,
    microStops: 0,
    forcedFaults: 0,
    starvations: 0,
    plannedStops: 0,
    slowPeriods: 0,
    msInState: { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 },
    energyKwh: 0,
  };

  input: PartBuffer | null = null;
  output: PartBuffer | null = null;

  constructor(params: MachineParams, seed: number) {
    validateParams(params);
    this.id = params.id;
    this.params = params;
    this.rng = Prng.stream(seed, `machine:${params.id}`);
    this.rejectRateValue = params.rejectRate;

    const [tMin, tMax] = params.initialTotalRange;
    const total = this.rng.int(tMin, tMax);
    const reject = Math.round(total * params.rejectRate * this.rng.uniform(0.8, 1.2));
    this.lifetimeBase = { total, good: total - reject, reject };
    const [hMin, hMax] = params.initialOperatingHoursRange;
    this.operatingMs = Math.round(this.rng.uniform(hMin, hMax) * 3600) * 1000;

    this.toBreakdownMs = this.drawBreakdownGap();
    this.toMicroStopMs = this.drawMicroStopGap();
    this.toStarveMs = this.drawStarveGap();
    this.toSlowToggleMs = this.drawSlowGap();
    this.nextPlannedAtMs = params.plannedStops.map((p) => p.firstAtS * 1000);
    this.lastCycleMs = params.idealCycleTimeS * 1000;

    this.processes = params.process.map((spec) => {
      const settled = spec.targets[MachineState.running];
      return { spec, settled, drift: 0, reading: settled };
    });
    this.power = this.targetPowerKw();
  }

  // ---------------------------------------------------------------- reading

  get state(): MachineStateCode {
    return this.stateCode;
  }

  get reason(): ReasonCode {
    return this.reasonCode;
  }

  get speedFactor(): number {
    return this.stateCode === MachineState.running ? this.speed : 0;
  }

  get rejectRate(): number {
    return this.rejectRateValue;
  }

  get powerKw(): number {
    return this.power;
  }

  get lastCycleTimeS(): number {
    return this.lastCycleMs / 1000;
  }

  get operatingSeconds(): number {
    return Math.floor(this.operatingMs / 1000);
  }

  get stats(): Readonly<MachineStats> {
    return this.statsValue;
  }

  /** Compressed air drawn now, m³/h. */
  get airM3h(): number {
    if (this.stateCode === MachineState.running) return this.params.airM3h * this.speed;
    if (this.stateCode === MachineState.idle) return this.params.airM3h * 0.1;
    return 0;
  }

  /** Counter value as the device exposes it: uint32, wrapping at 2^32. */
  counter(name: CounterName): number {
    return mod32(this.lifetimeBase[name] + this.produced[name] + this.counterOffset[name]);
  }

  /** Parts made since the model started (no wrap, no jumps). */
  producedSinceStart(name: CounterName): number {
    return this.produced[name];
  }

  processNames(): string[] {
    return this.processes.map((p) => p.spec.name);
  }

  hasProcessValue(name: string): boolean {
    return this.processes.some((p) => p.spec.name === name);
  }

  /** The reading of a process value, or its override when one is pinned. */
  processValue(name: string): number {
    const pinned = this.overrides.get(name);
    if (pinned !== undefined) return pinned;
    const p = this.processes.find((x) => x.spec.name === name);
    if (!p) throw new RangeError(`machine ${this.id} has no process value '${name}'`);
    return p.reading;
  }

  snapshot(): MachineSnapshot {
    const process: Record<string, ProcessValueView> = {};
    for (const p of this.processes) {
      process[p.spec.name] = {
        value: this.processValue(p.spec.name),
        unit: p.spec.unit,
        overridden: this.overrides.has(p.spec.name),
      };
    }
    return {
      id: this.id,
      line: this.params.line,
      name: this.params.name,
      model: this.params.model,
      state: this.stateCode,
      stateName: STATE_NAMES[this.stateCode],
      reason: this.reasonCode,
      reasonName: REASON_NAMES[this.reasonCode],
      speedFactor: round(this.speedFactor, 3),
      rejectRate: this.rejectRateValue,
      idealCycleTimeS: this.params.idealCycleTimeS,
      counters: { total: this.counter('total'), good: this.counter('good'), reject: this.counter('reject') },
      producedSinceStart: { ...this.produced },
      lastCycleTimeS: round(this.lastCycleTimeS, 3),
      operatingSeconds: this.operatingSeconds,
      powerKw: round(this.power, 3),
      airM3h: round(this.airM3h, 3),
      process,
      stats: { ...this.statsValue, msInState: { ...this.statsValue.msInState } },
    };
  }

  // ------------------------------------------------------------- injections

  /** Unplanned stop for `durationMs` (null: until `clear()`). */
  forceFault(durationMs: number | null, reason: ReasonCode = Reason.toolBreak): void {
    this.statsValue.forcedFaults++;
    this.enterStop(MachineState.fault, reason, 'forced', durationMs ?? Number.POSITIVE_INFINITY);
  }

  /** Ends the current stop (fault, micro-stop, setup, planned or timed idle); the machine resumes. */
  clear(): void {
    if (this.stopKind === 'off' || this.stopKind === 'none') return;
    this.resume();
  }

  setPowered(on: boolean): void {
    if (!on) {
      this.enterStop(MachineState.off, Reason.none, 'off', Number.POSITIVE_INFINITY);
    } else if (this.stopKind === 'off') {
      this.resume();
    }
  }

  /** null restores the configured rate. */
  setRejectRate(rate: number | null): void {
    if (rate !== null && !(rate >= 0 && rate <= 1)) throw new RangeError('reject rate must be in [0, 1]');
    this.rejectRateValue = rate ?? this.params.rejectRate;
  }

  /** Pins a process value (null unpins); the model keeps evolving underneath. */
  setOverride(name: string, value: number | null): void {
    if (!this.hasProcessValue(name)) throw new RangeError(`machine ${this.id} has no process value '${name}'`);
    if (value === null) this.overrides.delete(name);
    else if (!Number.isFinite(value)) throw new RangeError('override value must be a finite number');
    else this.overrides.set(name, value);
  }

  overriddenFields(): string[] {
    return [...this.overrides.keys()];
  }

  /** Jumps the exposed counter to 2^32 − below, so it wraps after `below` more parts. */
  rollover(name: CounterName, below: number): void {
    if (!Number.isInteger(below) || below < 1 || below > UINT32_RANGE - 1) {
      throw new RangeError('below must be an integer in [1, 2^32 − 1]');
    }
    const current = mod32(this.lifetimeBase[name] + this.produced[name]);
    this.counterOffset[name] = mod32(UINT32_RANGE - below - current);
  }

  /** Sets all exposed counters to 0, as a PLC counter reset would. */
  resetCounters(): void {
    for (const name of ['total', 'good', 'reject'] as const) {
      this.counterOffset[name] = mod32(-(this.lifetimeBase[name] + this.produced[name]));
    }
  }

  // ------------------------------------------------------------- simulation

  /** Advances the machine by `dtMs` of simulated time that starts at `nowMs`. */
  step(dtMs: number, nowMs: number): void {
    if (!(dtMs > 0)) return;
    let t = 0;
    let guard = 0;
    while (t < dtMs) {
      if (++guard > 100_000) throw new Error(`machine ${this.id}: too many events in one step`);
      const now = nowMs + t;
      this.resolveTransitions(now);
      const remaining = dtMs - t;
      const stateAtStart = this.stateCode;
      let adv: number;
      if (this.stateCode === MachineState.running) {
        adv = Math.min(
          remaining,
          this.toBreakdownMs,
          this.toMicroStopMs,
          this.toStarveMs,
          this.toSlowToggleMs,
          (this.cycleTargetMs - this.cycleProgressMs) / this.speed,
          this.timeToPlannedMs(now),
        );
        adv = Math.max(adv, 0);
        this.advanceRunning(adv);
        this.handleRunningEvents(now + adv);
      } else if (this.stopKind === 'off' || this.stopKind === 'forced') {
        adv = Math.min(remaining, this.stopRemainingMs);
        this.stopRemainingMs -= adv;
        if (this.stopRemainingMs <= 0) this.resume();
      } else if (this.stopKind === 'starved-feed' || this.stopKind === 'blocked') {
        // The buffer only changes between machine steps, so wait the whole step
        // unless a planned stop falls due in it.
        adv = Math.min(remaining, Math.max(this.timeToPlannedMs(now), 0));
      } else {
        const planned = this.stopKind === 'starved' ? this.timeToPlannedMs(now) : Number.POSITIVE_INFINITY;
        adv = Math.max(0, Math.min(remaining, this.stopRemainingMs, planned));
        this.stopRemainingMs -= adv;
        if (this.stopRemainingMs <= 0) this.resume();
      }
      this.statsValue.msInState[stateAtStart] += adv;
      t += adv;
    }
    this.updateProcessValues(dtMs);
    this.power = this.targetPowerKw() * (1 + this.rng.gauss(0, 0.01));
    this.statsValue.energyKwh += (this.power * dtMs) / MS_PER_HOUR;
  }

  private resolveTransitions(nowMs: number): void {
    const s = this.stateCode;
    if (s === MachineState.running || (s === MachineState.idle && this.stopKind !== 'forced')) {
      const due = this.duePlannedStop(nowMs);
      if (due) {
        this.statsValue.plannedStops++;
        this.enterStop(due.state, due.reason, 'planned', due.durationS * 1000);
        if (due.state === MachineState.setup) this.startupRejectsLeft = this.params.startupRejectParts;
        return;
      }
    }
    if (this.stopKind === 'starved-feed' && this.input && this.input.level >= this.params.restartLevel) {
      this.resume();
    } else if (this.stopKind === 'blocked' && this.output && this.output.level < this.output.capacity) {
      this.resume();
    }
    if (this.stateCode === MachineState.running && !this.cycleActive) this.beginCycle();
  }

  private advanceRunning(adv: number): void {
    this.toBreakdownMs -= adv;
    this.toMicroStopMs -= adv;
    this.toStarveMs -= adv;
    this.toSlowToggleMs -= adv;
    this.cycleProgressMs += adv * this.speed;
    this.cycleElapsedMs += adv;
    this.operatingMs += adv;
  }

  private handleRunningEvents(nowMs: number): void {
    const eps = 1e-6;
    if (this.cycleActive && this.cycleProgressMs >= this.cycleTargetMs - eps) this.completePart();
    if (this.timeToPlannedMs(nowMs) <= eps) return; // resolveTransitions enters it next
    if (this.toBreakdownMs <= eps) {
      this.toBreakdownMs = this.drawBreakdownGap();
      this.statsValue.breakdowns++;
      const extra = this.rng.exponential(this.params.mttrS - MICRO_STOP_LIMIT_S);
      this.enterStop(
        MachineState.fault,
        this.rng.pick(this.params.breakdownReasons),
        'breakdown',
        (MICRO_STOP_LIMIT_S + extra) * 1000,
      );
      return;
    }
    if (this.toMicroStopMs <= eps) {
      this.toMicroStopMs = this.drawMicroStopGap();
      this.statsValue.microStops++;
      const d = this.rng.uniform(this.params.microStopMinS, this.params.microStopMaxS);
      this.enterStop(MachineState.fault, Reason.jam, 'micro-stop', d * 1000);
      return;
    }
    if (this.toStarveMs <= eps) {
      this.toStarveMs = this.drawStarveGap();
      this.statsValue.starvations++;
      const d = this.rng.uniform(this.params.starvedMinS, this.params.starvedMaxS);
      this.enterStop(MachineState.idle, Reason.materialShortage, 'starved', d * 1000);
      return;
    }
    if (this.toSlowToggleMs <= eps) {
      if (this.speed === 1) {
        this.statsValue.slowPeriods++;
        this.speed = this.rng.uniform(this.params.slowFactorMin, this.params.slowFactorMax);
        this.toSlowToggleMs = Math.max(
          MIN_EVENT_MS,
          this.rng.uniform(this.params.slowMinS, this.params.slowMaxS) * 1000,
        );
      } else {
        this.speed = 1;
        this.toSlowToggleMs = this.drawSlowGap();
      }
    }
  }

  private completePart(): void {
    const rate = this.startupRejectsLeft > 0 ? Math.max(this.rejectRateValue, 0.5) : this.rejectRateValue;
    if (this.startupRejectsLeft > 0) this.startupRejectsLeft--;
    const reject = this.rng.chance(rate);
    this.produced.total++;
    if (reject) this.produced.reject++;
    else {
      this.produced.good++;
      if (this.output) this.output.level++;
    }
    this.lastCycleMs = Math.round(this.cycleElapsedMs);
    this.cycleActive = false;
  }

  /** Starts the next cycle if material and space allow; else goes idle. */
  private beginCycle(): void {
    if (this.input) {
      if (this.input.level <= 0) {
        this.enterStop(MachineState.idle, Reason.materialShortage, 'starved-feed', Number.POSITIVE_INFINITY);
        return;
      }
      this.input.level--;
    }
    if (this.output && this.output.level >= this.output.capacity) {
      if (this.input) this.input.level++; // put it back: the cycle did not start
      this.enterStop(MachineState.idle, Reason.none, 'blocked', Number.POSITIVE_INFINITY);
      return;
    }
    // the ideal cycle is the fastest possible: real cycles are that or slower (a speed loss)
    const slowdown = 1 + Math.abs(this.rng.gauss(0, this.params.cycleJitter));
    this.cycleTargetMs = Math.max(MIN_EVENT_MS, this.params.idealCycleTimeS * 1000 * slowdown);
    this.cycleProgressMs = 0;
    this.cycleElapsedMs = 0;
    this.cycleActive = true;
  }

  private enterStop(state: MachineStateCode, reason: ReasonCode, kind: StopKind, durationMs: number): void {
    this.stateCode = state;
    this.reasonCode = reason;
    this.stopKind = kind;
    this.stopRemainingMs = Math.max(durationMs, MIN_EVENT_MS);
  }

  private resume(): void {
    this.stateCode = MachineState.running;
    this.reasonCode = Reason.none;
    this.stopKind = 'none';
    this.stopRemainingMs = 0;
    if (!this.cycleActive) this.beginCycle();
  }

  private duePlannedStop(nowMs: number): PlannedStopSpec | null {
    let found: PlannedStopSpec | null = null;
    this.params.plannedStops.forEach((spec, i) => {
      const at = this.nextPlannedAtMs[i] ?? Number.POSITIVE_INFINITY;
      if (at <= nowMs) {
        // Missed occurrences (e.g. during a long fault) are skipped, not stacked.
        let next = at;
        while (next <= nowMs) next += spec.everyS * 1000;
        this.nextPlannedAtMs[i] = next;
        found ??= spec;
      }
    });
    return found;
  }

  private timeToPlannedMs(nowMs: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (const at of this.nextPlannedAtMs) min = Math.min(min, at - nowMs);
    return min;
  }

  private drawBreakdownGap(): number {
    return Math.max(MIN_EVENT_MS, this.rng.exponential(this.params.mtbfS * 1000));
  }

  private drawMicroStopGap(): number {
    return perHourGap(this.rng, this.params.microStopsPerHour);
  }

  private drawStarveGap(): number {
    return perHourGap(this.rng, this.params.starvedPerHour);
  }

  private drawSlowGap(): number {
    return perHourGap(this.rng, this.params.slowPeriodsPerHour);
  }

  private targetPowerKw(): number {
    const p = this.params.powerKw;
    switch (this.stateCode) {
      case MachineState.running:
        return p.idle + (p.running - p.idle) * (0.4 + 0.6 * this.speed);
      case MachineState.idle:
        return p.idle;
      case MachineState.off:
        return p.off;
      default:
        return p.stopped;
    }
  }

  private updateProcessValues(dtMs: number): void {
    const dtS = dtMs / 1000;
    const driftTauS = 600;
    for (const p of this.processes) {
      const spec = p.spec;
      let target = spec.targets[this.stateCode];
      if (spec.scaleWithSpeed && this.stateCode === MachineState.running) target *= this.speed;
      p.settled += (target - p.settled) * (1 - Math.exp(-dtS / spec.tauS));
      if (spec.driftSd) {
        const a = Math.exp(-dtS / driftTauS);
        p.drift = p.drift * a + spec.driftSd * Math.sqrt(1 - a * a) * this.rng.gauss();
      }
      let v = p.settled + p.drift + this.rng.gauss(0, spec.noiseSd);
      if (spec.min !== undefined) v = Math.max(spec.min, v);
      if (spec.max !== undefined) v = Math.min(spec.max, v);
      p.reading = round(v, spec.decimals ?? 2);
    }
  }
}

function perHourGap(rng: Prng, perHour: number): number {
  if (!(perHour > 0)) return Number.POSITIVE_INFINITY;
  return Math.max(MIN_EVENT_MS, rng.exponential(MS_PER_HOUR / perHour));
}

export function mod32(n: number): number {
  const r = n % UINT32_RANGE;
  return r < 0 ? r + UINT32_RANGE : r;
}

export function round(n: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
}

function validateParams(p: MachineParams): void {
  const problems: string[] = [];
  if (!(p.idealCycleTimeS > 0)) problems.push('idealCycleTimeS must be > 0');
  if (!(p.mtbfS > 0)) problems.push('mtbfS must be > 0');
  if (!(p.mttrS > MICRO_STOP_LIMIT_S)) problems.push(`mttrS must be > ${MICRO_STOP_LIMIT_S}`);
  if (!(p.rejectRate >= 0 && p.rejectRate <= 1)) problems.push('rejectRate must be in [0, 1]');
  if (!(p.microStopMinS > 0 && p.microStopMaxS < MICRO_STOP_LIMIT_S && p.microStopMinS <= p.microStopMaxS)) {
    problems.push(`micro-stop durations must be within (0, ${MICRO_STOP_LIMIT_S}) s`);
  }
  if (!(p.slowFactorMin > 0 && p.slowFactorMax <= 1 && p.slowFactorMin <= p.slowFactorMax)) {
    problems.push('slow-running factors must be within (0, 1]');
  }
  if (p.breakdownReasons.length === 0) problems.push('breakdownReasons must not be empty');
  for (const s of p.plannedStops) {
    if (!(s.everyS > 0 && s.durationS > 0 && s.durationS < s.everyS)) {
      problems.push('planned stops need 0 < durationS < everyS');
    }
  }
  if (problems.length > 0) throw new RangeError(`machine ${p.id}: ${problems.join('; ')}`);
}
