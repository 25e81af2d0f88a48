import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeAlarm,
  encodeEvent,
  escapeTagValue,
  formatFloat,
  plantContext,
  quoteString,
  SampleEncoder,
} from '../../gateway/sinks/influx/line-protocol.js';
import { OUTBOX_ROW_OVERHEAD_BYTES, Outbox } from '../../gateway/sinks/outbox.js';

const plant = plantContext(
  { site: { id: 'hk' } as never, lines: [{ id: 'l1', area: 'a1', machines: [{ id: 'm1' }] }] as never },
  (tagId) => (tagId.startsWith('m1.') ? { device: 'plc 1', machine: 'm1' } : undefined),
);

describe('line protocol', () => {
  it('encodes an operator acknowledging an alarm as a greenline_alarm point', () => {
    const change = {
      record: {
        alarmId: 'm1-temp-high',
        activation: 3,
        at: 1_700_000_000_500,
        action: 'acknowledge',
        user: 'operator',
        comment: 'checking the heater, "band 2"',
        from: { state: 'active-unacknowledged', modes: [] },
        to: { state: 'active-acknowledged', modes: [] },
        result: 'accepted',
        announce: false,
        priority: 'high',
        value: 251.5,
      },
      alarm: { line: null, machine: 'm1' },
    } as never;
    expect(encodeAlarm(plant, change)).toBe(
      'greenline_alarm,action=acknowledge,alarm=m1-temp-high,area=a1,line=l1,machine=m1,priority=high,result=accepted,site=hk ' +
        'state="active-acknowledged",previous_state="active-unacknowledged",modes="",activation=3,user="operator",' +
        'comment="checking the heater, \\"band 2\\"",value=251.5 1700000000500',
    );
  });

  it('escapes tag values and quotes strings so no value can break a line', () => {
    expect(escapeTagValue('a b,c=d')).toBe('a\\ b\\,c\\=d');
    expect(escapeTagValue('two\nlines\r\n')).toBe('two\\ lines\\ ');
    expect(escapeTagValue('ends_with\\')).toBe('ends_with/');
    expect(quoteString('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(quoteString('x'.repeat(20_000))).toHaveLength(16_384 + 2);
  });

  it('writes every number as a float and refuses what InfluxDB cannot store', () => {
    expect(formatFloat(3)).toBe('3');
    expect(formatFloat(-0)).toBe('0');
    expect(formatFloat(1e21)).toBe('1e+21');
    expect(formatFloat(Number.NaN)).toBeNull();
    expect(formatFloat(Number.POSITIVE_INFINITY)).toBeNull();
  });

  it('encodes a sample of each kind with its place in the plant, the same key every time', () => {
    const enc = new SampleEncoder(plant);
    const t = 1_700_000_000_123;
    expect(enc.encode({ tagId: 'm1.temp', ts: t, value: 21.5, quality: 'good' })).toBe(
      `greenline_tag,area=a1,device=plc\\ 1,line=l1,machine=m1,quality=good,site=hk,tag=m1.temp value=21.5 ${t}`,
    );
    expect(enc.encode({ tagId: 'm1.run', ts: t + 0.4, value: false, quality: 'good' })).toBe(
      `greenline_tag,area=a1,device=plc\\ 1,line=l1,machine=m1,quality=good,site=hk,tag=m1.run value=0,value_bool=false ${t}`,
    );
    expect(enc.encode({ tagId: 'other', ts: t, value: 'A,B', quality: 'uncertain', reason: 'clamped' })).toBe(
      `greenline_tag,quality=uncertain,site=hk,tag=other value_str="A,B",reason="clamped" ${t}`,
    );
    // no value and no reason: still a field, or the line would be invalid
    expect(enc.encode({ tagId: 'other', ts: t, value: null, quality: 'bad' })).toBe(
      `greenline_tag,quality=bad,site=hk,tag=other reason="" ${t}`,
    );
    expect(enc.encode({ tagId: 'other', ts: t, value: Number.NaN, quality: 'bad', reason: 'nan' })).toBe(
      `greenline_tag,quality=bad,site=hk,tag=other reason="nan" ${t}`,
    );
    expect(enc.encode({ tagId: 'other', ts: Number.NaN, value: 1, quality: 'good' })).toBeNull();
  });

  it('gives state and counter events field names of their own, so no field changes type', () => {
    const state = encodeEvent(plant, {
      kind: 'machine-state',
      machineId: 'm1',
      ts: 5,
      state: 'planned-stop',
      previous: 'running',
      reason: 'setup',
      raw: null,
      noData: false,
    });
    expect(state).toBe(
      'greenline_event,area=a1,kind=machine-state,line=l1,machine=m1,site=hk state="planned-stop",previous_state="running",no_data=false,reason="setup" 5',
    );
    const reset = encodeEvent(plant, {
      kind: 'counter-rollover',
      machineId: 'm1',
      ts: 6,
      role: 'good',
      previous: 65_530,
      value: 4,
      counted: 10,
    });
    expect(reset).toBe(
      'greenline_event,area=a1,kind=counter-rollover,line=l1,machine=m1,role=good,site=hk value=4,previous_value=65530,counted=10 6',
    );
  });
});

describe('outbox', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'greenline-outbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const line = (i: number) => `m v=${i} ${i}`;

  it('keeps points in order across a reopen and removes only what it is told', () => {
    const path = join(dir, 'o.db');
    const a = new Outbox({ path, maxBytes: 1e6 });
    a.open();
    a.append([line(1), line(2), line(3)], 100);
    a.append([line(4)], 200);
    const head = a.peek(2);
    expect(head.map((p) => p.line)).toEqual([line(1), line(2)]);
    expect(a.remove(head)).toBe(2);
    a.close();

    const b = new Outbox({ path, maxBytes: 1e6 });
    b.open();
    expect(b.size).toEqual({
      points: 2,
      bytes: Buffer.byteLength(line(3)) + Buffer.byteLength(line(4)) + 2 * OUTBOX_ROW_OVERHEAD_BYTES,
      oldestAt: 100,
    });
    expect(b.peek(10).map((p) => p.line)).toEqual([line(3), line(4)]);
    b.close();
  });

  it('drops the oldest points beyond its quota in the same transaction, never those being sent', () => {
    const per = Buffer.byteLength(line(10)) + OUTBOX_ROW_OVERHEAD_BYTES;
    const o = new Outbox({ path: join(dir, 'q.db'), maxBytes: 10 * per });
    o.open();
    o.append(
      Array.from({ length: 10 }, (_, i) => line(10 + i)),
      1,
    );
    const sending = o.peek(3);
    o.protect(sending[2]!.id);
    const r = o.append([line(20), line(21)], 2);
    expect(r.dropped).toBe(3); // two over the quota, and one more for slack
    expect(o.size.points).toBe(9);
    expect(o.peek(5).map((p) => p.line)).toEqual([line(10), line(11), line(12), line(16), line(17)]);
    o.protect(0);
    expect(o.remove(sending)).toBe(3);
    expect(o.size.bytes).toBeLessThanOrEqual(10 * per);
    o.close();
  });
});
