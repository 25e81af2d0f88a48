/**
 * The additive totals behind every metric. One `Accumulator` per entity per
 * minute is the per-minute rollup; any window is the sum of its minutes.
 * Every field is a plain sum, so rollups persisted elsewhere add up the same
 * way (`addInto`) and go through the same formulas (`metrics-record.ts`).
 *
 * Time fields are whole milliseconds. Counts are in units, energy in kWh,
 * emissions in kg CO2e.
 */

export interface Accumulator {
  /** time accounted for (the engine knows nothing before its origin) */
  coveredMs: number;

  // ---- the calendar, over the covered time ----
  /** inside a shift instance (breaks and planned stops included) */
  shiftMs: number;
  breakMs: number;
  /** inside a shift, covered by one of the calendar's planned stops */
  calendarStopMs: number;

  // ---- raw machine state, over the covered time (sums to coveredMs) ----
  runningMs: number;
  idleMs: number;
  unplannedStopMs: number;
  plannedStopMs: number;
  offlineMs: number;

  // ---- machine state inside calendar-planned time (shift − breaks − calendar planned stops) ----
  pRunningMs: number;
  pIdleMs: number;
  /** unplanned stops shorter than the microstop threshold: minor stops, a performance loss */
  pMicrostopMs: number;
  /** unplanned stops that reached the threshold: an availability loss */
  pStopMs: number;
  pOfflineMs: number;
  /** planned stops whose reason is setup or changeover */
  pSetupMs: number;
  /** other planned stops the machine declares (no order, maintenance, break, …) */
  pPlannedStopMs: number;

  /** unplanned stop episodes that reached the threshold, counted in the minute they started */
  stops: number;
  /** unplanned stop episodes that ended below the threshold, counted in the minute they started */
  microstops: number;

  // ---- production, in the minute the counter reported it (0 where the counter is not configured) ----
  total: number;
  good: number;
  reject: number;
  /** the same, counted while the machine was in a start-up period */
  startupTotal: number;
  startupGood: number;
  startupReject: number;

  // ---- energy of this entity's own meter ----
  kwhProducing: number;
  kwhIdle: number;
  kwhStopped: number;
  /** energy that crossed a data gap: its timing and machine state are unknown */
  kwhUnattributed: number;
  kgCO2eLocation: number;
  kgCO2eMarket: number;
  kwhWithoutLocationFactor: number;
  kwhWithoutMarketFactor: number;

  // ---- data quality events ----
  /** data gaps detected: a bad or stale reading, or a good one after a long silence */
  gaps: number;
  resets: number;
  rollovers: number;
  /** state changes to a raw value the state map does not know */
  unmappedStates: number;
  implausibleJumps: number;
  /** production counted at a reading after a data gap or an offline period (included in the counts) */
  gapUnits: number;
  /** energy counted at a reading after a data gap (= kwhUnattributed) */
  gapKwh: number;

  /**
   * Time inside calendar-planned time by loss kind and reason, key `<kind>|<reason>`
   * (kind: stop, microstop, idle, setup, planned-stop, offline; reason empty when none was given).
   */
  reasons: Record<string, number>;
}

export type NumericField = Exclude<keyof Accumulator, 'reasons'>;

export const NUMERIC_FIELDS: readonly NumericField[] = [
  'coveredMs',
  'shiftMs',
  'breakMs',
  'calendarStopMs',
  'runningMs',
  'idleMs',
  'unplannedStopMs',
  'plannedStopMs',
  'offlineMs',
  'pRunningMs',
  'pIdleMs',
  'pMicrostopMs',
  'pStopMs',
  'pOfflineMs',
  'pSetupMs',
  'pPlannedStopMs',
  'stops',
  'microstops',
  'total',
  'good',
  'reject',
  'startupTotal',
  'startupGood',
  'startupReject',
  'kwhProducing',
  'kwhIdle',
  'kwhStopped',
  'kwhUnattributed',
  'kgCO2eLocation',
  'kgCO2eMarket',
  'kwhWithoutLocationFactor',
  'kwhWithoutMarketFactor',
  'gaps',
  'resets',
  'rollovers',
  'unmappedStates',
  'implausibleJumps',
  'gapUnits',
  'gapKwh',
];

export function emptyAccumulator(): Accumulator {
  const acc = { reasons: {} } as Accumulator;
  for (const f of NUMERIC_FIELDS) acc[f] = 0;
  return acc;
}

/** Adds `source` into `target` (in place) and returns `target`. */
export function addInto(target: Accumulator, source: Accumulator): Accumulator {
  for (const f of NUMERIC_FIELDS) target[f] += source[f];
  for (const [key, ms] of Object.entries(source.reasons)) target.reasons[key] = (target.reasons[key] ?? 0) + ms;
  return target;
}

/** A deep copy (rollups handed out must not alias the live buckets). */
export function cloneAccumulator(source: Accumulator): Accumulator {
  return addInto(emptyAccumulator(), source);
}

export function sumAccumulators(list: Iterable<Accumulator>): Accumulator {
  const acc = emptyAccumulator();
  for (const a of list) addInto(acc, a);
  return acc;
}

/**
 * An accumulator read back from storage. Unknown fields are ignored and
 * missing or non-finite ones count as 0, so rollups written by an older
 * version still add up; null when `value` is not an object at all.
 */
export function accumulatorFromJson(value: unknown): Accumulator | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const source = value as Record<string, unknown>;
  const acc = emptyAccumulator();
  for (const f of NUMERIC_FIELDS) {
    const v = source[f];
    if (typeof v === 'number' && Number.isFinite(v)) acc[f] = v;
  }
  const reasons = source.reasons;
  if (typeof reasons === 'object' && reasons !== null) {
    for (const [key, ms] of Object.entries(reasons)) {
      if (typeof ms === 'number' && Number.isFinite(ms)) acc.reasons[key] = ms;
    }
  }
  return acc;
}
