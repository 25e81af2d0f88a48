/**
 * An energy baseline in the ISO 50006 sense: energy of a period as a
 * straight line of what was produced in it,
 *
 *   E = c + m · units      (c: base load per period, kWh; m: kWh per unit)
 *
 * fitted by ordinary least squares on past periods. The energy performance
 * indicator of a later window is then actual / expected (below 1: better than
 * the baseline).
 */

export interface BaselinePoint {
  /** units produced in the period (good units) */
  readonly units: number;
  readonly kwh: number;
}

export interface EnergyBaseline {
  /** c: energy per period with nothing produced (the base load), kWh */
  readonly intercept: number;
  /** m: energy per unit produced, kWh */
  readonly slope: number;
  /** coefficient of determination of the fit, 0…1; null when the energy does not vary */
  readonly r2: number | null;
  /** periods the fit used */
  readonly n: number;
}

/** at least this many periods, and some spread in the units, before a fit means anything */
export const BASELINE_MIN_POINTS = 3;

/**
 * Least-squares fit of kWh against units. Null with fewer than
 * BASELINE_MIN_POINTS finite points or when every period made the same
 * number of units (no slope can be told).
 */
export function fitEnergyBaseline(points: readonly BaselinePoint[]): EnergyBaseline | null {
  const usable = points.filter((p) => Number.isFinite(p.units) && Number.isFinite(p.kwh));
  const n = usable.length;
  if (n < BASELINE_MIN_POINTS) return null;
  let sx = 0;
  let sy = 0;
  for (const p of usable) {
    sx += p.units;
    sy += p.kwh;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const p of usable) {
    const dx = p.units - mx;
    const dy = p.kwh - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (!(sxx > 1e-12 * Math.max(1, mx * mx))) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (const p of usable) {
    const e = p.kwh - (intercept + slope * p.units);
    sse += e * e;
  }
  const r2 = syy > 0 ? Math.max(0, 1 - sse / syy) : null;
  return { intercept, slope, r2, n };
}

/** Energy the baseline expects for `periods` periods that made `units` units. */
export function expectedKwh(baseline: EnergyBaseline, periods: number, units: number): number {
  return baseline.intercept * periods + baseline.slope * units;
}
