/**
 * Energy from a meter: the cumulative kWh register (preferred) or integrated kW.
 *
 * Both turn readings into `EnergyPortion`s: an amount of energy over an
 * interval with a known profile, so whoever books it can split it exactly at
 * any instant (minute boundaries, machine state changes) and get the same
 * pieces however the work was chunked.
 */
import { floorMinute, type SampleQuality, type SampleValue } from '../model.js';
import { CounterTracker, type CounterTrackerOptions } from './counter-tracker.js';

export const MS_PER_HOUR = 3_600_000;

/**
 * - `constant`: `kw` held over `[from, to)`
 * - `spread`: `kwh` spread evenly over `[from, to)` (a register's delta between readings)
 * - `trapezoid`: power moving linearly from `kwFrom` to `kwTo` over `[from, to)`
 * - `unattributed`: energy that crossed a data gap; when it was used is unknown,
 *   so it is booked at `from` (= `to`) in a class of its own
 */
export type EnergyPortion =
  | { readonly kind: 'constant'; readonly from: number; readonly to: number; readonly kw: number }
  | { readonly kind: 'spread'; readonly from: number; readonly to: number; readonly kwh: number }
  | {
      readonly kind: 'trapezoid';
      readonly from: number;
      readonly to: number;
      readonly kwFrom: number;
      readonly kwTo: number;
    }
  | { readonly kind: 'unattributed'; readonly from: number; readonly to: number; readonly kwh: number };

/** kWh of `portion` within `[a, b)` (a sub-interval of the portion's). */
export function portionKwh(portion: EnergyPortion, a: number, b: number): number {
  switch (portion.kind) {
    case 'constant':
      return (portion.kw * (b - a)) / MS_PER_HOUR;
    case 'spread':
      return b - a === portion.to - portion.from ? portion.kwh : (portion.kwh * (b - a)) / (portion.to - portion.from);
    case 'trapezoid': {
      const span = portion.to - portion.from;
      const at = (t: number) => portion.kwFrom + ((portion.kwTo - portion.kwFrom) * (t - portion.from)) / span;
      return (((at(a) + at(b)) / 2) * (b - a)) / MS_PER_HOUR;
    }
    case 'unattributed':
      return portion.kwh;
  }
}

/** kWh of a whole portion. */
export function totalKwh(portion: EnergyPortion): number {
  return portionKwh(portion, portion.from, portion.to);
}

export interface MeterReading {
  readonly ts: number;
  readonly value: SampleValue;
  readonly quality: SampleQuality;
}

export interface MeterUpdate {
  readonly portions: readonly EnergyPortion[];
  /** a data gap was detected with this reading */
  readonly gap: boolean;
  readonly reset: boolean;
  readonly rollover: boolean;
}

const NOTHING: MeterUpdate = { portions: [], gap: false, reset: false, rollover: false };

/**
 * The cumulative kWh register. A delta between two good readings at most
 * `gapMs` apart is spread evenly over the interval (constant power between
 * readings); across a longer silence or a bad/stale reading it is real energy
 * whose timing is unknown: it is booked as `unattributed` at the reading that
 * revealed it, and a gap is reported.
 */
export class KwhMeterTracker {
  private readonly counter: CounterTracker;
  private readonly gapMs: number;
  private lastTs: number | undefined;
  private interrupted = false;

  constructor(counter: CounterTrackerOptions, gapMs: number) {
    this.counter = new CounterTracker(counter);
    this.gapMs = gapMs;
  }

  /**
   * `knownUntil`: how far the caller's clock already is (a reading older than
   * that arrives late and is judged by the later time, so nothing already
   * settled is rewritten).
   */
  update(reading: MeterReading, knownUntil: number): MeterUpdate {
    const value = reading.value;
    const usable = (reading.quality === 'good' || reading.quality === 'uncertain') && typeof value === 'number';
    if (!usable) {
      if (this.lastTs === undefined || this.interrupted) return NOTHING;
      this.interrupted = true;
      return { ...NOTHING, gap: true };
    }
    const ts = Math.max(reading.ts, this.lastTs ?? reading.ts);
    const u = this.counter.update(value, ts);
    const last = this.lastTs;
    this.lastTs = ts;
    if (u.event === 'baseline') {
      this.interrupted = false;
      return NOTHING;
    }
    const late = last !== undefined && Math.max(ts, knownUntil) - last > this.gapMs;
    const gap = !this.interrupted && late;
    const acrossGap = this.interrupted || late;
    this.interrupted = false;
    const flags = { gap, reset: u.event === 'reset', rollover: u.event === 'rollover' };
    if (!(u.delta > 0) || last === undefined) return { portions: [], ...flags };
    if (acrossGap || ts <= last) {
      return { portions: [{ kind: 'unattributed', from: ts, to: ts, kwh: u.delta }], ...flags };
    }
    return { portions: [{ kind: 'spread', from: last, to: ts, kwh: u.delta }], ...flags };
  }

  /**
   * Earliest instant a coming reading may still book energy at: the last
   * reading while a spread is still possible, otherwise none.
   */
  pendingFrom(knownUntil: number): number | undefined {
    if (this.lastTs === undefined || this.interrupted || knownUntil - this.lastTs > this.gapMs) return undefined;
    return this.lastTs;
  }
}

/**
 * Instantaneous kW integrated with the trapezoid rule between good readings at
 * most `maxGapMs` apart. Beyond that the left value is held (report-on-change
 * data stays silent while nothing changes), up to the next reading of any
 * quality: a bad or stale reading ends the hold (the value is unknown from then).
 *
 * DOMAIN.md's example: (0 s, 10 kW), (60 s, 20 kW), (120 s, 20 kW) → 0.58333 kWh.
 */
export class PowerIntegrator {
  private readonly maxGapMs: number;
  private last: { ts: number; kw: number } | undefined;
  /** everything before this is booked */
  private integratedUntil: number | undefined;

  constructor(maxGapMs: number) {
    this.maxGapMs = maxGapMs;
  }

  update(reading: MeterReading, knownUntil: number): MeterUpdate {
    const value = reading.value;
    const usable = (reading.quality === 'good' || reading.quality === 'uncertain') && typeof value === 'number';
    const ts = Math.max(reading.ts, this.integratedUntil ?? reading.ts);
    const last = this.last;
    const from = this.integratedUntil;
    if (!usable) {
      if (last === undefined || from === undefined) return NOTHING;
      this.last = undefined;
      this.integratedUntil = ts;
      const portions: EnergyPortion[] = ts > from ? [{ kind: 'constant', from, to: ts, kw: last.kw }] : [];
      return { portions, gap: true, reset: false, rollover: false };
    }
    this.last = { ts, kw: value };
    this.integratedUntil = ts;
    if (last === undefined || from === undefined || ts <= from) return NOTHING;
    if (from === last.ts && Math.max(ts, knownUntil) - last.ts <= this.maxGapMs) {
      return { ...NOTHING, portions: [{ kind: 'trapezoid', from, to: ts, kwFrom: last.kw, kwTo: value }] };
    }
    return { ...NOTHING, portions: [{ kind: 'constant', from, to: ts, kw: last.kw }] };
  }

  /**
   * Time passes with no reading: once the last one is older than `maxGapMs`
   * its value is held, booked up to the minute boundary at or before `now`
   * (whole minutes, so the pieces do not depend on when this is called).
   */
  progress(now: number): EnergyPortion | undefined {
    const last = this.last;
    const from = this.integratedUntil;
    if (last === undefined || from === undefined || !(now - last.ts > this.maxGapMs)) return undefined;
    const to = floorMinute(now);
    if (to <= from) return undefined;
    this.integratedUntil = to;
    return { kind: 'constant', from, to, kw: last.kw };
  }

  /** What `progress(now)` would book, without booking it. */
  peek(now: number): EnergyPortion | undefined {
    const last = this.last;
    const from = this.integratedUntil;
    if (last === undefined || from === undefined || !(now - last.ts > this.maxGapMs) || now <= from) return undefined;
    return { kind: 'constant', from, to: now, kw: last.kw };
  }

  /** Earliest instant a coming reading may still book energy at. */
  pendingFrom(): number | undefined {
    return this.last === undefined ? undefined : this.integratedUntil;
  }
}
