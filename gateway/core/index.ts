/**
 * greenline's pure core: machine state, shift calendar, counters, OEE, energy
 * and carbon. No I/O and no clock reads: time is always an argument.
 */
export type {
  CalendarSegment,
  CalendarStatus,
  ShiftCalendarOptions,
  ShiftInstance,
} from './calendar/shift-calendar.js';
export { ShiftCalendar } from './calendar/shift-calendar.js';
export {
  dayNumberOf,
  formatLocalIso,
  instantOf,
  localDateTime,
  localDayNumber,
  offsetAt,
  parseLocalDateTime,
  startOfLocalDay,
} from './calendar/zoned-time.js';
export { EnergyChannel } from './engine/energy-channel.js';
export {
  IMPLAUSIBLE_SLACK_UNITS,
  type MachineEvent,
  type MachineStatus,
  MachineTracker,
} from './engine/machine-tracker.js';
export {
  type EngineStats,
  MetricsEngine,
  type MetricsEngineOptions,
  type MinuteRollup,
} from './engine/metrics-engine.js';
export { MinuteStore } from './engine/minute-store.js';
export { type ResolvedWindow, resolveWindow, type WindowSpec } from './engine/windows.js';
export {
  type Accumulator,
  accumulatorFromJson,
  addInto,
  cloneAccumulator,
  emptyAccumulator,
  NUMERIC_FIELDS,
  sumAccumulators,
} from './metrics/accumulator.js';
export { CarbonFactors, type FactorInForce, type FactorsAt } from './metrics/carbon-factors.js';
export {
  type CarbonAvailability,
  type CounterRoles,
  type DataQuality,
  deriveCounts,
  type LineParams,
  type LossBreakdown,
  lineMetrics,
  type MachineParams,
  type MetricsPolicy,
  type MetricsRecord,
  type MetricsWindow,
  machineMetrics,
  type StopReasonTime,
  type WindowKind,
} from './metrics/metrics-record.js';
export { computeOee, type OeeCapPolicy, type OeeInput, type OeeResult } from './metrics/oee.js';
export {
  type CoreErrorCode,
  CoreError,
  type CoreSample,
  type EntityRef,
  type EntityType,
  type PlantModel,
  type SampleQuality,
  type SampleValue,
  ceilMinute,
  floorMinute,
  MINUTE_MS,
} from './model.js';
export {
  type CounterEvent,
  CounterTracker,
  type CounterTrackerOptions,
  type CounterUpdate,
  floatJitter,
  ROLLOVER_NEAR_BOTTOM,
  ROLLOVER_NEAR_TOP,
} from './signals/counter-tracker.js';
export {
  type EnergyPortion,
  KwhMeterTracker,
  type MeterReading,
  type MeterUpdate,
  PowerIntegrator,
  portionKwh,
  totalKwh,
} from './signals/energy-meters.js';
export {
  type EnergyClass,
  energyClassOf,
  isSetupReason,
  type MachineStateName,
  type MappedState,
  StateMapper,
} from './signals/machine-state.js';
export {
  BASELINE_MIN_POINTS,
  type BaselinePoint,
  type EnergyBaseline,
  expectedKwh,
  fitEnergyBaseline,
} from './metrics/baseline.js';
