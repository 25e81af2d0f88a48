/** Sparkplug B messages to the Samples of configured tags (the host side, without a broker). */
import { describe, expect, it } from 'vitest';
import { MqttDevice } from '../../config/schema.js';
import { SparkplugTags } from '../../protocols/mqtt/sparkplug-tags.js';
import { DataType, type MetricInput, decodePayload, encodePayload } from '../../protocols/sparkplug/payload.js';

const device = () =>
  MqttDevice.parse({
    protocol: 'mqtt',
    id: 'spb',
    url: 'mqtt://127.0.0.1:1883',
    format: 'sparkplug-b',
    sparkplug: { groupId: 'Plant1', edgeNodeId: 'Line2' },
    tags: [
      { id: 'temp', metric: 'CNC1/SpindleTemp', deviceId: 'CNC1' },
      { id: 'running', metric: 'CNC1/Running', deviceId: 'CNC1', type: 'bool' },
      { id: 'running-num', metric: 'CNC1/Running', deviceId: 'CNC1' },
      { id: 'count', metric: 'CNC1/Count', deviceId: 'CNC1', type: 'uint32' },
      { id: 'program', metric: 'CNC1/Program', deviceId: 'CNC1', type: 'string' },
      { id: 'started', metric: 'CNC1/StartedAt', deviceId: 'CNC1', type: 'string' },
      { id: 'uptime', metric: 'Uptime' },
      { id: 'other-node', metric: 'Power', edgeNodeId: 'Line3' },
    ],
  });

const TS = 1_700_000_000_000;
const topic = (tags: SparkplugTags, s: string) => tags.parse(s)!;

const nbirth = (seq = 0, bdSeq = 0) =>
  encodePayload({
    timestamp: TS,
    seq,
    metrics: [
      { name: 'bdSeq', datatype: DataType.Int64, value: bdSeq },
      { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false },
      { name: 'Uptime', alias: 1, datatype: DataType.UInt64, value: 3600n },
    ],
  });

const cncMetrics: MetricInput[] = [
  { name: 'CNC1/SpindleTemp', alias: 10, datatype: DataType.Float, value: 41.5, timestamp: TS - 10 },
  { name: 'CNC1/Running', alias: 11, datatype: DataType.Boolean, value: true },
  { name: 'CNC1/Count', alias: 12, datatype: DataType.UInt32, value: 1234 },
  { name: 'CNC1/Program', alias: 13, datatype: DataType.String, value: 'O1001' },
  { name: 'CNC1/StartedAt', alias: 14, datatype: DataType.DateTime, value: TS - 60_000 },
];

function bornTags() {
  const tags = new SparkplugTags(device());
  tags.handle(topic(tags, 'spBv1.0/Plant1/NBIRTH/Line2'), nbirth(), TS + 5);
  const out = tags.handle(
    topic(tags, 'spBv1.0/Plant1/DBIRTH/Line2/CNC1'),
    encodePayload({ timestamp: TS + 1, seq: 1, metrics: cncMetrics }),
    TS + 5,
  );
  return { tags, out };
}

describe('SparkplugTags', () => {
  it('subscribes per edge node and ignores other groups and nodes', () => {
    const tags = new SparkplugTags(device());
    expect(tags.subscriptions()).toEqual(['spBv1.0/Plant1/+/Line2/#', 'spBv1.0/Plant1/+/Line3/#']);
    expect(tags.parse('spBv1.0/Plant9/NDATA/Line2')).toBeNull();
    expect(tags.parse('spBv1.0/Plant1/NDATA/Line9')).toBeNull();
    expect(tags.parse('spBv1.0/STATE/host')).toBeNull();
  });

  it('maps birth metrics to tags, with metric time and type conversion', () => {
    const { out } = bornTags();
    expect(out.samples).toEqual([
      { tagId: 'temp', ts: TS - 10, value: 41.5, quality: 'good' },
      { tagId: 'running', ts: TS + 1, value: true, quality: 'good' },
      { tagId: 'running-num', ts: TS + 1, value: 1, quality: 'good' },
      { tagId: 'count', ts: TS + 1, value: 1234, quality: 'good' },
      { tagId: 'program', ts: TS + 1, value: 'O1001', quality: 'good' },
      { tagId: 'started', ts: TS + 1, value: new Date(TS - 60_000).toISOString(), quality: 'good' },
    ]);
    expect(out.rebirth).toBeNull();
    expect(out.problems).toEqual([]);
  });

  it('reads data by alias after the birth', () => {
    const { tags } = bornTags();
    const out = tags.handle(
      topic(tags, 'spBv1.0/Plant1/DDATA/Line2/CNC1'),
      encodePayload({
        timestamp: TS + 2000,
        seq: 2,
        metrics: [
          { alias: 10, datatype: DataType.Float, value: 43 },
          { alias: 12, datatype: DataType.UInt32, value: 1235, timestamp: TS + 1999 },
        ],
      }),
      TS + 2005,
    );
    expect(out.samples).toEqual([
      { tagId: 'temp', ts: TS + 2000, value: 43, quality: 'good' },
      { tagId: 'count', ts: TS + 1999, value: 1235, quality: 'good' },
    ]);
  });

  it('a value the tag type cannot hold is bad, naming the metric datatype', () => {
    const { tags } = bornTags();
    const out = tags.handle(
      topic(tags, 'spBv1.0/Plant1/DDATA/Line2/CNC1'),
      encodePayload({
        seq: 2,
        metrics: [
          { alias: 13, datatype: DataType.String, value: 'O1002' },
          { alias: 10, datatype: DataType.Float, value: Number.NaN },
        ],
      }),
      TS,
    );
    // a string metric into a string tag is fine; NaN is not a value
    expect(out.samples).toEqual([
      { tagId: 'program', ts: TS, value: 'O1002', quality: 'good' },
      { tagId: 'temp', ts: TS, value: null, quality: 'bad', reason: 'decode error: NaN' },
    ]);
    const wrong = new SparkplugTags(
      MqttDevice.parse({
        ...device(),
        tags: [{ id: 'n', metric: 'CNC1/Program', deviceId: 'CNC1', type: 'float64' }],
      }),
    );
    wrong.handle(topic(wrong, 'spBv1.0/Plant1/NBIRTH/Line2'), nbirth(), TS);
    const bad = wrong.handle(
      topic(wrong, 'spBv1.0/Plant1/DBIRTH/Line2/CNC1'),
      encodePayload({ seq: 1, metrics: cncMetrics }),
      TS,
    );
    expect(bad.samples).toEqual([
      { tagId: 'n', ts: TS, value: null, quality: 'bad', reason: 'decode error: expected a number, got String' },
    ]);
  });

  it('a birth without a configured metric makes that tag bad', () => {
    const tags = new SparkplugTags(device());
    tags.handle(topic(tags, 'spBv1.0/Plant1/NBIRTH/Line2'), nbirth(), TS);
    const out = tags.handle(
      topic(tags, 'spBv1.0/Plant1/DBIRTH/Line2/CNC1'),
      encodePayload({ timestamp: TS, seq: 1, metrics: cncMetrics.slice(0, 1) }),
      TS,
    );
    expect(out.samples.filter((s) => s.quality === 'bad').map((s) => [s.tagId, s.reason])).toEqual([
      ['running', 'metric not in birth'],
      ['running-num', 'metric not in birth'],
      ['count', 'metric not in birth'],
      ['program', 'metric not in birth'],
      ['started', 'metric not in birth'],
    ]);
    expect(out.problems).toEqual([
      expect.objectContaining({
        kind: 'not-in-birth',
        detail: 'metrics not in the birth: CNC1/Running, CNC1/Count, CNC1/Program, CNC1/StartedAt',
      }),
    ]);
  });

  it('NDEATH makes the node’s and its devices’ tags stale; DDEATH the device’s', () => {
    const { tags } = bornTags();
    const dd = tags.handle(topic(tags, 'spBv1.0/Plant1/DDEATH/Line2/CNC1'), encodePayload({ seq: 2, metrics: [] }), TS);
    expect(dd.samples.map((s) => [s.tagId, s.quality, s.reason])).toEqual(
      ['temp', 'running', 'running-num', 'count', 'program', 'started'].map((id) => [
        id,
        'stale',
        'device offline (DDEATH)',
      ]),
    );
    const nd = tags.handle(
      topic(tags, 'spBv1.0/Plant1/NDEATH/Line2'),
      encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 0 }] }),
      TS,
    );
    expect(new Set(nd.samples.map((s) => s.tagId))).toEqual(
      new Set(['uptime', 'temp', 'running', 'running-num', 'count', 'program', 'started']),
    );
    expect(nd.samples.every((s) => s.quality === 'stale' && s.reason === 'edge node offline (NDEATH)')).toBe(true);
  });

  it('re-sends the latest good values of live nodes and devices only', () => {
    const { tags } = bornTags();
    expect(new Set(tags.resend().map((s) => s.tagId))).toEqual(
      new Set(['uptime', 'temp', 'running', 'running-num', 'count', 'program', 'started']),
    );
    tags.handle(topic(tags, 'spBv1.0/Plant1/DDEATH/Line2/CNC1'), encodePayload({ seq: 2, metrics: [] }), TS);
    expect(tags.resend().map((s) => s.tagId)).toEqual(['uptime']);
    tags.reset();
    expect(tags.resend()).toEqual([]);
  });

  it('a seq gap names the edge node to ask for a rebirth, and builds that command', () => {
    const { tags } = bornTags();
    const out = tags.handle(
      topic(tags, 'spBv1.0/Plant1/DDATA/Line2/CNC1'),
      encodePayload({ seq: 9, metrics: [{ alias: 10, datatype: DataType.Float, value: 1 }] }),
      TS,
    );
    expect(out.rebirth).toBe('Line2');
    expect(out.problems).toEqual([expect.objectContaining({ kind: 'seq-gap', detail: 'seq gap: expected 2, got 9' })]);
    const cmd = tags.rebirthCommand('Line2', TS);
    expect(cmd.topic).toBe('spBv1.0/Plant1/NCMD/Line2');
    expect(decodePayload(cmd.payload)).toEqual({
      timestamp: TS,
      metrics: [
        {
          name: 'Node Control/Rebirth',
          timestamp: TS,
          datatype: DataType.Boolean,
          value: { kind: 'boolean', value: true },
        },
      ],
    });
  });

  it('a payload that is not Sparkplug, or too large, makes the tags of its device bad', () => {
    const { tags } = bornTags();
    const t = topic(tags, 'spBv1.0/Plant1/DDATA/Line2/CNC1');
    const out = tags.handle(t, Buffer.from([0x12, 0x40, 0x0a]), TS);
    expect(out.samples).toHaveLength(6);
    expect(out.samples[0]).toMatchObject({
      quality: 'bad',
      reason: expect.stringMatching(/^decode error: not a Sparkplug B payload \(truncated/),
    });
    expect(out.rebirth).toBe('Line2');
    expect(tags.unreadable(t, 'payload too large', TS).map((s) => s.reason)).toEqual(
      Array(6).fill('payload too large'),
    );
  });
});
