/**
 * The host side of Sparkplug B for one MQTT device: Sparkplug messages in,
 * Samples of the configured tags out. Pure: the clock is an argument; the
 * driver does the I/O (subscriptions, the rebirth command).
 *
 * A tag names a metric by (edge node, device?, metric name) within the
 * device's group. Its value follows the metric's datatype (see
 * `metricValue`), then the tag's type as for JSON (`coerceJsonValue`); a
 * Boolean metric read by a numeric tag gives 1 / 0, a DateTime metric read
 * by a string tag gives ISO 8601 text. Sample time: the metric's timestamp,
 * else the payload's, else receive time.
 *
 * Quality:
 * - a birth that lacks a tag's metric makes that tag `bad` (`metric not in birth`);
 * - NDEATH (matching bdSeq) makes every tag of the node and its devices
 *   `stale` (`edge node offline (NDEATH)`); DDEATH the device's tags
 *   (`device offline (DDEATH)`);
 * - a payload that does not decode (or is too large) makes the tags of its
 *   node (NBIRTH / NDATA) or device (DBIRTH / DDATA) `bad`;
 * - a null metric is `bad` (`null value`).
 *
 * Sparkplug reports by exception: an unchanged metric is not sent again.
 * `resend()` gives the latest good samples of tags whose node (and device)
 * is alive, for the driver to re-emit so they do not look dead downstream.
 */
import type { MqttDevice, MqttTag } from '../../config/schema.js';
import { type ResolvedMetric, EdgeTracker, type TrackerEvent } from '../sparkplug/edge-tracker.js';
import { DataType, dataTypeName, encodePayload, metricValue } from '../sparkplug/payload.js';
import {
  REBIRTH_METRIC,
  type SparkplugTopic,
  edgeNodeFilter,
  nodeCommandTopic,
  parseTopic,
} from '../sparkplug/topic.js';
import type { Sample, SampleValue } from '../types.js';
import { coerceJsonValue } from './payload.js';

export interface SparkplugTagBinding {
  readonly tag: MqttTag;
  readonly edgeNodeId: string;
  readonly deviceId: string | null;
  readonly metric: string;
}

export interface SparkplugProblem {
  readonly kind: 'decode' | 'seq-gap' | 'no-birth' | 'unknown-alias' | 'unnamed-metric' | 'old-death' | 'not-in-birth';
  readonly edgeNodeId: string;
  readonly deviceId: string | null;
  readonly detail: string;
}

export interface SparkplugOutcome {
  readonly samples: Sample[];
  /** the edge node to ask for a rebirth, or null */
  readonly rebirth: string | null;
  readonly problems: SparkplugProblem[];
  /** historical metrics that were left out */
  readonly historical: number;
}

const NONE: SparkplugOutcome = { samples: [], rebirth: null, problems: [], historical: 0 };

const key = (edgeNodeId: string, deviceId: string | null, metric?: string): string =>
  metric === undefined ? `${edgeNodeId}\u0000${deviceId ?? ''}` : `${edgeNodeId}\u0000${deviceId ?? ''}\u0000${metric}`;

export class SparkplugTags {
  readonly groupId: string;
  private readonly tracker: EdgeTracker;
  /** (edge node, device, metric) → tags */
  private readonly byMetric = new Map<string, SparkplugTagBinding[]>();
  /** (edge node, device) → tags */
  private readonly byScope = new Map<string, SparkplugTagBinding[]>();
  private readonly edgeNodes = new Set<string>();
  /** the latest good sample per tag, with the scope it belongs to */
  private readonly latest = new Map<string, { sample: Sample; edgeNodeId: string; deviceId: string | null }>();

  constructor(device: MqttDevice, options: { rebirthHoldoffMs?: number } = {}) {
    const sp = device.sparkplug;
    if (!sp) throw new Error('format sparkplug-b needs `sparkplug: { groupId }`');
    this.groupId = sp.groupId;
    this.tracker = new EdgeTracker({ rebirthHoldoffMs: options.rebirthHoldoffMs });
    for (const tag of device.tags) {
      const edgeNodeId = tag.edgeNodeId ?? sp.edgeNodeId;
      if (edgeNodeId === undefined) throw new Error(`tag "${tag.id}": no edge node (set edgeNodeId)`);
      if (tag.metric === undefined) throw new Error(`tag "${tag.id}": no metric`);
      const binding: SparkplugTagBinding = { tag, edgeNodeId, deviceId: tag.deviceId ?? null, metric: tag.metric };
      this.edgeNodes.add(edgeNodeId);
      push(this.byMetric, key(edgeNodeId, binding.deviceId, binding.metric), binding);
      push(this.byScope, key(edgeNodeId, binding.deviceId), binding);
    }
  }

  /** one filter per edge node: `spBv1.0/<group>/+/<edge node>/#` */
  subscriptions(): string[] {
    return [...this.edgeNodes].map((e) => edgeNodeFilter(this.groupId, e));
  }

  /** the topic of a message this device's tags read from, parsed; null for anything else */
  parse(topic: string): SparkplugTopic | null {
    const t = parseTopic(topic);
    return t && t.groupId === this.groupId && this.edgeNodes.has(t.edgeNodeId) ? t : null;
  }

  /** the tags a message on this topic concerns (its node's or device's) */
  tagsOf(topic: SparkplugTopic): readonly SparkplugTagBinding[] {
    return this.scopeTags(topic.edgeNodeId, topic.deviceId);
  }

  handle(topic: SparkplugTopic, payload: Uint8Array, receivedAt: number): SparkplugOutcome {
    const result = this.tracker.handle(topic, payload, receivedAt);
    if (result.events.length === 0 && !result.rebirth) return NONE;
    const samples: Sample[] = [];
    const problems: SparkplugProblem[] = [];
    for (const e of result.events) this.apply(e, receivedAt, samples, problems);
    return { samples, rebirth: result.rebirth ? topic.edgeNodeId : null, problems, historical: result.historical };
  }

  /** bad Samples for the tags of a message that cannot be read (too large) */
  unreadable(topic: SparkplugTopic, reason: string, ts: number): Sample[] {
    return this.invalidate(this.tagsOf(topic), ts, 'bad', reason);
  }

  /** the latest good samples of tags whose node and device are alive, unchanged */
  resend(): Sample[] {
    const out: Sample[] = [];
    for (const l of this.latest.values()) if (this.tracker.isAlive(l.edgeNodeId, l.deviceId)) out.push(l.sample);
    return out;
  }

  /** forget every session and value: after our own connection was lost */
  reset(): void {
    this.tracker.reset();
    this.latest.clear();
  }

  /** the NCMD topic and payload that ask an edge node to rebirth */
  rebirthCommand(edgeNodeId: string, now: number): { topic: string; payload: Uint8Array } {
    return {
      topic: nodeCommandTopic(this.groupId, edgeNodeId),
      payload: encodePayload({
        timestamp: now,
        metrics: [{ name: REBIRTH_METRIC, timestamp: now, datatype: DataType.Boolean, value: true }],
      }),
    };
  }

  private apply(e: TrackerEvent, receivedAt: number, samples: Sample[], problems: SparkplugProblem[]): void {
    switch (e.kind) {
      case 'data': {
        const seen = e.birth ? new Set<string>() : null;
        for (const m of e.metrics) {
          const bindings = this.byMetric.get(key(e.edgeNodeId, e.deviceId, m.name));
          if (!bindings) continue;
          seen?.add(m.name);
          const ts = m.metric.timestamp ?? e.timestamp ?? receivedAt;
          for (const b of bindings) samples.push(this.sample(b, m, ts, e.edgeNodeId, e.deviceId));
        }
        if (seen) {
          const missing = this.scopeTags(e.edgeNodeId, e.deviceId).filter((b) => !seen.has(b.metric));
          if (missing.length > 0) {
            const names = [...new Set(missing.map((b) => b.metric))];
            problems.push({
              kind: 'not-in-birth',
              edgeNodeId: e.edgeNodeId,
              deviceId: e.deviceId,
              detail: `metrics not in the birth: ${names.join(', ')}`,
            });
            samples.push(...this.invalidate(missing, e.timestamp ?? receivedAt, 'bad', 'metric not in birth'));
          }
        }
        return;
      }
      case 'offline': {
        const tags =
          e.deviceId === null
            ? [...this.byScope].filter(([k]) => k.startsWith(`${e.edgeNodeId}\u0000`)).flatMap(([, v]) => v)
            : this.scopeTags(e.edgeNodeId, e.deviceId);
        samples.push(...this.invalidate(tags, receivedAt, 'stale', e.reason));
        return;
      }
      case 'undecodable': {
        problems.push({ kind: 'decode', edgeNodeId: e.edgeNodeId, deviceId: e.deviceId, detail: e.reason });
        samples.push(...this.invalidate(this.scopeTags(e.edgeNodeId, e.deviceId), receivedAt, 'bad', e.reason));
        return;
      }
      case 'problem':
        problems.push({ kind: e.code, edgeNodeId: e.edgeNodeId, deviceId: e.deviceId, detail: e.detail });
        return;
    }
  }

  private sample(
    b: SparkplugTagBinding,
    m: ResolvedMetric,
    ts: number,
    edgeNodeId: string,
    deviceId: string | null,
  ): Sample {
    const tagId = b.tag.id;
    const decoded = metricValue(m.metric, m.datatype);
    if (!decoded.ok) {
      this.latest.delete(tagId);
      return { tagId, ts, value: null, quality: 'bad', reason: decoded.reason };
    }
    const coerced = coerceJsonValue(forTagType(decoded.value, m.datatype, b.tag.type), b.tag.type);
    if (!coerced.ok) {
      this.latest.delete(tagId);
      const reason = coerced.reason.replace(/, got \w+$/, `, got ${dataTypeName(m.datatype)}`);
      return { tagId, ts, value: null, quality: 'bad', reason };
    }
    const sample: Sample = { tagId, ts, value: coerced.value, quality: 'good' };
    this.latest.set(tagId, { sample, edgeNodeId, deviceId });
    return sample;
  }

  private invalidate(
    bindings: readonly SparkplugTagBinding[],
    ts: number,
    quality: 'bad' | 'stale',
    reason: string,
  ): Sample[] {
    return bindings.map((b) => {
      this.latest.delete(b.tag.id);
      return { tagId: b.tag.id, ts, value: null, quality, reason };
    });
  }

  private scopeTags(edgeNodeId: string, deviceId: string | null): readonly SparkplugTagBinding[] {
    return this.byScope.get(key(edgeNodeId, deviceId)) ?? [];
  }
}

function forTagType(value: SampleValue, datatype: number, tagType: MqttTag['type']): SampleValue {
  if (typeof value === 'boolean' && tagType !== 'bool' && tagType !== 'string') return value ? 1 : 0;
  if (datatype === DataType.DateTime && tagType === 'string' && typeof value === 'number') {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? value : d.toISOString();
  }
  return value;
}

function push<K, V>(map: Map<K, V[]>, k: K, v: V): void {
  const list = map.get(k);
  if (list) list.push(v);
  else map.set(k, [v]);
}
