/**
 * The metrics record of a machine or a line over a window, computed from
 * accumulated totals (live buckets or persisted rollups alike).
 * `README.md` next to the core lists the formulas and the choices behind them.
 */
import type { EntityRef } from '../model.js';
import type { Accumulator } from './accumulator.js';
import { emptyAccumulator } from './accumulator.js';
import { computeOee, type OeeCapPolicy } from './oee.js';

export type WindowKind = 'current-shift' | 'previous-shift' | 'last-hour' | 'today' | 'range';

export interface MetricsWindow {
  readonly kind: WindowKind;
  /** ms since epoch, whole minutes */
  readonly from: number;
  readonly to: number;
  /** the shift instance for shift windows (`<shiftId>@<YYYY-MM-DD>`), else null */
  readonly shiftId: string | null;
  /** how far the data reaches: min(to, now) */
  readonly asOf: number;
}

/**
 * Where time and output went (Nakajima's six big losses, plus time with no data).
 * Times in ms; quality losses in units and in ms at the ideal rate.
 */
export interface LossBreakdown {
  /** availability: unplanned stops that reached the microstop threshold */
  readonly breakdownsMs: number;
  /**
   * setup and changeover (planned stops with that reason). An availability loss
   * under `setupCountsAs: 'availability-loss'`; under the default `planned` it is
   * left out of planned production time and shown here for the breakdown only.
   */
  readonly setupMs: number;
  /** availability: offline or no data during planned time (not one of the six: unknown) */
  readonly offlineMs: number;
  /** performance: unplanned stops below the threshold and idle time, during planned time */
  readonly minorStopsMs: number;
  /** performance: running time beyond the ideal time for the count (0 when running faster than ideal) */
  readonly reducedSpeedMs: number;
  /** quality: rejects outside start-up periods */
  readonly processDefects: number | null;
  readonly processDefectsMs: number | null;
  /** quality: rejects counted in a start-up period (after a real stop, a planned stop or offline) */
  readonly startupRejects: number | null;
  readonly startupRejectsMs: number | null;
}

export interface StopReasonTime {
  /** stop (≥ threshold), microstop, idle, setup, planned-stop, offline */
  readonly kind: string;
  readonly reason: string | null;
  /** time during calendar-planned time */
  readonly ms: number;
}

export interface DataQuality {
  readonly gaps: number;
  readonly resets: number;
  readonly rollovers: number;
  readonly unmappedStates: number;
  readonly implausibleJumps: number;
  /** units by which the production counters disagree over the window (good ahead of total, …) */
  readonly countMismatch: number;
  /** units counted at a reading after a data gap or an offline period (included in the counts) */
  readonly gapUnits: number;
  /** kWh counted at a reading after a data gap (= kwhUnattributed) */
  readonly gapKwh: number;
  readonly kwhWithoutLocationFactor: number;
  readonly kwhWithoutMarketFactor: number;
  /** false when a machine has no state tag: it is taken as running, availability is not measured */
  readonly stateMeasured: boolean;
}

export interface MetricsRecord {
  readonly entity: EntityRef;
  readonly window: MetricsWindow;
  /** time the data covers inside the window (all time, for TEEP) */
  readonly elapsedMs: number;

  // ---- time model (ms) ----
  /** calendar: inside shifts (breaks and calendar planned stops included) */
  readonly shiftMs: number;
  readonly breakMs: number;
  /** the calendar's planned stops inside shifts */
  readonly calendarStopMs: number;
  /** shift time less breaks and calendar planned stops */
  readonly calendarPlannedMs: number;
  /** planned stops the machine declared during calendar-planned time (setup included under the `planned` policy) */
  readonly plannedStopMs: number;
  /** planned production time: calendarPlannedMs − plannedStopMs */
  readonly plannedMs: number;
  /** run time: plannedMs − stopMs; includes minor stops and idle */
  readonly runMs: number;
  /** availability loss: unplanned stops ≥ threshold, offline (and setup under `availability-loss`) */
  readonly stopMs: number;
  /** unplanned stops below the threshold during planned time (part of runMs) */
  readonly microstopMs: number;
  /** idle during planned time (part of runMs) */
  readonly idleMs: number;
  /** offline or no data during planned time (part of stopMs) */
  readonly offlineMs: number;
  /** raw machine state over the whole elapsed time; sums to elapsedMs */
  readonly states: {
    readonly running: number;
    readonly idle: number;
    readonly unplannedStop: number;
    readonly plannedStop: number;
    readonly offline: number;
  };
  /** unplanned stop episodes that reached the threshold / stayed below it, by start minute */
  readonly stops: number;
  readonly microstops: number;

  // ---- production ----
  readonly total: number | null;
  readonly good: number | null;
  readonly reject: number | null;

  // ---- OEE ----
  readonly availability: number | null;
  readonly performance: number | null;
  readonly performanceRaw: number | null;
  readonly quality: number | null;
  readonly oee: number | null;
  readonly teep: number | null;
  readonly performanceOver100: boolean;

  // ---- energy (null without a meter) ----
  readonly kwh: number | null;
  readonly kwhProducing: number | null;
  readonly kwhIdle: number | null;
  readonly kwhStopped: number | null;
  readonly kwhUnattributed: number | null;
  readonly kwhPerGood: number | null;
  readonly kwhPerTotal: number | null;
  /** share of the energy with a known state used while not producing (idle or stopped): the base load */
  readonly idleEnergyShare: number | null;

  // ---- carbon ----
  readonly kgCO2e: { readonly location: number | null; readonly market: number | null };
  readonly kgCO2ePerGood: { readonly location: number | null; readonly market: number | null };
  /** rejects × unit mass */
  readonly scrapKg: number | null;

  readonly losses: LossBreakdown;
  /** time by loss kind and reason, largest first */
  readonly stopReasons: readonly StopReasonTime[];
  readonly dataQuality: DataQuality;
}

/** How times are read; decided by the plant, defaults follow DOMAIN.md. */
export interface MetricsPolicy {
  readonly oeeCap: OeeCapPolicy;
  /** `planned`: setup and changeover leave planned time (DOMAIN.md); `availability-loss`: they stay in it as a loss */
  readonly setupCountsAs: 'planned' | 'availability-loss';
  /** `output-machine`: the line is its output machine's times and counts; `sum`: sums over its machines */
  readonly lineMetrics: 'output-machine' | 'sum';
}

export interface CounterRoles {
  readonly total: boolean;
  readonly good: boolean;
  readonly reject: boolean;
}

export interface MachineParams {
  readonly id: string;
  readonly idealCycleTimeS: number;
  /** which counters are configured (at least two), or null without counters */
  readonly counters: CounterRoles | null;
  readonly hasMeter: boolean;
  readonly stateMeasured: boolean;
  readonly unitMassKg: number | null;
  readonly carbon: CarbonAvailability;
}

export interface CarbonAvailability {
  readonly hasLocation: boolean;
  readonly hasMarket: boolean;
}

export interface LineParams {
  readonly id: string;
  readonly outputMachineId: string;
  readonly hasMeter: boolean;
  readonly carbon: CarbonAvailability;
}

export interface Counts {
  readonly total: number;
  readonly good: number;
  readonly reject: number;
  readonly startupReject: number;
  /** units by which the counters disagree (see `deriveCounts`) */
  readonly mismatch: number;
}

/**
 * Counts with the missing third counter derived from the other two. Counters
 * read at different instants may disagree for a moment (good ahead of total);
 * good and reject are then held to the total, so quality stays within [0, 1],
 * and the disagreement is reported as `mismatch` (with all three counters: |total − good − reject|).
 */
export function deriveCounts(acc: Accumulator, roles: CounterRoles): Counts {
  const pick = (total: number, good: number, reject: number) => {
    const t = roles.total ? total : good + reject;
    const g = roles.good ? good : Math.max(0, total - reject);
    const r = roles.reject ? reject : Math.max(0, total - good);
    const mismatch =
      roles.total && roles.good && roles.reject ? Math.abs(t - g - r) : Math.max(0, g - t) + Math.max(0, r - t);
    return { total: t, good: Math.min(g, t), reject: Math.min(r, t), mismatch };
  };
  const all = pick(acc.total, acc.good, acc.reject);
  const startup = pick(acc.startupTotal, acc.startupGood, acc.startupReject);
  return { ...all, startupReject: Math.min(all.reject, startup.reject) };
}

interface Times {
  readonly calendarPlannedMs: number;
  readonly plannedStopMs: number;
  readonly plannedMs: number;
  readonly stopMs: number;
  readonly runMs: number;
}

function timesOf(acc: Accumulator, policy: MetricsPolicy): Times {
  const calendarPlannedMs =
    acc.pRunningMs + acc.pIdleMs + acc.pMicrostopMs + acc.pStopMs + acc.pOfflineMs + acc.pSetupMs + acc.pPlannedStopMs;
  const setupIsLoss = policy.setupCountsAs === 'availability-loss';
  const plannedStopMs = acc.pPlannedStopMs + (setupIsLoss ? 0 : acc.pSetupMs);
  const stopMs = acc.pStopMs + acc.pOfflineMs + (setupIsLoss ? acc.pSetupMs : 0);
  const plannedMs = calendarPlannedMs - plannedStopMs;
  return { calendarPlannedMs, plannedStopMs, plannedMs, stopMs, runMs: plannedMs - stopMs };
}

interface Production {
  readonly counts: Counts | null;
  /** ideal time for the total count, ms */
  readonly idealWorkMs: number | null;
  /** ms per unit for the quality losses (the output machine's; an average for sums) */
  readonly idealPerUnitMs: number | null;
  readonly scrapKg: number | null;
}

interface Energy {
  readonly acc: Accumulator;
  readonly carbon: CarbonAvailability;
}

/** The record of one machine. */
export function machineMetrics(
  window: MetricsWindow,
  acc: Accumulator,
  params: MachineParams,
  policy: MetricsPolicy,
): MetricsRecord {
  const counts = params.counters === null ? null : deriveCounts(acc, params.counters);
  const production: Production = {
    counts,
    idealWorkMs: counts === null ? null : counts.total * params.idealCycleTimeS * 1000,
    idealPerUnitMs: params.idealCycleTimeS * 1000,
    scrapKg: counts === null || params.unitMassKg === null ? null : counts.reject * params.unitMassKg,
  };
  return buildRecord(
    { type: 'machine', id: params.id },
    window,
    acc,
    production,
    params.hasMeter ? { acc, carbon: params.carbon } : null,
    acc,
    params.stateMeasured,
    policy,
  );
}

/**
 * The record of a line: times and counts of its output machine, or sums over its
 * machines (`policy.lineMetrics`); energy of the line's own meter, else the sum
 * of its machines' meters (a line meter already includes its machines' sub-meters).
 */
export function lineMetrics(
  window: MetricsWindow,
  lineAcc: Accumulator,
  line: LineParams,
  machines: readonly { readonly acc: Accumulator; readonly params: MachineParams }[],
  policy: MetricsPolicy,
): MetricsRecord {
  const output = machines.find((m) => m.params.id === line.outputMachineId);
  const scrapParts = machines.filter((m) => m.params.counters !== null && m.params.unitMassKg !== null);
  const scrapKg =
    scrapParts.length === 0
      ? null
      : scrapParts.reduce((kg, m) => kg + deriveCounts(m.acc, m.params.counters!).reject * m.params.unitMassKg!, 0);

  let timeAcc: Accumulator;
  let production: Production;
  let stateMeasured: boolean;
  if (policy.lineMetrics === 'output-machine' || output === undefined) {
    const m = output ?? machines[0]!;
    timeAcc = m.acc;
    const counts = m.params.counters === null ? null : deriveCounts(m.acc, m.params.counters);
    production = {
      counts,
      idealWorkMs: counts === null ? null : counts.total * m.params.idealCycleTimeS * 1000,
      idealPerUnitMs: m.params.idealCycleTimeS * 1000,
      scrapKg,
    };
    stateMeasured = m.params.stateMeasured;
  } else {
    timeAcc = emptyAccumulator();
    let total = 0;
    let good = 0;
    let reject = 0;
    let startupReject = 0;
    let mismatch = 0;
    let idealWorkMs = 0;
    let withCounters = 0;
    for (const m of machines) {
      addTimes(timeAcc, m.acc);
      if (m.params.counters === null) continue;
      const c = deriveCounts(m.acc, m.params.counters);
      withCounters++;
      total += c.total;
      good += c.good;
      reject += c.reject;
      startupReject += c.startupReject;
      mismatch += c.mismatch;
      idealWorkMs += c.total * m.params.idealCycleTimeS * 1000;
    }
    production = {
      counts: withCounters === 0 ? null : { total, good, reject, startupReject, mismatch },
      idealWorkMs: withCounters === 0 ? null : idealWorkMs,
      idealPerUnitMs: total > 0 ? idealWorkMs / total : null,
      scrapKg,
    };
    stateMeasured = machines.every((m) => m.params.stateMeasured);
  }

  let energy: Energy | null = null;
  if (line.hasMeter) energy = { acc: lineAcc, carbon: line.carbon };
  else {
    const metered = machines.filter((m) => m.params.hasMeter);
    if (metered.length > 0) {
      const acc = emptyAccumulator();
      for (const m of metered) addEnergy(acc, m.acc);
      energy = { acc, carbon: line.carbon };
    }
  }

  const quality = emptyAccumulator();
  addDataQuality(quality, lineAcc);
  for (const m of machines) addDataQuality(quality, m.acc);

  return buildRecord(
    { type: 'line', id: line.id },
    window,
    timeAcc,
    production,
    energy,
    quality,
    stateMeasured,
    policy,
  );
}

function buildRecord(
  entity: EntityRef,
  window: MetricsWindow,
  t: Accumulator,
  production: Production,
  energy: Energy | null,
  dq: Accumulator,
  stateMeasured: boolean,
  policy: MetricsPolicy,
): MetricsRecord {
  const times = timesOf(t, policy);
  const counts = production.counts;
  const oee = computeOee({
    plannedMs: times.plannedMs,
    runMs: times.runMs,
    total: counts?.total ?? 0,
    good: counts?.good ?? 0,
    idealWorkMs: production.idealWorkMs ?? Number.NaN,
    allMs: t.coveredMs,
    cap: policy.oeeCap,
  });
  const noCounts = counts === null;

  const e = energy?.acc;
  const kwh = e === undefined ? null : e.kwhProducing + e.kwhIdle + e.kwhStopped + e.kwhUnattributed;
  const attributed = e === undefined ? 0 : e.kwhProducing + e.kwhIdle + e.kwhStopped;
  const perGood = (x: number | null) => (x === null || counts === null || counts.good <= 0 ? null : x / counts.good);
  const kgLocation = e !== undefined && energy!.carbon.hasLocation ? e.kgCO2eLocation : null;
  const kgMarket = e !== undefined && energy!.carbon.hasMarket ? e.kgCO2eMarket : null;

  const minorStopsMs = t.pMicrostopMs + t.pIdleMs;
  const idealPerUnit = production.idealPerUnitMs;
  const processDefects = counts === null ? null : counts.reject - counts.startupReject;
  const losses: LossBreakdown = {
    breakdownsMs: t.pStopMs,
    setupMs: t.pSetupMs,
    offlineMs: t.pOfflineMs,
    minorStopsMs,
    reducedSpeedMs: production.idealWorkMs === null ? 0 : Math.max(0, t.pRunningMs - production.idealWorkMs),
    processDefects,
    processDefectsMs: processDefects === null || idealPerUnit === null ? null : processDefects * idealPerUnit,
    startupRejects: counts === null ? null : counts.startupReject,
    startupRejectsMs: counts === null || idealPerUnit === null ? null : counts.startupReject * idealPerUnit,
  };

  return {
    entity,
    window,
    elapsedMs: t.coveredMs,
    shiftMs: t.shiftMs,
    breakMs: t.breakMs,
    calendarStopMs: t.calendarStopMs,
    calendarPlannedMs: times.calendarPlannedMs,
    plannedStopMs: times.plannedStopMs,
    plannedMs: times.plannedMs,
    runMs: times.runMs,
    stopMs: times.stopMs,
    microstopMs: t.pMicrostopMs,
    idleMs: t.pIdleMs,
    offlineMs: t.pOfflineMs,
    states: {
      running: t.runningMs,
      idle: t.idleMs,
      unplannedStop: t.unplannedStopMs,
      plannedStop: t.plannedStopMs,
      offline: t.offlineMs,
    },
    stops: t.stops,
    microstops: t.microstops,
    total: noCounts ? null : counts.total,
    good: noCounts ? null : counts.good,
    reject: noCounts ? null : counts.reject,
    availability: oee.availability,
    performance: oee.performance,
    performanceRaw: oee.performanceRaw,
    quality: oee.quality,
    oee: oee.oee,
    teep: oee.teep,
    performanceOver100: oee.performanceOver100,
    kwh,
    kwhProducing: e === undefined ? null : e.kwhProducing,
    kwhIdle: e === undefined ? null : e.kwhIdle,
    kwhStopped: e === undefined ? null : e.kwhStopped,
    kwhUnattributed: e === undefined ? null : e.kwhUnattributed,
    kwhPerGood: perGood(kwh),
    kwhPerTotal: kwh === null || counts === null || counts.total <= 0 ? null : kwh / counts.total,
    idleEnergyShare: e === undefined || attributed <= 0 ? null : (e.kwhIdle + e.kwhStopped) / attributed,
    kgCO2e: { location: kgLocation, market: kgMarket },
    kgCO2ePerGood: { location: perGood(kgLocation), market: perGood(kgMarket) },
    scrapKg: production.scrapKg,
    losses,
    stopReasons: reasonsOf(t),
    dataQuality: {
      gaps: dq.gaps,
      resets: dq.resets,
      rollovers: dq.rollovers,
      unmappedStates: dq.unmappedStates,
      implausibleJumps: dq.implausibleJumps,
      countMismatch: counts?.mismatch ?? 0,
      gapUnits: dq.gapUnits,
      gapKwh: dq.gapKwh,
      kwhWithoutLocationFactor: e === undefined ? 0 : e.kwhWithoutLocationFactor,
      kwhWithoutMarketFactor: e === undefined ? 0 : e.kwhWithoutMarketFactor,
      stateMeasured,
    },
  };
}

function reasonsOf(acc: Accumulator): StopReasonTime[] {
  const out: StopReasonTime[] = [];
  for (const [key, ms] of Object.entries(acc.reasons)) {
    if (!(ms > 0)) continue;
    const bar = key.indexOf('|');
    const reason = key.slice(bar + 1);
    out.push({ kind: key.slice(0, bar), reason: reason === '' ? null : reason, ms });
  }
  return out.sort(
    (a, b) => b.ms - a.ms || a.kind.localeCompare(b.kind) || (a.reason ?? '').localeCompare(b.reason ?? ''),
  );
}

const TIME_FIELDS = [
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
] as const;

function addTimes(target: Accumulator, source: Accumulator): void {
  for (const f of TIME_FIELDS) target[f] += source[f];
  for (const [key, ms] of Object.entries(source.reasons)) target.reasons[key] = (target.reasons[key] ?? 0) + ms;
}

const ENERGY_FIELDS = [
  'kwhProducing',
  'kwhIdle',
  'kwhStopped',
  'kwhUnattributed',
  'kgCO2eLocation',
  'kgCO2eMarket',
  'kwhWithoutLocationFactor',
  'kwhWithoutMarketFactor',
] as const;

function addEnergy(target: Accumulator, source: Accumulator): void {
  for (const f of ENERGY_FIELDS) target[f] += source[f];
}

const QUALITY_FIELDS = [
  'gaps',
  'resets',
  'rollovers',
  'unmappedStates',
  'implausibleJumps',
  'gapUnits',
  'gapKwh',
] as const;

function addDataQuality(target: Accumulator, source: Accumulator): void {
  for (const f of QUALITY_FIELDS) target[f] += source[f];
}
