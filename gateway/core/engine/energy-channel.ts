/**
 * One energy meter booked into its owner's minutes (a machine's own meter, or
 * a line meter), split by the state of the machine it follows (the machine
 * itself, or the line's output machine) and priced with the carbon factors in
 * force.
 *
 * Each portion is cut at minute boundaries, at the followed machine's state
 * changes and at carbon factor changes, and nowhere else, so the same
 * readings give the same pieces however time was advanced in between.
 */
import type { Accumulator } from '../metrics/accumulator.js';
import type { CarbonFactors } from '../metrics/carbon-factors.js';
import { type CoreSample, floorMinute, MINUTE_MS } from '../model.js';
import {
  type EnergyPortion,
  KwhMeterTracker,
  type MeterUpdate,
  PowerIntegrator,
  portionKwh,
} from '../signals/energy-meters.js';
import type { EnergyClass } from '../signals/machine-state.js';
import type { MachineTracker } from './machine-tracker.js';
import type { BookTarget, MinuteStore } from './minute-store.js';

export interface EnergyChannelOptions {
  readonly kind: 'kwh' | 'kw';
  readonly store: MinuteStore;
  /** the machine whose state splits the energy */
  readonly follows: MachineTracker;
  readonly carbon: CarbonFactors;
  /** kW: the longest gap the trapezoid bridges */
  readonly maxIntegrationGapMs: number;
  /** kWh: the longest interval a delta is spread over; longer ones are a data gap */
  readonly counterGapMs: number;
  /** kWh: the register's width (integer registers) or `float` */
  readonly registerWidth: 16 | 32 | 64 | 'float';
  readonly registerScale: number;
}

export class EnergyChannel {
  readonly follows: MachineTracker;
  private readonly store: MinuteStore;
  private readonly carbon: CarbonFactors;
  private readonly kwh: KwhMeterTracker | undefined;
  private readonly kw: PowerIntegrator | undefined;

  constructor(options: EnergyChannelOptions) {
    this.store = options.store;
    this.follows = options.follows;
    this.carbon = options.carbon;
    if (options.kind === 'kwh') {
      this.kwh = new KwhMeterTracker(
        { width: options.registerWidth, scale: options.registerScale },
        options.counterGapMs,
      );
    } else {
      this.kw = new PowerIntegrator(options.maxIntegrationGapMs);
    }
  }

  onSample(sample: CoreSample): void {
    const source = this.follows;
    source.advanceTo(sample.ts);
    const reading = { ts: sample.ts, value: sample.value, quality: sample.quality };
    const update: MeterUpdate = this.kwh
      ? this.kwh.update(reading, source.time)
      : this.kw!.update(reading, source.time);
    // events and gap energy land no earlier than the followed machine's time: that past is settled
    const at = Math.max(sample.ts, source.time);
    if (update.gap || update.reset || update.rollover) {
      const acc = this.store.bucket(floorMinute(at));
      if (update.gap) acc.gaps++;
      if (update.reset) acc.resets++;
      if (update.rollover) acc.rollovers++;
    }
    const target: BookTarget = (minute) => this.store.bucket(minute);
    for (const p of update.portions) {
      this.book(p.kind === 'unattributed' ? { ...p, from: Math.max(p.from, at), to: Math.max(p.to, at) } : p, target);
    }
  }

  /** Books held kW up to the minute boundary at or before `now`. */
  progress(now: number): void {
    const p = this.kw?.progress(now);
    if (p !== undefined) this.book(p, (minute) => this.store.bucket(minute));
  }

  /** Books into `target` what is known beyond the booked part up to `end` (a held kW value); changes nothing. */
  project(end: number, target: BookTarget): void {
    const p = this.kw?.peek(end);
    if (p !== undefined) this.book(p, target);
  }

  /** The earliest instant a coming reading may still book energy at; undefined when none. */
  openFrom(): number | undefined {
    return this.kwh ? this.kwh.pendingFrom(this.follows.time) : this.kw!.pendingFrom();
  }

  private book(portion: EnergyPortion, target: BookTarget): void {
    if (portion.kind === 'unattributed') {
      const acc = target(floorMinute(portion.from));
      if (acc === undefined) return;
      acc.kwhUnattributed += portion.kwh;
      acc.gapKwh += portion.kwh;
      this.price(acc, portion.kwh, portion.from);
      return;
    }
    const source = this.follows;
    const factorChanges = this.carbon.changesWithin(portion.from, portion.to);
    let f = 0;
    let a = portion.from;
    while (a < portion.to) {
      while (f < factorChanges.length && factorChanges[f]! <= a) f++;
      const b = Math.min(
        portion.to,
        floorMinute(a) + MINUTE_MS,
        source.nextClassChangeAfter(a),
        factorChanges[f] ?? Number.POSITIVE_INFINITY,
      );
      const acc = target(floorMinute(a));
      if (acc !== undefined) {
        const kwh = portionKwh(portion, a, b);
        addClass(acc, source.energyClassAt(a), kwh);
        this.price(acc, kwh, a);
      }
      a = b;
    }
  }

  private price(acc: Accumulator, kwh: number, at: number): void {
    const f = this.carbon.at(at);
    if (f.location !== null) acc.kgCO2eLocation += kwh * f.location.kgCO2ePerKwh;
    else acc.kwhWithoutLocationFactor += kwh;
    if (this.carbon.hasMarket) {
      if (f.market !== null) acc.kgCO2eMarket += kwh * f.market.kgCO2ePerKwh;
      else acc.kwhWithoutMarketFactor += kwh;
    }
  }
}

function addClass(acc: Accumulator, cls: EnergyClass, kwh: number): void {
  if (cls === 'producing') acc.kwhProducing += kwh;
  else if (cls === 'idle') acc.kwhIdle += kwh;
  else acc.kwhStopped += kwh;
}
