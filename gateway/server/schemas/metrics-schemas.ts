/**
 * The metrics routes: the core's `MetricsRecord` and `MachineStatus` as the
 * API sends them, the overview, one entity, its series and the energy
 * baseline.
 */
import { z } from 'zod';
import type {
  BaselineResponse,
  EntityMetricsResponse,
  EntityRef,
  LineMetricsView,
  MachineMetricsView,
  MachineStatus,
  MetricsOverview,
  MetricsPoint,
  MetricsRecord,
  MetricsSeriesResponse,
} from '../contract.js';
import { doc, epochMs, type Expect, named, type SameShape } from './common.js';
import { machineStateName } from './plant-schemas.js';

const ms = (description: string) => doc(z.number(), { description: `${description}, ms` });
const ratio = (description: string) => doc(z.number().nullable(), { description });
const nullableNumber = () => z.number().nullable();

export const EntityRefSchema = named(
  'EntityRef',
  'A machine or a line.',
  z.strictObject({ type: z.enum(['machine', 'line']), id: z.string() }),
);

const MetricsWindowSchema = named(
  'MetricsWindow',
  'The window a record covers: whole minutes, and how far the data reaches.',
  z.strictObject({
    kind: z.enum(['current-shift', 'previous-shift', 'last-hour', 'today', 'range']),
    from: epochMs(),
    to: epochMs(),
    shiftId: doc(z.string().nullable(), {
      description: 'the shift instance for shift windows (`<shiftId>@<YYYY-MM-DD>`), else null',
    }),
    asOf: epochMs('how far the data reaches: min(to, now)'),
  }),
);

const LossBreakdownSchema = named(
  'LossBreakdown',
  "Where time and output went (Nakajima's six big losses, plus time with no data).",
  z.strictObject({
    breakdownsMs: z.number(),
    setupMs: z.number(),
    offlineMs: z.number(),
    minorStopsMs: z.number(),
    reducedSpeedMs: z.number(),
    processDefects: nullableNumber(),
    processDefectsMs: nullableNumber(),
    startupRejects: nullableNumber(),
    startupRejectsMs: nullableNumber(),
  }),
);

const StopReasonTimeSchema = named(
  'StopReasonTime',
  'Time lost by kind and reason during calendar-planned time.',
  z.strictObject({
    kind: doc(z.string(), { description: '`stop`, `microstop`, `idle`, `setup`, `planned-stop`, `offline`' }),
    reason: z.string().nullable(),
    ms: z.number(),
  }),
);

const DataQualitySchema = named(
  'DataQuality',
  'What the figures rest on: gaps, counter resets and rollovers, readings that made no sense.',
  z.strictObject({
    gaps: z.number(),
    resets: z.number(),
    rollovers: z.number(),
    unmappedStates: z.number(),
    implausibleJumps: z.number(),
    countMismatch: z.number(),
    gapUnits: z.number(),
    gapKwh: z.number(),
    kwhWithoutLocationFactor: z.number(),
    kwhWithoutMarketFactor: z.number(),
    stateMeasured: z.boolean(),
  }),
);

const carbonPair = () => z.strictObject({ location: nullableNumber(), market: nullableNumber() });

export const MetricsRecordSchema = named(
  'MetricsRecord',
  'OEE, energy and carbon of a machine or line over a window (the formulas are in the core README).',
  z.strictObject({
    entity: EntityRefSchema,
    window: MetricsWindowSchema,
    elapsedMs: ms('time the data covers inside the window'),
    shiftMs: z.number(),
    breakMs: z.number(),
    calendarStopMs: z.number(),
    calendarPlannedMs: z.number(),
    plannedStopMs: z.number(),
    plannedMs: ms('planned production time'),
    runMs: z.number(),
    stopMs: z.number(),
    microstopMs: z.number(),
    idleMs: z.number(),
    offlineMs: z.number(),
    states: z.strictObject({
      running: z.number(),
      idle: z.number(),
      unplannedStop: z.number(),
      plannedStop: z.number(),
      offline: z.number(),
    }),
    stops: z.number(),
    microstops: z.number(),
    total: nullableNumber(),
    good: nullableNumber(),
    reject: nullableNumber(),
    availability: ratio('0–1; null when not measured'),
    performance: ratio('0–1 (capped by the plant policy)'),
    performanceRaw: nullableNumber(),
    quality: ratio('good / total'),
    oee: ratio('availability × performance × quality'),
    teep: nullableNumber(),
    performanceOver100: z.boolean(),
    kwh: ratio('null without a meter'),
    kwhProducing: nullableNumber(),
    kwhIdle: nullableNumber(),
    kwhStopped: nullableNumber(),
    kwhUnattributed: nullableNumber(),
    kwhPerGood: nullableNumber(),
    kwhPerTotal: nullableNumber(),
    idleEnergyShare: nullableNumber(),
    kgCO2e: carbonPair(),
    kgCO2ePerGood: carbonPair(),
    scrapKg: nullableNumber(),
    losses: LossBreakdownSchema,
    stopReasons: z.array(StopReasonTimeSchema),
    dataQuality: DataQualitySchema,
  }),
);

export const MachineStatusSchema = named(
  'MachineStatus',
  "A machine's state now.",
  z.strictObject({
    machineId: z.string(),
    state: machineStateName(),
    reason: doc(z.string().nullable(), {
      description: "the stop reason: the reason tag's text, else the state mapping's reason",
    }),
    since: epochMs(),
    raw: doc(z.string().nullable(), { description: 'the raw state value, null when there is none' }),
    unmapped: z.boolean(),
    noData: z.boolean(),
    minorStopPending: z.boolean(),
  }),
);

const windowName = () =>
  doc(z.enum(['shift', 'prev-shift', 'hour', 'today', 'range']), {
    description: 'the window asked for: a name, or `range` with from/to',
  });

const MachineMetricsViewSchema = named(
  'MachineMetricsView',
  'A machine in the overview: its state now and its record.',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    status: MachineStatusSchema.nullable(),
    record: MetricsRecordSchema.nullable(),
  }),
);

const LineMetricsViewSchema = named(
  'LineMetricsView',
  'A line in the overview, with its machines.',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    area: z.string(),
    outputMachine: z.string(),
    record: MetricsRecordSchema.nullable(),
    machines: z.array(MachineMetricsViewSchema),
  }),
);

export const MetricsOverviewSchema = named(
  'MetricsOverview',
  'Every line and machine of the plant over a window. `ready: false` while metrics are rebuilt after a start (records null).',
  z.strictObject({
    serverTime: epochMs(),
    window: windowName(),
    timezone: z.string(),
    ready: z.boolean(),
    lines: z.array(LineMetricsViewSchema),
  }),
);

export const EntityMetricsResponseSchema = named(
  'EntityMetricsResponse',
  'One machine or line over a window.',
  z.strictObject({
    serverTime: epochMs(),
    entity: EntityRefSchema,
    name: z.string(),
    ready: z.boolean(),
    status: MachineStatusSchema.nullable(),
    record: MetricsRecordSchema.nullable(),
  }),
);

const MetricsPointSchema = named(
  'MetricsPoint',
  "One bucket of a series: the window's figures over [from, to).",
  z.strictObject({
    from: epochMs(),
    to: epochMs(),
    availability: nullableNumber(),
    performance: nullableNumber(),
    quality: nullableNumber(),
    oee: nullableNumber(),
    total: nullableNumber(),
    good: nullableNumber(),
    reject: nullableNumber(),
    plannedMs: z.number(),
    runMs: z.number(),
    stopMs: z.number(),
    kwh: nullableNumber(),
    kwhPerGood: nullableNumber(),
    kgCO2e: nullableNumber(),
    kgCO2eMarket: nullableNumber(),
  }),
);

export const MetricsSeriesResponseSchema = named(
  'MetricsSeriesResponse',
  'The window cut into buckets of whole minutes.',
  z.strictObject({
    serverTime: epochMs(),
    entity: EntityRefSchema,
    from: epochMs(),
    to: epochMs(),
    bucketMs: ms('bucket length: whole minutes, at least 1, so that the series has at most maxPoints points'),
    points: z.array(MetricsPointSchema),
  }),
);

export const BaselineResponseSchema = named(
  'BaselineResponse',
  "The line's energy baseline (ISO 50006: E = c + m·units fitted on its past hours) and the current shift's EnPI.",
  z.strictObject({
    serverTime: epochMs(),
    lineId: z.string(),
    from: epochMs(),
    to: epochMs(),
    periodMs: z.number(),
    used: doc(z.number(), { description: 'periods the fit used' }),
    excluded: doc(z.number(), { description: 'periods left out (no data, energy across a gap, no reading)' }),
    model: z
      .strictObject({
        intercept: doc(z.number(), { description: 'kWh per period with nothing produced (base load)' }),
        slope: doc(z.number(), { description: 'kWh per good unit' }),
        r2: z.number().nullable(),
        n: z.number(),
      })
      .nullable(),
    current: z
      .strictObject({
        from: epochMs(),
        asOf: epochMs(),
        actualKwh: z.number(),
        expectedKwh: z.number(),
        good: z.number(),
        enpi: doc(z.number().nullable(), { description: 'actual / expected kWh (below 1: better than the baseline)' }),
      })
      .nullable(),
  }),
);

export type MetricsContractChecks = [
  Expect<SameShape<EntityRef, z.output<typeof EntityRefSchema>>>,
  Expect<SameShape<MetricsRecord, z.output<typeof MetricsRecordSchema>>>,
  Expect<SameShape<MachineStatus, z.output<typeof MachineStatusSchema>>>,
  Expect<SameShape<MachineMetricsView, z.output<typeof MachineMetricsViewSchema>>>,
  Expect<SameShape<LineMetricsView, z.output<typeof LineMetricsViewSchema>>>,
  Expect<SameShape<MetricsOverview, z.output<typeof MetricsOverviewSchema>>>,
  Expect<SameShape<EntityMetricsResponse, z.output<typeof EntityMetricsResponseSchema>>>,
  Expect<SameShape<MetricsPoint, z.output<typeof MetricsPointSchema>>>,
  Expect<SameShape<MetricsSeriesResponse, z.output<typeof MetricsSeriesResponseSchema>>>,
  Expect<SameShape<BaselineResponse, z.output<typeof BaselineResponseSchema>>>,
];
