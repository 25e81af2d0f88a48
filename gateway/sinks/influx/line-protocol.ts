/**
 * greenline's InfluxDB schema, as line protocol with millisecond timestamps.
 * `README.md` beside the sinks documents it for the people who query it.
 *
 * A point's key is its measurement, its tags and its time, and InfluxDB keeps
 * one point per key (a later write of the same key overwrites): every point is
 * built from what it describes only (ids from the plant model, the sample or
 * minute time), never from when or how often it was sent, so a replay after
 * an outage or a restart overwrites what arrived before instead of adding to it.
 *
 * Every field keeps one type in every point (numbers are always floats), so
 * InfluxDB never refuses a point of ours for a field type conflict.
 */
import type { AlarmChange } from '../../core/alarms/index.js';
import type { CoreSample, EntityRef, MachineEvent, MetricsRecord, PlantModel } from '../../core/index.js';

export const MEASUREMENT = {
  tag: 'greenline_tag',
  machine: 'greenline_machine_1m',
  line: 'greenline_line_1m',
  event: 'greenline_event',
  alarm: 'greenline_alarm',
} as const;

/** Where a tag sits in the plant; the composition root fills it from the plant model. */
export interface TagPlace {
  readonly device?: string;
  readonly area?: string;
  readonly line?: string;
  readonly machine?: string;
}

/** The plant as the schema's tags need it. */
export interface InfluxPlantContext {
  readonly site: string;
  /** line id → area id */
  readonly areaOfLine: ReadonlyMap<string, string>;
  /** machine id → line id */
  readonly lineOfMachine: ReadonlyMap<string, string>;
  /** where a tag sits; undefined for a tag the plant does not know */
  tagPlace(tagId: string): TagPlace | undefined;
}

/** The context from the plant model; `tagPlace` says where each tag sits (the pipeline's tag registry knows). */
export function plantContext(
  plant: Pick<PlantModel, 'site' | 'lines'>,
  tagPlace: (tagId: string) => TagPlace | undefined,
): InfluxPlantContext {
  const areaOfLine = new Map<string, string>();
  const lineOfMachine = new Map<string, string>();
  for (const line of plant.lines) {
    areaOfLine.set(line.id, line.area);
    for (const m of line.machines) lineOfMachine.set(m.id, line.id);
  }
  return { site: plant.site.id, areaOfLine, lineOfMachine, tagPlace };
}

/** The closed minutes and events the metrics service hands out (its `MetricsOutput` fits). */
export interface MetricsBatch {
  readonly minutes: readonly { readonly entity: EntityRef; readonly minute: number; readonly record: MetricsRecord }[];
  readonly events: readonly MachineEvent[];
}

/** longest string field we write; InfluxDB refuses strings over 64 KiB */
const MAX_STRING = 16_384;

/** A tag value: commas, equals signs and spaces escaped; line breaks and backslashes cannot be written safely. */
export function escapeTagValue(v: string): string {
  return v
    .replace(/[\r\n]+/g, ' ')
    .replace(/\\/g, '/')
    .replace(/[,= ]/g, (c) => `\\${c}`);
}

/** A string field value, quoted. */
export function quoteString(v: string): string {
  const s = v.length > MAX_STRING ? v.slice(0, MAX_STRING) : v;
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A float field value; null when it cannot be written (NaN, ±Infinity). */
export function formatFloat(v: number): string | null {
  if (!Number.isFinite(v)) return null;
  // JavaScript prints 1e+21 / 1e-7 for very large or small numbers; line protocol reads both
  return Object.is(v, -0) ? '0' : String(v);
}

/** `key=value` pairs joined; empty values are left out; keys are given sorted. */
function tagSet(pairs: readonly (readonly [string, string | undefined])[]): string {
  let out = '';
  for (const [k, v] of pairs) if (v !== undefined && v !== '') out += `,${k}=${escapeTagValue(v)}`;
  return out;
}

function timestamp(ms: number): string {
  return String(Math.round(ms));
}

/**
 * Encodes pipeline samples as `greenline_tag` points. The tag set of each tag
 * and quality is built once and kept.
 */
export class SampleEncoder {
  private readonly prefixes = new Map<string, string>();

  constructor(private readonly plant: InfluxPlantContext) {}

  /** The point of one sample; null when it has no time that can be written. */
  encode(s: CoreSample): string | null {
    if (typeof s.ts !== 'number' || !Number.isFinite(s.ts)) return null;
    let fields = '';
    const v = s.value;
    if (typeof v === 'number') {
      const f = formatFloat(v);
      if (f !== null) fields = `value=${f}`;
    } else if (typeof v === 'boolean') {
      // also as 0/1 in `value`, so a boolean charts and averages like the store's numbers
      fields = v ? 'value=1,value_bool=true' : 'value=0,value_bool=false';
    } else if (typeof v === 'string') {
      fields = `value_str=${quoteString(v)}`;
    }
    if (s.reason !== undefined || fields === '') {
      fields += `${fields === '' ? '' : ','}reason=${quoteString(s.reason ?? '')}`;
    }
    return `${this.prefix(s.tagId, s.quality)} ${fields} ${timestamp(s.ts)}`;
  }

  private prefix(tagId: string, quality: string): string {
    const key = `${quality}\u0000${tagId}`;
    let p = this.prefixes.get(key);
    if (p === undefined) {
      const place = this.plant.tagPlace(tagId);
      const line =
        place?.line ?? (place?.machine === undefined ? undefined : this.plant.lineOfMachine.get(place.machine));
      const area = place?.area ?? (line === undefined ? undefined : this.plant.areaOfLine.get(line));
      p =
        MEASUREMENT.tag +
        tagSet([
          ['area', area],
          ['device', place?.device],
          ['line', line],
          ['machine', place?.machine],
          ['quality', quality],
          ['site', this.plant.site],
          ['tag', tagId],
        ]);
      // tags come from the plant model, so this stays small; the bound guards against a flood of unknown ids
      if (this.prefixes.size >= 100_000) this.prefixes.clear();
      this.prefixes.set(key, p);
    }
    return p;
  }
}

/** The per-minute fields of a machine or line, in the order they are written. */
export const METRICS_FIELDS: readonly (readonly [string, (r: MetricsRecord) => number | null])[] = [
  ['oee', (r) => r.oee],
  ['availability', (r) => r.availability],
  ['performance', (r) => r.performance],
  ['quality', (r) => r.quality],
  ['total', (r) => r.total],
  ['good', (r) => r.good],
  ['reject', (r) => r.reject],
  ['run_ms', (r) => r.runMs],
  ['planned_ms', (r) => r.plannedMs],
  ['stop_ms', (r) => r.stopMs],
  ['idle_ms', (r) => r.idleMs],
  ['microstop_ms', (r) => r.microstopMs],
  ['offline_ms', (r) => r.offlineMs],
  ['elapsed_ms', (r) => r.elapsedMs],
  ['kwh', (r) => r.kwh],
  ['kwh_per_good', (r) => r.kwhPerGood],
  ['kgco2e_location', (r) => r.kgCO2e.location],
  ['kgco2e_market', (r) => r.kgCO2e.market],
  ['scrap_kg', (r) => r.scrapKg],
];

/** A closed minute of a machine or line as a `greenline_machine_1m` / `greenline_line_1m` point. */
export function encodeMinute(
  plant: InfluxPlantContext,
  entity: EntityRef,
  minute: number,
  record: MetricsRecord,
): string | null {
  let fields = '';
  for (const [name, get] of METRICS_FIELDS) {
    const v = get(record);
    const f = v === null ? null : formatFloat(v);
    if (f !== null) fields += `${fields === '' ? '' : ','}${name}=${f}`;
  }
  if (fields === '' || !Number.isFinite(minute)) return null;
  if (entity.type === 'machine') {
    const line = plant.lineOfMachine.get(entity.id);
    const area = line === undefined ? undefined : plant.areaOfLine.get(line);
    const tags = tagSet([
      ['area', area],
      ['line', line],
      ['machine', entity.id],
      ['site', plant.site],
    ]);
    return `${MEASUREMENT.machine}${tags} ${fields} ${timestamp(minute)}`;
  }
  const tags = tagSet([
    ['area', plant.areaOfLine.get(entity.id)],
    ['line', entity.id],
    ['site', plant.site],
  ]);
  return `${MEASUREMENT.line}${tags} ${fields} ${timestamp(minute)}`;
}

/** A machine event (state change, counter reset or rollover) as a `greenline_event` point. */
export function encodeEvent(plant: InfluxPlantContext, e: MachineEvent): string | null {
  if (!Number.isFinite(e.ts)) return null;
  const line = plant.lineOfMachine.get(e.machineId);
  const area = line === undefined ? undefined : plant.areaOfLine.get(line);
  let fields: string;
  let role: string | undefined;
  if (e.kind === 'machine-state') {
    fields = `state=${quoteString(e.state)},previous_state=${quoteString(e.previous)},no_data=${e.noData}`;
    if (e.reason !== null) fields += `,reason=${quoteString(e.reason)}`;
    if (e.raw !== null) fields += `,raw=${quoteString(e.raw)}`;
  } else {
    role = e.role;
    const parts = [
      ['value', formatFloat(e.value)],
      ['previous_value', formatFloat(e.previous)],
      ['counted', formatFloat(e.counted)],
    ].filter((p): p is [string, string] => p[1] !== null);
    if (parts.length === 0) return null;
    fields = parts.map(([k, v]) => `${k}=${v}`).join(',');
  }
  const tags = tagSet([
    ['area', area],
    ['kind', e.kind],
    ['line', line],
    ['machine', e.machineId],
    ['role', role],
    ['site', plant.site],
  ]);
  return `${MEASUREMENT.event}${tags} ${fields} ${timestamp(e.ts)}`;
}

/**
 * An alarm change (raised, cleared, acknowledged, shelved, …, by the gateway
 * or an operator) as a `greenline_alarm` point: the audit trail's record.
 */
export function encodeAlarm(plant: InfluxPlantContext, change: AlarmChange): string | null {
  const r = change.record;
  if (!Number.isFinite(r.at)) return null;
  const machine = change.alarm.machine ?? undefined;
  const line = change.alarm.line ?? (machine === undefined ? undefined : plant.lineOfMachine.get(machine));
  const area = line === undefined ? undefined : plant.areaOfLine.get(line);
  const parts: string[] = [
    `state=${quoteString(r.to.state)}`,
    `previous_state=${quoteString(r.from.state)}`,
    `modes=${quoteString(r.to.modes.join(' '))}`,
    `activation=${formatFloat(r.activation) ?? 0}`,
  ];
  if (r.user !== null) parts.push(`user=${quoteString(r.user)}`);
  if (r.comment !== null) parts.push(`comment=${quoteString(r.comment)}`);
  if (typeof r.value === 'number') {
    const v = formatFloat(r.value);
    if (v !== null) parts.push(`value=${v}`);
  } else if (typeof r.value === 'string') parts.push(`value_str=${quoteString(r.value)}`);
  else if (typeof r.value === 'boolean') parts.push(`value=${r.value ? 1 : 0}`);
  const tags = tagSet([
    ['action', r.action],
    ['alarm', r.alarmId],
    ['area', area],
    ['line', line],
    ['machine', machine],
    ['priority', r.priority],
    ['result', r.result],
    ['site', plant.site],
  ]);
  return `${MEASUREMENT.alarm}${tags} ${parts.join(',')} ${timestamp(r.at)}`;
}
