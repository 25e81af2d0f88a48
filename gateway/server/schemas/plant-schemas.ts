/**
 * `GET /api/plant`: the plant as the dashboard sees it (an allow-list of the
 * config: no hosts, URLs, user names or passwords).
 */
import { z } from 'zod';
import type {
  CarbonFactorView,
  DeviceView,
  LineView,
  MachineStateName,
  MachineView,
  PlantView,
  TagRef,
  TagView,
} from '../contract.js';
import { doc, type Expect, named, type SameShape } from './common.js';

export const MACHINE_STATE_NAMES = [
  'running',
  'idle',
  'unplanned-stop',
  'planned-stop',
  'offline',
] as const satisfies readonly MachineStateName[];

export const machineStateName = () => z.enum(MACHINE_STATE_NAMES);

export const TagViewSchema = named(
  'TagView',
  'A configured tag: its metadata, never its address.',
  z.strictObject({
    id: z.string(),
    name: doc(z.string(), { description: "the tag's name, or its id when the config gives none" }),
    unit: z.string().nullable(),
    type: doc(z.string().nullable(), {
      description: 'declared data type (`float32`, `bool`, …); null when the device decides',
    }),
    description: z.string().nullable(),
    deviceId: z.string(),
    expectedIntervalMs: doc(z.number(), {
      description: 'how often a fresh value is expected, ms (poll, sampling or a third of `staleAfterMs`)',
    }),
  }),
);

export const DeviceViewSchema = named(
  'DeviceView',
  'A configured device and its tags.',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    protocol: z.string(),
    enabled: z.boolean(),
    tags: z.array(TagViewSchema),
  }),
);

export const TagRefSchema = named(
  'TagRef',
  'What a tag means to a machine or line.',
  z.strictObject({
    tagId: z.string(),
    role: z.enum(['state', 'stopReason', 'countTotal', 'countGood', 'countReject', 'energyKwh', 'energyKw']),
  }),
);

export const MachineViewSchema = named(
  'MachineView',
  'A machine: its tag roles, state map and stop reason names.',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    idealCycleTimeS: z.number(),
    tags: z.array(TagRefSchema),
    stateMap: doc(z.record(z.string(), machineStateName()).nullable(), {
      description: 'raw state value (as text) → machine state; null without a state tag',
    }),
    reasons: doc(z.record(z.string(), z.string()).optional(), {
      description: "stop reason code → the plant's name for it",
    }),
    stateReasons: doc(z.record(z.string(), z.string()).optional(), {
      description: 'raw state value → the reason its state mapping names (`setup`, `maintenance`)',
    }),
  }),
);

export const CarbonFactorViewSchema = named(
  'CarbonFactorView',
  "An emission factor of a carbon table that prices a line's energy (dates site-local, inclusive).",
  z.strictObject({
    table: z.string(),
    tableName: z.string(),
    from: z.string(),
    to: doc(z.string().nullable(), { description: 'null: open-ended' }),
    kgCO2ePerKwh: z.number(),
    source: z.string(),
    year: z.string(),
    method: z.enum(['location', 'market']),
  }),
);

export const LineViewSchema = named(
  'LineView',
  'A line, its machines, its own tags and the emission factors of its energy.',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    area: z.string(),
    outputMachine: z.string(),
    machines: z.array(MachineViewSchema),
    tags: z.array(TagRefSchema),
    carbonFactors: z.array(CarbonFactorViewSchema).optional(),
  }),
);

export const PlantViewSchema = named(
  'PlantView',
  'The plant: site, areas, lines with their machines, devices with their tags.',
  z.strictObject({
    site: z.strictObject({ id: z.string(), name: z.string(), timezone: z.string() }),
    areas: z.array(z.strictObject({ id: z.string(), name: z.string() })),
    lines: z.array(LineViewSchema),
    devices: z.array(DeviceViewSchema),
  }),
);

export type PlantContractChecks = [
  Expect<SameShape<TagView, z.output<typeof TagViewSchema>>>,
  Expect<SameShape<DeviceView, z.output<typeof DeviceViewSchema>>>,
  Expect<SameShape<TagRef, z.output<typeof TagRefSchema>>>,
  Expect<SameShape<MachineView, z.output<typeof MachineViewSchema>>>,
  Expect<SameShape<CarbonFactorView, z.output<typeof CarbonFactorViewSchema>>>,
  Expect<SameShape<LineView, z.output<typeof LineViewSchema>>>,
  Expect<SameShape<PlantView, z.output<typeof PlantViewSchema>>>,
];
