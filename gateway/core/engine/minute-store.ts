/**
 * One entity's per-minute accumulators, kept for a bounded span (older
 * windows come from persisted rollups).
 */
import { type Accumulator, addInto, emptyAccumulator } from '../metrics/accumulator.js';
import { MINUTE_MS } from '../model.js';

export class MinuteStore {
  private readonly minutes = new Map<number, Accumulator>();
  private first = Number.POSITIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;

  /** The accumulator of the minute starting at `minute`, created when absent. */
  bucket(minute: number): Accumulator {
    let acc = this.minutes.get(minute);
    if (acc === undefined) {
      acc = emptyAccumulator();
      this.minutes.set(minute, acc);
      if (minute < this.first) this.first = minute;
      if (minute > this.last) this.last = minute;
    }
    return acc;
  }

  get(minute: number): Accumulator | undefined {
    return this.minutes.get(minute);
  }

  /** Adds the minutes starting in `[from, to)` into `target`, oldest first. */
  sumInto(target: Accumulator, from: number, to: number): Accumulator {
    const start = Math.max(Math.ceil(from / MINUTE_MS) * MINUTE_MS, this.first);
    for (let m = start; m < to && m <= this.last; m += MINUTE_MS) {
      const acc = this.minutes.get(m);
      if (acc !== undefined) addInto(target, acc);
    }
    return target;
  }

  /** Drops the minutes that start before `before`. */
  prune(before: number): void {
    if (before <= this.first) return;
    for (const m of this.minutes.keys()) if (m < before) this.minutes.delete(m);
    this.first = Number.POSITIVE_INFINITY;
    this.last = Number.NEGATIVE_INFINITY;
    for (const m of this.minutes.keys()) {
      if (m < this.first) this.first = m;
      if (m > this.last) this.last = m;
    }
  }

  /** Minutes starting in `[from, to)` that hold data, oldest first. */
  *between(from: number, to: number): Generator<[number, Accumulator]> {
    const start = Math.max(Math.ceil(from / MINUTE_MS) * MINUTE_MS, this.first);
    for (let m = start; m < to && m <= this.last; m += MINUTE_MS) {
      const acc = this.minutes.get(m);
      if (acc !== undefined) yield [m, acc];
    }
  }

  get size(): number {
    return this.minutes.size;
  }

  /** the oldest minute held, or undefined when empty */
  get oldest(): number | undefined {
    return Number.isFinite(this.first) ? this.first : undefined;
  }
}

/** Where a booking goes: the accumulator for a minute, or undefined to leave it out. */
export type BookTarget = (minute: number) => Accumulator | undefined;

export function storeTarget(store: MinuteStore): BookTarget {
  return (minute) => store.bucket(minute);
}

/** A booking target that collects the minutes in `[from, to)` into one accumulator. */
export function windowTarget(acc: Accumulator, from: number, to: number): BookTarget {
  return (minute) => (minute >= from && minute < to ? acc : undefined);
}
