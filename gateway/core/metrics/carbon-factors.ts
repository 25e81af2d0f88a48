/**
 * Emission factors in force at an instant, from the plant's carbon tables
 * (GHG Protocol Scope 2: location-based and market-based).
 *
 * A factor's `from` / `to` are site-local dates, both inclusive. Where several
 * factors of one method apply at once, the first table in the list wins, and
 * within a table the first factor: the config's order is the priority.
 *
 * Market-based: where the tables hold market factors but none is in force at an
 * instant, the location-based factor stands in (the GHG Protocol's fallback
 * when no contractual instrument covers the energy). With no market table at
 * all, market-based emissions are not reported (null).
 */
import type { CarbonTableConfig } from '../model.js';
import { dayNumberOf, instantOf } from '../calendar/zoned-time.js';

export interface FactorInForce {
  readonly kgCO2ePerKwh: number;
  readonly source: string;
  readonly tableId: string;
}

export interface FactorsAt {
  readonly location: FactorInForce | null;
  /** null where no market table exists, or neither a market nor a location factor is in force */
  readonly market: FactorInForce | null;
}

interface Period {
  readonly from: number;
  readonly to: number;
  readonly factors: FactorsAt;
}

interface CompiledFactor extends FactorInForce {
  readonly from: number;
  readonly to: number;
  readonly method: 'location' | 'market';
}

const NONE: FactorsAt = { location: null, market: null };

export class CarbonFactors {
  readonly hasLocation: boolean;
  readonly hasMarket: boolean;
  /** consecutive periods over which the factors in force do not change, by start */
  private readonly periods: readonly Period[];

  constructor(tables: readonly CarbonTableConfig[], timeZone: string) {
    const factors: CompiledFactor[] = [];
    for (const table of tables) {
      for (const f of table.factors) {
        const from = instantOf(dayNumberOf(f.from), 0, timeZone);
        const to = f.to === undefined ? Number.POSITIVE_INFINITY : instantOf(dayNumberOf(f.to) + 1, 0, timeZone);
        if (to > from) {
          factors.push({
            from,
            to,
            method: f.method,
            kgCO2ePerKwh: f.kgCO2ePerKwh,
            source: f.source,
            tableId: table.id,
          });
        }
      }
    }
    this.hasLocation = factors.some((f) => f.method === 'location');
    this.hasMarket = factors.some((f) => f.method === 'market');
    const points = [...new Set(factors.flatMap((f) => [f.from, f.to]))].filter(Number.isFinite).sort((a, b) => a - b);
    const periods: Period[] = [];
    const bounds = [Number.NEGATIVE_INFINITY, ...points, Number.POSITIVE_INFINITY];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const from = bounds[i]!;
      const to = bounds[i + 1]!;
      const probe = Number.isFinite(from) ? from : to - 1;
      const inForce = (method: 'location' | 'market') =>
        factors.find((f) => f.method === method && f.from <= probe && probe < f.to) ?? null;
      const location = strip(inForce('location'));
      const market = this.hasMarket ? (strip(inForce('market')) ?? location) : null;
      periods.push({ from, to, factors: location === null && market === null ? NONE : { location, market } });
    }
    this.periods = periods;
  }

  /** The factors in force at `t`. */
  at(t: number): FactorsAt {
    const periods = this.periods;
    let lo = 0;
    let hi = periods.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (periods[mid]!.from <= t) lo = mid;
      else hi = mid - 1;
    }
    return periods[lo]?.factors ?? NONE;
  }

  /** Instants in `(from, to)` where the factors change: a booked interval is cut there. */
  changesWithin(from: number, to: number): number[] {
    const out: number[] = [];
    for (const p of this.periods) if (p.from > from && p.from < to) out.push(p.from);
    return out;
  }
}

function strip(f: CompiledFactor | null): FactorInForce | null {
  return f === null ? null : { kgCO2ePerKwh: f.kgCO2ePerKwh, source: f.source, tableId: f.tableId };
}
