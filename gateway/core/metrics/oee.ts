/**
 * OEE from times and counts (ISO 22400-2 and the practitioners' convention,
 * see DOMAIN.md):
 *
 *   A = run time / planned production time
 *   P = ideal cycle time × total count / run time      (raw; may exceed 1)
 *   Q = good count / total count
 *   OEE = A × P × Q                                     (P capped at 1 under the `cap` policy)
 *   TEEP = OEE × planned production time / all time
 *
 * With P ≤ 1 (or the `raw` policy) OEE = good × ideal cycle time / planned time.
 * Ratios without a denominator are null, never 0 or NaN.
 */

export type OeeCapPolicy = 'cap' | 'raw';

export interface OeeInput {
  /** planned production time, ms */
  readonly plannedMs: number;
  /** run time (planned time less availability losses), ms */
  readonly runMs: number;
  readonly total: number;
  readonly good: number;
  /** seconds per unit at the ideal rate; or give `idealWorkMs` */
  readonly idealCycleTimeS?: number;
  /** ideal time for the total count, ms (Σ ideal cycle × total where machines differ); wins over idealCycleTimeS */
  readonly idealWorkMs?: number;
  /** all time of the window, ms, for TEEP */
  readonly allMs?: number;
  /** default `cap` */
  readonly cap?: OeeCapPolicy;
}

export interface OeeResult {
  readonly availability: number | null;
  /** the performance the OEE uses (capped at 1 under the `cap` policy) */
  readonly performance: number | null;
  readonly performanceRaw: number | null;
  readonly quality: number | null;
  readonly oee: number | null;
  readonly teep: number | null;
  /** parts were counted faster than the ideal rate allows: the ideal cycle time is likely wrong */
  readonly performanceOver100: boolean;
}

export function computeOee(input: OeeInput): OeeResult {
  const { plannedMs, runMs, total, good } = input;
  const idealWorkMs = input.idealWorkMs ?? (input.idealCycleTimeS ?? Number.NaN) * 1000 * total;
  const availability = plannedMs > 0 ? runMs / plannedMs : null;
  const performanceRaw = runMs > 0 && Number.isFinite(idealWorkMs) ? idealWorkMs / runMs : null;
  // counts without any run time: faster than any ideal rate
  const performanceOver100 = (performanceRaw !== null && performanceRaw > 1) || (runMs <= 0 && total > 0);
  const performance =
    performanceRaw === null ? null : (input.cap ?? 'cap') === 'cap' ? Math.min(performanceRaw, 1) : performanceRaw;
  const quality = total > 0 ? good / total : null;
  let oee: number | null;
  if (availability === null || !Number.isFinite(idealWorkMs)) oee = null;
  // nothing made, or no run time: no good output in planned time
  else if (total <= 0 || runMs <= 0) oee = 0;
  else oee = availability * (performance ?? 0) * (quality ?? 0);
  const allMs = input.allMs;
  const teep = oee !== null && allMs !== undefined && allMs > 0 ? (oee * plannedMs) / allMs : null;
  return { availability, performance, performanceRaw, quality, oee, teep, performanceOver100 };
}
