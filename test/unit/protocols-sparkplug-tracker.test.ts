/** The Sparkplug host's view of edge nodes: births, aliases, seq checking and rebirth requests, deaths. */
import { describe, expect, it } from 'vitest';
import { EdgeTracker, type TrackerEvent } from '../../protocols/sparkplug/edge-tracker.js';
import { DataType, type MetricInput, encodePayload } from '../../protocols/sparkplug/payload.js';
import { type SparkplugTopic, parseTopic } from '../../protocols/sparkplug/topic.js';

const topic = (s: string): SparkplugTopic => {
  const t = parseTopic(s);
  if (!t) throw new Error(`not a Sparkplug topic: ${s}`);
  return t;
};

const NBIRTH = topic('spBv1.0/G1/NBIRTH/E1');
const NDATA = topic('spBv1.0/G1/NDATA/E1');
const NDEATH = topic('spBv1.0/G1/NDEATH/E1');
const DBIRTH = topic('spBv1.0/G1/DBIRTH/E1/D1');
const DDATA = topic('spBv1.0/G1/DDATA/E1/D1');
const DDEATH = topic('spBv1.0/G1/DDEATH/E1/D1');

const bdSeq = (n: number): MetricInput => ({ name: 'bdSeq', datatype: DataType.Int64, value: n });
const payload = (seq: number | undefined, metrics: MetricInput[], timestamp = 1000) =>
  encodePayload({ timestamp, ...(seq === undefined ? {} : { seq }), metrics });

const names = (events: TrackerEvent[]) =>
  events.flatMap((e) => (e.kind === 'data' ? e.metrics.map((m) => `${m.name}:${m.datatype}`) : []));
const problems = (events: TrackerEvent[]) => events.filter((e) => e.kind === 'problem').map((e) => e.code);

function born(tracker = new EdgeTracker()) {
  tracker.handle(NBIRTH, payload(0, [bdSeq(4), { name: 'Temp', alias: 1, datatype: DataType.Double, value: 20 }]), 0);
  tracker.handle(
    DBIRTH,
    payload(1, [
      { name: 'Speed', alias: 10, datatype: DataType.Int16, value: -3 },
      { name: 'Run', alias: 11, datatype: DataType.Boolean, value: true },
    ]),
    0,
  );
  return tracker;
}

describe('Sparkplug topics', () => {
  it('parses node and device topics and refuses anything else', () => {
    expect(parseTopic('spBv1.0/G1/DDATA/E1/D1')).toEqual({
      groupId: 'G1',
      type: 'DDATA',
      edgeNodeId: 'E1',
      deviceId: 'D1',
    });
    expect(parseTopic('spBv1.0/G1/NBIRTH/E1')).toMatchObject({ type: 'NBIRTH', deviceId: null });
    for (const bad of [
      'spBv1.0/STATE/host',
      'spBv1.0/G1/DDATA/E1',
      'spBv1.0/G1/NDATA/E1/D1',
      'spBv1.0/G1/XDATA/E1',
      'spAv1.0/G1/NDATA/E1',
      'spBv1.0//NDATA/E1',
      'spBv1.0/G1/DDATA/E1/D1/x',
    ]) {
      expect(parseTopic(bad), bad).toBeNull();
    }
  });
});

describe('EdgeTracker', () => {
  it('resolves aliases from the births, with the births’ datatypes', () => {
    const t = born();
    expect(t.isAlive('E1', null)).toBe(true);
    expect(t.isAlive('E1', 'D1')).toBe(true);
    const node = t.handle(NDATA, payload(2, [{ alias: 1, datatype: DataType.Double, value: 21 }]), 0);
    expect(names(node.events)).toEqual([`Temp:${DataType.Double}`]);
    // no datatype on the wire: the birth's
    const dev = t.handle(
      DDATA,
      encodePayload({ seq: 3, metrics: [{ alias: 10, datatype: DataType.Int16, value: -4 }] }).subarray(0),
      0,
    );
    expect(names(dev.events)).toEqual([`Speed:${DataType.Int16}`]);
    expect(node.rebirth || dev.rebirth).toBe(false);
  });

  it('accepts seq wrapping from 255 to 0', () => {
    const t = born();
    let seq = 2;
    for (let i = 0; i < 300; i++) {
      const r = t.handle(NDATA, payload(seq & 0xff, [{ alias: 1, datatype: DataType.Double, value: i }]), 0);
      expect(problems(r.events), `seq ${seq & 0xff}`).toEqual([]);
      seq++;
    }
  });

  it('a seq gap asks for a rebirth, once per hold-off, and resynchronises', () => {
    const t = born(new EdgeTracker({ rebirthHoldoffMs: 5000 }));
    const gap = t.handle(NDATA, payload(5, [{ alias: 1, datatype: DataType.Double, value: 1 }]), 100);
    expect(gap.events.find((e) => e.kind === 'problem')).toMatchObject({
      code: 'seq-gap',
      detail: 'seq gap: expected 2, got 5',
    });
    expect(gap.rebirth).toBe(true);
    // the data itself is still used
    expect(names(gap.events)).toEqual([`Temp:${DataType.Double}`]);
    // next in line after the gap: fine
    expect(problems(t.handle(NDATA, payload(6, []), 200).events)).toEqual([]);
    // another gap within the hold-off: reported, but no second request
    const again = t.handle(NDATA, payload(9, []), 300);
    expect(problems(again.events)).toEqual(['seq-gap']);
    expect(again.rebirth).toBe(false);
    expect(t.handle(NDATA, payload(20, []), 5200).rebirth).toBe(true);
  });

  it('an unknown alias or data before the birth asks for a rebirth', () => {
    const t = born();
    const unknown = t.handle(DDATA, payload(2, [{ alias: 99, datatype: DataType.Double, value: 1 }]), 0);
    expect(problems(unknown.events)).toEqual(['unknown-alias']);
    expect(unknown.rebirth).toBe(true);

    const fresh = new EdgeTracker();
    const early = fresh.handle(NDATA, payload(17, [{ name: 'Temp', datatype: DataType.Double, value: 1 }]), 0);
    expect(problems(early.events)).toEqual(['no-birth']);
    expect(early.rebirth).toBe(true);
    // metrics by name are still usable
    expect(names(early.events)).toEqual([`Temp:${DataType.Double}`]);
  });

  it('a DDATA of a device without DBIRTH asks for a rebirth', () => {
    const t = new EdgeTracker();
    t.handle(NBIRTH, payload(0, [bdSeq(1)]), 0);
    const r = t.handle(DDATA, payload(1, [{ alias: 10, datatype: DataType.Int16, value: 1 }]), 0);
    expect(problems(r.events)).toEqual(['no-birth', 'unknown-alias']);
    expect(r.rebirth).toBe(true);
  });

  it('NDEATH with the birth’s bdSeq ends the node and its devices; an older one is ignored', () => {
    const t = born();
    const old = t.handle(NDEATH, payload(undefined, [bdSeq(3)]), 0);
    expect(old.events).toEqual([expect.objectContaining({ kind: 'problem', code: 'old-death' })]);
    expect(t.isAlive('E1', null)).toBe(true);

    const death = t.handle(NDEATH, payload(undefined, [bdSeq(4)]), 0);
    expect(death.events).toEqual([
      { kind: 'offline', edgeNodeId: 'E1', deviceId: null, reason: 'edge node offline (NDEATH)' },
    ]);
    expect(death.rebirth).toBe(false);
    expect(t.isAlive('E1', null)).toBe(false);
    expect(t.isAlive('E1', 'D1')).toBe(false);
    // aliases are gone with the session
    expect(problems(t.handle(NDATA, payload(2, [{ alias: 1, datatype: 10, value: 1 }]), 0).events)).toEqual([
      'no-birth',
      'unknown-alias',
    ]);
  });

  it('DDEATH ends the device only, and is part of the seq', () => {
    const t = born();
    const r = t.handle(DDEATH, payload(2, []), 0);
    expect(r.events).toEqual([
      { kind: 'offline', edgeNodeId: 'E1', deviceId: 'D1', reason: 'device offline (DDEATH)' },
    ]);
    expect(t.isAlive('E1', 'D1')).toBe(false);
    expect(t.isAlive('E1', null)).toBe(true);
    expect(problems(t.handle(NDATA, payload(3, []), 0).events)).toEqual([]);
  });

  it('a new NBIRTH replaces the aliases and forgets the devices until they are born again', () => {
    const t = born();
    t.handle(NBIRTH, payload(0, [bdSeq(5), { name: 'Pressure', alias: 1, datatype: DataType.Float, value: 1 }]), 0);
    expect(t.isAlive('E1', 'D1')).toBe(false);
    const r = t.handle(NDATA, payload(1, [{ alias: 1, datatype: DataType.Float, value: 2 }]), 0);
    expect(names(r.events)).toEqual([`Pressure:${DataType.Float}`]);
  });

  it('a payload that does not decode is reported and asks for a rebirth', () => {
    const t = born();
    const r = t.handle(DDATA, Buffer.from('{"not":"protobuf"}'), 0);
    expect(r.events).toEqual([
      {
        kind: 'undecodable',
        edgeNodeId: 'E1',
        deviceId: 'D1',
        reason: expect.stringMatching(/^decode error: not a Sparkplug B payload \(/),
      },
    ]);
    expect(r.rebirth).toBe(true);
  });

  it('historical metrics are left out and counted', () => {
    const t = born();
    const r = t.handle(
      NDATA,
      payload(2, [
        { alias: 1, datatype: DataType.Double, value: 1, isHistorical: true },
        { alias: 1, datatype: DataType.Double, value: 2 },
      ]),
      0,
    );
    expect(r.historical).toBe(1);
    expect(names(r.events)).toHaveLength(1);
  });

  it('ignores commands', () => {
    const t = born();
    expect(t.handle(topic('spBv1.0/G1/NCMD/E1'), Buffer.from('garbage'), 0)).toEqual({
      events: [],
      rebirth: false,
      historical: 0,
    });
  });
});
