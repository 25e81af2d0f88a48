import { describe, expect, it, vi } from 'vitest';
import {
  DECODE_ERROR,
  Pipeline,
  type ProcessedSample,
  type TagInfo,
  TagRegistry,
} from '../../gateway/pipeline/index.js';
import type { Sample } from '../../protocols/types.js';

function tag(id: string, over: Partial<TagInfo> = {}): TagInfo {
  return {
    id,
    deviceId: 'plc1',
    protocol: 'modbus-tcp',
    name: id,
    unit: undefined,
    type: 'float32',
    scale: 1,
    offset: 0,
    deadband: 0,
    references: [],
    enabled: true,
    expectedIntervalMs: 1000,
    staleAfterMs: undefined,
    ...over,
  };
}

function logger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

function setup(tags: TagInfo[], heartbeatMs = 60_000) {
  let now = 1_000_000;
  const log = logger();
  const pipeline = new Pipeline({ registry: new TagRegistry(tags), log, now: () => now, heartbeatMs });
  const out: ProcessedSample[] = [];
  pipeline.subscribe((batch) => out.push(...batch));
  return {
    pipeline,
    out,
    log,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

const s = (
  tagId: string,
  value: Sample['value'],
  quality: Sample['quality'] = 'good',
  ts = 500,
  reason?: string,
): Sample => (reason === undefined ? { tagId, ts, value, quality } : { tagId, ts, value, quality, reason });

describe('Pipeline scaling', () => {
  it('applies raw × scale + offset to numbers and stamps receivedAt', () => {
    const t = setup([tag('temp', { type: 'int16', scale: 0.1, offset: -5 })]);
    t.pipeline.ingest([s('temp', 253, 'good', 123.4)]);
    expect(t.out).toHaveLength(1);
    expect(t.out[0]?.value).toBeCloseTo(20.3, 10);
    expect(t.out[0]).toMatchObject({ tagId: 'temp', ts: 123, quality: 'good', receivedAt: t.now() });
    expect(t.out[0]).not.toHaveProperty('reason');
  });

  it('passes booleans and strings through unchanged', () => {
    const t = setup([tag('run', { type: 'bool', scale: 2, offset: 1 }), tag('recipe', { type: 'string', scale: 2 })]);
    t.pipeline.ingest([s('run', true), s('recipe', 'A-17')]);
    expect(t.out.map((p) => p.value)).toEqual([true, 'A-17']);
  });

  it('scales numbers of an untyped (OPC UA) tag and passes other values', () => {
    const t = setup([tag('mode', { type: undefined, scale: 10 }), tag('name', { type: undefined })]);
    t.pipeline.ingest([s('mode', 2), s('name', 'auto')]);
    expect(t.out.map((p) => p.value)).toEqual([20, 'auto']);
  });

  it('turns a non-number for a numeric tag into quality bad "decode error", counted and logged', () => {
    const t = setup([tag('temp', { type: 'int16' })]);
    t.pipeline.ingest([s('temp', 'hot'), s('temp', true, 'good', 600), s('temp', null, 'good', 700)]);
    // the second and third equal the first (bad, decode error, null) and are suppressed as unchanged
    expect(t.out).toEqual([
      { tagId: 'temp', ts: 500, value: null, quality: 'bad', reason: DECODE_ERROR, receivedAt: t.now() },
    ]);
    expect(t.pipeline.stats()).toMatchObject({ decodeErrors: 3, forwarded: 1, suppressedByDeadband: 2 });
    expect(t.log.warn).toHaveBeenCalledTimes(1);
  });

  it('turns NaN and Infinity into decode errors', () => {
    const t = setup([tag('temp')]);
    t.pipeline.ingest([s('temp', Number.NaN)]);
    expect(t.out[0]).toMatchObject({ value: null, quality: 'bad', reason: DECODE_ERROR });
  });

  it('keeps a bad sample from the driver as it is', () => {
    const t = setup([tag('temp', { scale: 10 })]);
    t.pipeline.ingest([s('temp', null, 'bad', 500, 'timeout')]);
    expect(t.out[0]).toMatchObject({ value: null, quality: 'bad', reason: 'timeout' });
    expect(t.pipeline.stats().decodeErrors).toBe(0);
  });
});

describe('Pipeline report-on-change', () => {
  it('suppresses good values within the deadband of the last forwarded value', () => {
    const t = setup([tag('p', { deadband: 0.5 })]);
    t.pipeline.ingest([s('p', 10), s('p', 10.3, 'good', 501), s('p', 10.5, 'good', 502), s('p', 9.6, 'good', 503)]);
    // 10.3 and 10.5 are within 0.5 of 10; 9.6 is 0.4 away: all suppressed
    expect(t.out.map((p) => p.value)).toEqual([10]);
    // drift is measured against the last forwarded value, not the last received one
    t.pipeline.ingest([s('p', 10.51, 'good', 504)]);
    expect(t.out.map((p) => p.value)).toEqual([10, 10.51]);
    expect(t.pipeline.stats()).toMatchObject({ samplesIn: 5, forwarded: 2, suppressedByDeadband: 3 });
  });

  it('with deadband 0 forwards every change and suppresses repeats', () => {
    const t = setup([tag('c', { type: 'uint32' }), tag('b', { type: 'bool' })]);
    t.pipeline.ingest([s('c', 1), s('c', 1), s('c', 2), s('b', false), s('b', false), s('b', true)]);
    expect(t.out.map((p) => `${p.tagId}=${p.value}`)).toEqual(['c=1', 'c=2', 'b=false', 'b=true']);
  });

  it('always forwards a quality change, even with the same value', () => {
    const t = setup([tag('p', { deadband: 5 })]);
    t.pipeline.ingest([s('p', 10), s('p', 10, 'uncertain'), s('p', 11, 'uncertain'), s('p', 11, 'good')]);
    expect(t.out.map((p) => `${p.value}/${p.quality}`)).toEqual(['10/good', '10/uncertain', '11/good']);
  });

  it('forwards a changed reason of a bad sample, and suppresses a repeated one', () => {
    const t = setup([tag('p')]);
    t.pipeline.ingest([
      s('p', null, 'bad', 1, 'timeout'),
      s('p', null, 'bad', 2, 'timeout'),
      s('p', null, 'bad', 3, 'disconnected'),
    ]);
    expect(t.out.map((p) => p.reason)).toEqual(['timeout', 'disconnected']);
  });

  it('sends a heartbeat: an unchanged value is forwarded once the last forwarded one is heartbeatMs old', () => {
    const t = setup([tag('p', { deadband: 1 })], 60_000);
    t.pipeline.ingest([s('p', 10, 'good', 0)]);
    t.advance(59_999);
    t.pipeline.ingest([s('p', 10.2, 'good', 59_999)]);
    expect(t.out).toHaveLength(1);
    t.advance(1);
    t.pipeline.ingest([s('p', 10.2, 'good', 60_000)]);
    expect(t.out.map((p) => [p.ts, p.value])).toEqual([
      [0, 10],
      [60_000, 10.2],
    ]);
    expect(t.pipeline.stats().heartbeats).toBe(1);
    // the heartbeat is the new reference for the next one
    t.advance(30_000);
    t.pipeline.ingest([s('p', 10.2, 'good', 90_000)]);
    expect(t.out).toHaveLength(2);
  });
});

describe('Pipeline rejection', () => {
  it('rejects unknown tag ids, counts them and logs rate-limited', () => {
    const t = setup([tag('p')]);
    for (let i = 0; i < 5; i++) t.pipeline.ingest([s('ghost', i), s('p', i)]);
    expect(t.out.map((p) => p.tagId)).toEqual(['p', 'p', 'p', 'p', 'p']);
    expect(t.pipeline.stats()).toMatchObject({ samplesIn: 10, rejected: 5, forwarded: 5 });
    expect(t.log.warn).toHaveBeenCalledTimes(1);
    expect(t.log.warn.mock.calls[0]?.[0]).toMatchObject({ tagId: 'ghost' });
    t.advance(60_000);
    t.pipeline.ingest([s('ghost', 1)]);
    expect(t.log.warn).toHaveBeenCalledTimes(2);
    expect(t.log.warn.mock.calls[1]?.[0]).toMatchObject({ tagId: 'ghost', repeatsHeldBack: 4 });
  });

  it('rejects malformed samples without throwing', () => {
    const t = setup([tag('p')]);
    const bad = [
      null,
      42,
      { tagId: 7, ts: 1, value: 1, quality: 'good' },
      { tagId: 'p', ts: Number.NaN, value: 1, quality: 'good' },
      { tagId: 'p', ts: 1, value: 1, quality: 'excellent' },
      Object.defineProperty({}, 'tagId', {
        get() {
          throw new Error('boom');
        },
      }),
    ] as unknown as Sample[];
    expect(() => t.pipeline.ingest(bad)).not.toThrow();
    expect(() => t.pipeline.ingest(undefined as unknown as Sample[])).not.toThrow();
    expect(t.pipeline.stats()).toMatchObject({ samplesIn: 6, rejected: 6, forwarded: 0 });
  });
});

describe('Pipeline fan-out', () => {
  it('contains a throwing subscriber: counted, logged, others still get the batch', () => {
    const t = setup([tag('p')]);
    const after: ProcessedSample[][] = [];
    t.pipeline.subscribe(() => {
      throw new Error('disk on fire');
    }, 'broken');
    t.pipeline.subscribe((batch) => after.push([...batch]));
    expect(() => t.pipeline.ingest([s('p', 1)])).not.toThrow();
    t.pipeline.ingest([s('p', 2)]);
    expect(t.out.map((p) => p.value)).toEqual([1, 2]);
    expect(after.map((b) => b.map((p) => p.value))).toEqual([[1], [2]]);
    expect(t.pipeline.stats().subscriberErrors).toBe(2);
    expect(t.log.error).toHaveBeenCalledTimes(1);
    expect(t.log.error.mock.calls[0]?.[0]).toMatchObject({ subscriber: 'broken', err: 'disk on fire' });
  });

  it('hands one batch per ingest call and none when nothing passed', () => {
    const t = setup([tag('a'), tag('b')]);
    const batches: number[] = [];
    t.pipeline.subscribe((b) => batches.push(b.length));
    t.pipeline.ingest([s('a', 1), s('b', 1)]);
    t.pipeline.ingest([s('a', 1), s('b', 1)]);
    expect(batches).toEqual([2]);
  });

  it('unsubscribes', () => {
    const t = setup([tag('a')]);
    const got: number[] = [];
    const off = t.pipeline.subscribe((b) => got.push(b.length));
    t.pipeline.ingest([s('a', 1)]);
    off();
    t.pipeline.ingest([s('a', 2)]);
    expect(got).toEqual([1]);
  });
});
