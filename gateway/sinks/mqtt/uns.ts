/**
 * The unified namespace: where greenline publishes each tag value, each
 * closed minute and each machine event on an MQTT broker, and the JSON it
 * publishes there. Pure. `README.md` beside the sinks documents it for the
 * people who subscribe.
 *
 * Topics follow ISA-95 (enterprise = `topicPrefix`, then site / area / line
 * / machine), one topic level per id:
 *
 *   <prefix>/<site>/<area>/<line>/<machine>/<tag>        a machine's tag
 *   <prefix>/<site>/_devices/<device>/<tag>              a tag no machine uses (line meters, spare signals)
 *   <prefix>/<site>/<area>/<line>/<machine>/_metrics     a machine's closed minute, one JSON per minute
 *   <prefix>/<site>/<area>/<line>/_metrics               a line's closed minute
 *   <prefix>/<site>/<area>/<line>/<machine>/_events      state changes, counter resets and rollovers
 *
 * What the outbox keeps is a compact record of what happened (`OutboxRecord`),
 * not the MQTT message: the sender turns it into the UNS message and, for a
 * Sparkplug edge node, into DDATA metrics whose seq is only known when sent.
 */
import type {
  CoreSample,
  EntityRef,
  MachineEvent,
  MetricsRecord,
  PlantModel,
  SampleQuality,
} from '../../core/index.js';
import { type InfluxPlantContext, METRICS_FIELDS, type MetricsBatch, plantContext } from '../influx/line-protocol.js';

/** What a tag is, as the northbound messages need it. */
export interface NorthTagInfo {
  readonly device?: string;
  readonly area?: string;
  readonly line?: string;
  readonly machine?: string;
  readonly unit?: string;
  /** the tag's declared data type (`bool`, `string`, `float32`, …); undefined when left to the device */
  readonly type?: string;
}

/** The plant as the northbound sink needs it: where tags sit, their units, and each machine's tags. */
export interface NorthPlantContext extends Omit<InfluxPlantContext, 'tagPlace'> {
  tagInfo(tagId: string): NorthTagInfo | undefined;
  /** the machines, in plant order, each with the ids of its tags (for Sparkplug births) */
  readonly machines: readonly { readonly id: string; readonly tags: readonly string[] }[];
}

/** One outbox row: what happened, encoded as JSON. */
export type OutboxRecord =
  | {
      readonly k: 's';
      readonly tag: string;
      readonly ts: number;
      readonly v: CoreSample['value'];
      readonly q: SampleQuality;
      readonly r?: string;
    }
  | {
      readonly k: 'm';
      readonly type: EntityRef['type'];
      readonly id: string;
      readonly minute: number;
      /** the metric fields that have a value (names as in `METRICS_FIELDS`) */
      readonly f: Readonly<Record<string, number>>;
    }
  | { readonly k: 'e'; readonly e: MachineEvent };

export interface UnsMessage {
  readonly topic: string;
  readonly payload: string;
}

/** A topic level: `/`, `+`, `#` and NUL cannot stand in one, so they become `_`; an empty id becomes `_`. */
export function topicLevel(id: string): string {
  const s = id.replace(/[/+#]/g, '_').replaceAll('\u0000', '_');
  return s === '' ? '_' : s;
}

export function sampleRecord(s: CoreSample): OutboxRecord | null {
  if (typeof s.ts !== 'number' || !Number.isFinite(s.ts)) return null;
  const v = typeof s.value === 'number' && !Number.isFinite(s.value) ? null : s.value;
  return s.reason === undefined
    ? { k: 's', tag: s.tagId, ts: s.ts, v, q: s.quality }
    : { k: 's', tag: s.tagId, ts: s.ts, v, q: s.quality, r: s.reason };
}

export function minuteRecord(entity: EntityRef, minute: number, record: MetricsRecord): OutboxRecord | null {
  if (!Number.isFinite(minute)) return null;
  const f: Record<string, number> = {};
  let any = false;
  for (const [name, get] of METRICS_FIELDS) {
    const v = get(record);
    if (v !== null && Number.isFinite(v)) {
      f[name] = v;
      any = true;
    }
  }
  return any ? { k: 'm', type: entity.type, id: entity.id, minute, f } : null;
}

/** The records of what the metrics service handed out; `skipped` counts those that carry nothing to publish. */
export function metricsRecords(out: MetricsBatch): { records: OutboxRecord[]; skipped: number } {
  const records: OutboxRecord[] = [];
  let skipped = 0;
  for (const m of out.minutes) {
    const r = minuteRecord(m.entity, m.minute, m.record);
    if (r === null) skipped++;
    else records.push(r);
  }
  for (const e of out.events) {
    if (Number.isFinite(e.ts)) records.push({ k: 'e', e });
    else skipped++;
  }
  return { records, skipped };
}

/** Builds UNS topics and payloads; topics of tags and machines are built once and kept. */
export class UnsEncoder {
  private readonly tagTopics = new Map<string, { topic: string; unit: string | null }>();
  private readonly prefix: string;

  constructor(
    private readonly plant: NorthPlantContext,
    topicPrefix: string,
  ) {
    // the prefix may span levels (`acme/hk`): only empty levels are cleaned up
    this.prefix = topicPrefix
      .split('/')
      .filter((l) => l !== '')
      .map(topicLevel)
      .join('/');
  }

  encode(r: OutboxRecord): UnsMessage {
    switch (r.k) {
      case 's': {
        const t = this.tagTopic(r.tag);
        const body: Record<string, unknown> = { value: r.v, quality: r.q, ts: r.ts, unit: t.unit };
        if (r.r !== undefined) body.reason = r.r;
        return { topic: t.topic, payload: JSON.stringify(body) };
      }
      case 'm': {
        const base = r.type === 'machine' ? this.machinePath(r.id) : this.linePath(r.id);
        return {
          topic: `${base}/_metrics`,
          payload: JSON.stringify({ minute: r.minute, ts: r.minute, durationMs: 60_000, ...r.f }),
        };
      }
      case 'e': {
        const { machineId, ...rest } = r.e;
        return {
          topic: `${this.machinePath(machineId)}/_events`,
          payload: JSON.stringify({ machine: machineId, ...rest }),
        };
      }
    }
  }

  machinePath(machineId: string): string {
    const line = this.plant.lineOfMachine.get(machineId);
    return `${this.linePath(line ?? '_')}/${topicLevel(machineId)}`;
  }

  linePath(lineId: string): string {
    const area = this.plant.areaOfLine.get(lineId) ?? '_';
    return `${this.prefix}/${topicLevel(this.plant.site)}/${topicLevel(area)}/${topicLevel(lineId)}`;
  }

  tagTopic(tagId: string): { topic: string; unit: string | null } {
    let t = this.tagTopics.get(tagId);
    if (t === undefined) {
      const info = this.plant.tagInfo(tagId);
      const topic =
        info?.machine !== undefined
          ? `${this.machinePath(info.machine)}/${topicLevel(tagId)}`
          : `${this.prefix}/${topicLevel(this.plant.site)}/_devices/${topicLevel(info?.device ?? '_unknown')}/${topicLevel(tagId)}`;
      t = { topic, unit: info?.unit ?? null };
      // tags come from the plant model; the bound guards against a flood of unknown ids
      if (this.tagTopics.size >= 100_000) this.tagTopics.clear();
      this.tagTopics.set(tagId, t);
    }
    return t;
  }
}

/**
 * The context from the plant model; `tagInfo` says where each tag sits and
 * `tags` lists every tag with the machines that use it (the pipeline's tag
 * registry knows both).
 */
export function northPlantContext(
  plant: Pick<PlantModel, 'site' | 'lines'>,
  tagInfo: (tagId: string) => NorthTagInfo | undefined,
  tags: Iterable<{ readonly id: string; readonly machineIds: readonly string[] }>,
): NorthPlantContext {
  const base = plantContext(plant, () => undefined);
  const byMachine = new Map<string, string[]>();
  for (const t of tags) {
    for (const m of t.machineIds) {
      const list = byMachine.get(m);
      if (list === undefined) byMachine.set(m, [t.id]);
      else if (!list.includes(t.id)) list.push(t.id);
    }
  }
  const machines = plant.lines.flatMap((l) => l.machines.map((m) => ({ id: m.id, tags: byMachine.get(m.id) ?? [] })));
  return { site: base.site, areaOfLine: base.areaOfLine, lineOfMachine: base.lineOfMachine, tagInfo, machines };
}
