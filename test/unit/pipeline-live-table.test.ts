import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { LiveTable, type LiveValue, Pipeline, type TagInfo, TagRegistry } from '../../gateway/pipeline/index.js';
import type { HealthReport, LiveSource, LiveValue as PortLiveValue } from '../../gateway/server/ports.js';

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

function tag(id: string): TagInfo {
  return {
    id,
    deviceId: 'plc1',
    protocol: 'modbus-tcp',
    name: id,
    unit: undefined,
    type: undefined,
    scale: 1,
    offset: 0,
    deadband: 0,
    references: [],
    enabled: true,
    expectedIntervalMs: 1000,
    staleAfterMs: undefined,
  };
}

describe('LiveTable', () => {
  it('satisfies the server ports structurally', () => {
    expectTypeOf<LiveTable>().toExtend<LiveSource>();
    expectTypeOf<LiveValue>().toEqualTypeOf<PortLiveValue>();
    expectTypeOf<ReturnType<Pipeline['stats']>>().toExtend<HealthReport['pipeline']>();
  });

  it('keeps the latest forwarded value per tag and tells listeners what changed', () => {
    let now = 1000;
    const pipeline = new Pipeline({ registry: new TagRegistry([tag('a'), tag('b')]), log: log(), now: () => now });
    const live = new LiveTable({ log: log() });
    pipeline.subscribe((b) => live.update(b), 'live');
    const changes: (readonly LiveValue[])[] = [];
    const off = live.subscribe((c) => changes.push(c));

    expect(live.snapshot()).toEqual([]);
    pipeline.ingest([
      { tagId: 'a', ts: 1, value: 1, quality: 'good' },
      { tagId: 'b', ts: 1, value: 'x', quality: 'good' },
    ]);
    now = 2000;
    pipeline.ingest([
      { tagId: 'a', ts: 2, value: 1, quality: 'good' },
      { tagId: 'b', ts: 2, value: null, quality: 'bad', reason: 'timeout' },
    ]);
    expect(live.snapshot()).toEqual([
      { tagId: 'a', ts: 1, value: 1, quality: 'good', receivedAt: 1000 },
      { tagId: 'b', ts: 2, value: null, quality: 'bad', reason: 'timeout', receivedAt: 2000 },
    ]);
    expect(changes.map((c) => c.map((v) => v.tagId))).toEqual([['a', 'b'], ['b']]);
    off();
    pipeline.ingest([{ tagId: 'a', ts: 3, value: 5, quality: 'good' }]);
    expect(changes).toHaveLength(2);
    expect(live.get('a')?.value).toBe(5);
  });

  it('contains a throwing listener', () => {
    const l = log();
    const live = new LiveTable({ log: l });
    const got: number[] = [];
    live.subscribe(() => {
      throw new Error('socket gone');
    });
    live.subscribe((c) => got.push(c.length));
    live.update([{ tagId: 'a', ts: 1, value: 1, quality: 'good', receivedAt: 1 }]);
    expect(got).toEqual([1]);
    expect(live.stats()).toMatchObject({ tags: 1, listenerErrors: 1 });
    expect(l.error).toHaveBeenCalledTimes(1);
  });
});
