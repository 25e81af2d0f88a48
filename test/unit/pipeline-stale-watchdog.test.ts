import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Pipeline,
  type ProcessedSample,
  StaleWatchdog,
  type TagInfo,
  TagRegistry,
} from '../../gateway/pipeline/index.js';

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

const log = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

function setup(tags: TagInfo[], options: { intervals?: number; minStaleAfterMs?: number } = {}) {
  const clock = { t: 0 };
  const now = () => clock.t;
  const registry = new TagRegistry(tags);
  const pipeline = new Pipeline({ registry, log: log(), now });
  const out: ProcessedSample[] = [];
  pipeline.subscribe((b) => out.push(...b));
  const watchdog = new StaleWatchdog({ registry, pipeline, log: log(), now, minStaleAfterMs: 0, ...options });
  const at = (t: number) => {
    clock.t = t;
  };
  return { pipeline, watchdog, out, at };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('StaleWatchdog', () => {
  it('marks a silent tag stale once after N × its interval, keeping the last value', () => {
    const t = setup([tag('p', { expectedIntervalMs: 1000 })]);
    t.watchdog.start();
    t.watchdog.stop();
    t.at(100);
    t.pipeline.ingest([{ tagId: 'p', ts: 100, value: 7, quality: 'good' }]);
    expect(t.watchdog.check(3099)).toBe(0);
    expect(t.watchdog.check(3100)).toBe(1);
    expect(t.out.at(-1)).toEqual({
      tagId: 'p',
      ts: 3100,
      value: 7,
      quality: 'stale',
      reason: 'no update for 3000 ms',
      receivedAt: 3100,
    });
    // only once while it stays silent
    expect(t.watchdog.check(10_000)).toBe(0);
    expect(t.out.filter((p) => p.quality === 'stale')).toHaveLength(1);
    expect(t.pipeline.stats().staleMarked).toBe(1);
  });

  it('clears on the next sample (a quality change passes the deadband) and can go stale again', () => {
    const t = setup([tag('p', { deadband: 100 })]);
    t.watchdog.start();
    t.watchdog.stop();
    t.pipeline.ingest([{ tagId: 'p', ts: 0, value: 7, quality: 'good' }]);
    t.watchdog.check(3000);
    t.at(5000);
    t.pipeline.ingest([{ tagId: 'p', ts: 5000, value: 7, quality: 'good' }]);
    expect(t.out.map((p) => p.quality)).toEqual(['good', 'stale', 'good']);
    expect(t.watchdog.check(7999)).toBe(0);
    expect(t.watchdog.check(8000)).toBe(1);
  });

  it('counts samples of any quality as a sign of life', () => {
    const t = setup([tag('p')]);
    t.watchdog.start();
    t.watchdog.stop();
    t.at(2500);
    t.pipeline.ingest([{ tagId: 'p', ts: 2500, value: null, quality: 'bad', reason: 'timeout' }]);
    expect(t.watchdog.check(5000)).toBe(0);
  });

  it('marks a tag that never reported, counting from start(), with a null value', () => {
    const t = setup([tag('p')]);
    t.at(1000);
    t.watchdog.start();
    t.watchdog.stop();
    expect(t.watchdog.check(3999)).toBe(0);
    expect(t.watchdog.check(4000)).toBe(1);
    expect(t.out[0]).toMatchObject({ tagId: 'p', value: null, quality: 'stale' });
  });

  it('uses the interval per protocol: poll group × N, OPC UA interval × N, MQTT staleAfterMs as is', () => {
    const t = setup(
      [
        tag('fast', { expectedIntervalMs: 200 }),
        tag('ua', { protocol: 'opcua', expectedIntervalMs: 500 }),
        tag('mq', { protocol: 'mqtt', expectedIntervalMs: undefined, staleAfterMs: 30_000 }),
        tag('off', { enabled: false }),
      ],
      { intervals: 4 },
    );
    expect(t.watchdog.staleAfterMs('fast')).toBe(800);
    expect(t.watchdog.staleAfterMs('ua')).toBe(2000);
    expect(t.watchdog.staleAfterMs('mq')).toBe(30_000);
    expect(t.watchdog.staleAfterMs('off')).toBeUndefined();
    t.watchdog.start();
    t.watchdog.stop();
    expect(t.watchdog.check(1999)).toBe(1);
    expect(t.watchdog.check(2000)).toBe(1);
    expect(t.watchdog.check(30_000)).toBe(1);
    expect(t.out.map((p) => p.tagId)).toEqual(['fast', 'ua', 'mq']);
  });

  it('never marks sooner than minStaleAfterMs', () => {
    const t = setup([tag('fast', { expectedIntervalMs: 10 })], { minStaleAfterMs: 1000 });
    expect(t.watchdog.staleAfterMs('fast')).toBe(1000);
  });

  it('runs on its own timer between start() and stop()', () => {
    vi.useFakeTimers({ now: 0 });
    const registry = new TagRegistry([tag('p', { expectedIntervalMs: 1000 })]);
    const pipeline = new Pipeline({ registry, log: log() });
    const out: ProcessedSample[] = [];
    pipeline.subscribe((b) => out.push(...b));
    const watchdog = new StaleWatchdog({ registry, pipeline, log: log(), checkIntervalMs: 500 });
    watchdog.start();
    pipeline.ingest([{ tagId: 'p', ts: Date.now(), value: 1, quality: 'good' }]);
    vi.advanceTimersByTime(2500);
    expect(out.map((p) => p.quality)).toEqual(['good']);
    vi.advanceTimersByTime(500);
    expect(out.map((p) => p.quality)).toEqual(['good', 'stale']);
    watchdog.stop();
    pipeline.ingest([{ tagId: 'p', ts: Date.now(), value: 1, quality: 'good' }]);
    vi.advanceTimersByTime(10_000);
    expect(out.map((p) => p.quality)).toEqual(['good', 'stale', 'good']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
