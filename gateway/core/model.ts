/**
 * Shapes shared by the core's parts. The core depends on nothing outside its
 * folder at run time; the plant model's types come from the config schema as
 * types only.
 */
import type { PlantConfig } from '../../config/schema.js';

/** Quality of a reading, as the pipeline forwards it. */
export type SampleQuality = 'good' | 'bad' | 'uncertain' | 'stale';

export type SampleValue = number | boolean | string | null;

/**
 * What the core consumes: a pipeline sample (value in engineering units).
 * Declared here, structurally, so the pipeline's `ProcessedSample` fits without
 * the core importing the pipeline.
 */
export interface CoreSample {
  readonly tagId: string;
  /** ms since epoch */
  readonly ts: number;
  readonly value: SampleValue;
  readonly quality: SampleQuality;
  readonly reason?: string;
}

/** good and uncertain readings carry a value worth using; bad and stale do not */
export function isUsable(quality: SampleQuality): boolean {
  return quality === 'good' || quality === 'uncertain';
}

/** The parts of the plant model the core computes with. A whole `PlantConfig` fits. */
export type PlantModel = Pick<
  PlantConfig,
  'site' | 'lines' | 'calendars' | 'carbonTables' | 'microstopThresholdS' | 'oeeCap'
> & {
  /** tag data types and scales, for the rollover range of cumulative registers; optional */
  readonly devices?: PlantConfig['devices'];
};

export type MachineConfig = PlantConfig['lines'][number]['machines'][number];
export type LineConfig = PlantConfig['lines'][number];
export type CalendarConfig = PlantConfig['calendars'][number];
export type CarbonTableConfig = PlantConfig['carbonTables'][number];

export type EntityType = 'machine' | 'line';

export interface EntityRef {
  readonly type: EntityType;
  readonly id: string;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const floorMinute = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS;
export const ceilMinute = (t: number): number => Math.ceil(t / MINUTE_MS) * MINUTE_MS;

export type CoreErrorCode = 'GL_ERR_CORE_UNKNOWN_ENTITY' | 'GL_ERR_CORE_OPTION' | 'GL_ERR_CORE_CONFIG';

/** Errors raised by the core carry a stable code and say what to do. */
export class CoreError extends Error {
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string) {
    super(message);
    this.name = 'CoreError';
    this.code = code;
  }
}
