/**
 * greenline as a Sparkplug B edge node (spec v3.0): the messages, their seq
 * and bdSeq, and the aliases. Pure: the sink does the I/O and the clock is an
 * argument.
 *
 * - Each machine is a Sparkplug device (`device_id` = machine id); its
 *   metrics are its tags (by tag id) and its per-minute figures
 *   (`Metrics/oee`, `Metrics/kwh`, …). Tags no machine uses, line minutes and
 *   events are published in the unified namespace only.
 * - Every metric has an alias, unique in the edge node, fixed by the plant
 *   model's order; births carry name, alias and datatype, DDATA alias only.
 * - A connection starts with `connect()`: bdSeq is the next value (0..255,
 *   wrapping); the same bdSeq goes into the connection's will (NDEATH) and its
 *   NBIRTH. A birth sequence (NBIRTH with seq 0, then one DBIRTH per machine)
 *   is built on every connect and on every rebirth request (NCMD
 *   `Node Control/Rebirth`); it carries the last value published of each
 *   metric. Every message after NBIRTH takes the next seq (0..255, wrapping).
 */
import { DataType, encodePayload, type MetricInput } from '../../../protocols/sparkplug/payload.js';
import { BDSEQ_METRIC, NAMESPACE, REBIRTH_METRIC } from '../../../protocols/sparkplug/topic.js';
import { METRICS_FIELDS } from '../influx/line-protocol.js';
import { type NorthPlantContext, type OutboxRecord, topicLevel } from './uns.js';

export interface SparkplugIds {
  readonly groupId: string;
  readonly edgeNodeId: string;
}

export interface SparkplugMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** Quality as a `Quality` property (Int32), as Sparkplug hosts read it (192 good, 64 uncertain, 0 bad, 500 stale). */
export const QUALITY_CODE = { good: 192, uncertain: 64, bad: 0, stale: 500 } as const;

interface MetricDef {
  readonly name: string;
  readonly alias: number;
  readonly datatype: number;
  readonly device: string;
}

interface LastValue {
  readonly ts: number;
  readonly value: number | boolean | string | null;
  readonly quality: keyof typeof QUALITY_CODE;
}

const MINUTE_PREFIX = 'Metrics/';

function dataTypeOf(type: string | undefined): number {
  if (type === 'bool' || type === 'boolean') return DataType.Boolean;
  if (type === 'string') return DataType.String;
  return DataType.Double;
}

export class SparkplugEdgeNode {
  readonly nodeTopic: { birth: string; death: string; command: string };
  private readonly ids: SparkplugIds;
  /** tag id → metric */
  private readonly tagMetrics = new Map<string, MetricDef>();
  /** `<machine>\u0000<field>` → metric */
  private readonly minuteMetrics = new Map<string, MetricDef>();
  /** device id → its metrics in birth order */
  private readonly devices = new Map<string, MetricDef[]>();
  private readonly last = new Map<number, LastValue>();
  private bdSeq = -1;
  private seq = 0;

  constructor(ids: SparkplugIds, plant: NorthPlantContext) {
    this.ids = { groupId: topicLevel(ids.groupId), edgeNodeId: topicLevel(ids.edgeNodeId) };
    const base = `${NAMESPACE}/${this.ids.groupId}`;
    this.nodeTopic = {
      birth: `${base}/NBIRTH/${this.ids.edgeNodeId}`,
      death: `${base}/NDEATH/${this.ids.edgeNodeId}`,
      command: `${base}/NCMD/${this.ids.edgeNodeId}`,
    };
    // aliases 0 and 1 stay for the node's own metrics (bdSeq, rebirth)
    let alias = 2;
    for (const m of plant.machines) {
      const device = topicLevel(m.id);
      const defs: MetricDef[] = [];
      for (const tagId of m.tags) {
        if (this.tagMetrics.has(tagId)) continue; // a tag shared by machines sits under the first
        const def = { name: tagId, alias: alias++, datatype: dataTypeOf(plant.tagInfo(tagId)?.type), device };
        this.tagMetrics.set(tagId, def);
        defs.push(def);
      }
      for (const [field] of METRICS_FIELDS) {
        const def = { name: `${MINUTE_PREFIX}${field}`, alias: alias++, datatype: DataType.Double, device };
        this.minuteMetrics.set(`${m.id}\u0000${field}`, def);
        defs.push(def);
      }
      this.devices.set(device, defs);
    }
  }

  get currentBdSeq(): number {
    return this.bdSeq;
  }

  /** the seq the next message after a birth takes */
  get nextSeq(): number {
    return this.seq;
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  /** A new connection: the next bdSeq, and the will (NDEATH) that carries it. */
  connect(now: number): SparkplugMessage {
    this.bdSeq = (this.bdSeq + 1) & 0xff;
    return this.death(now);
  }

  /** NDEATH of the current connection (the will, or sent before a clean disconnect). */
  death(now: number): SparkplugMessage {
    return {
      topic: this.nodeTopic.death,
      payload: encodePayload({
        timestamp: now,
        metrics: [{ name: BDSEQ_METRIC, datatype: DataType.Int64, value: Math.max(0, this.bdSeq) }],
      }),
    };
  }

  /** NBIRTH (seq 0, the connection's bdSeq) and one DBIRTH per machine with the last values published. */
  births(now: number): SparkplugMessage[] {
    this.seq = 0;
    const out: SparkplugMessage[] = [
      {
        topic: this.nodeTopic.birth,
        payload: encodePayload({
          timestamp: now,
          seq: this.nextSeqValue(),
          metrics: [
            { name: BDSEQ_METRIC, alias: 0, timestamp: now, datatype: DataType.Int64, value: this.bdSeq },
            { name: REBIRTH_METRIC, alias: 1, timestamp: now, datatype: DataType.Boolean, value: false },
          ],
        }),
      },
    ];
    for (const [device, defs] of this.devices) {
      const metrics = defs.map((d) => this.metric(d, this.last.get(d.alias), now, true));
      out.push({
        topic: this.deviceTopic('DBIRTH', device),
        payload: encodePayload({ timestamp: now, seq: this.nextSeqValue(), metrics }),
      });
    }
    return out;
  }

  /**
   * DDATA for the records of one batch: one message per machine that has
   * something, its metrics in record order. Records for other places are
   * left to the unified namespace.
   */
  data(records: readonly OutboxRecord[], now: number): SparkplugMessage[] {
    const byDevice = new Map<string, MetricInput[]>();
    const add = (def: MetricDef, v: LastValue) => {
      this.last.set(def.alias, v);
      const metric = this.metric(def, v, now, false);
      const list = byDevice.get(def.device);
      if (list === undefined) byDevice.set(def.device, [metric]);
      else list.push(metric);
    };
    for (const r of records) {
      if (r.k === 's') {
        const def = this.tagMetrics.get(r.tag);
        if (def === undefined) continue;
        const usable = r.q === 'good' || r.q === 'uncertain';
        add(def, { ts: r.ts, value: usable ? (r.v as LastValue['value']) : null, quality: r.q });
      } else if (r.k === 'm' && r.type === 'machine') {
        for (const [field, value] of Object.entries(r.f)) {
          const def = this.minuteMetrics.get(`${r.id}\u0000${field}`);
          if (def !== undefined) add(def, { ts: r.minute, value, quality: 'good' });
        }
      }
    }
    const out: SparkplugMessage[] = [];
    for (const [device, metrics] of byDevice) {
      out.push({
        topic: this.deviceTopic('DDATA', device),
        payload: encodePayload({ timestamp: now, seq: this.nextSeqValue(), metrics }),
      });
    }
    return out;
  }

  /** Whether an NCMD payload asks for a rebirth (`Node Control/Rebirth` = true). */
  static isRebirth(metrics: readonly { name?: string; value?: { kind: string; value?: unknown } }[]): boolean {
    return metrics.some((m) => m.name === REBIRTH_METRIC && m.value?.kind === 'boolean' && m.value.value === true);
  }

  private deviceTopic(type: 'DBIRTH' | 'DDATA' | 'DDEATH', device: string): string {
    return `${NAMESPACE}/${this.ids.groupId}/${type}/${this.ids.edgeNodeId}/${device}`;
  }

  private nextSeqValue(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xff;
    return s;
  }

  private metric(def: MetricDef, v: LastValue | undefined, now: number, birth: boolean): MetricInput {
    const base: MetricInput = birth
      ? { name: def.name, alias: def.alias, datatype: def.datatype, timestamp: v?.ts ?? now }
      : { alias: def.alias, datatype: def.datatype, timestamp: v?.ts ?? now };
    const value = v?.value;
    const fits =
      value !== null &&
      value !== undefined &&
      (def.datatype === DataType.Boolean
        ? typeof value === 'boolean'
        : def.datatype === DataType.String
          ? typeof value === 'string'
          : typeof value === 'number' || typeof value === 'boolean');
    const quality = v === undefined ? undefined : fits ? v.quality : v.quality === 'good' ? 'bad' : v.quality;
    const properties =
      quality === undefined || quality === 'good'
        ? undefined
        : { Quality: { type: DataType.Int32, value: QUALITY_CODE[quality] } };
    if (!fits) return { ...base, isNull: true, ...(properties ? { properties } : {}) };
    const wire = def.datatype === DataType.Double && typeof value === 'boolean' ? (value ? 1 : 0) : value;
    return { ...base, value: wire, ...(properties ? { properties } : {}) };
  }
}
