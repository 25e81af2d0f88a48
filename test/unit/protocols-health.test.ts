import { afterEach, describe, expect, it, vi } from 'vitest';
import { DriverHealth } from '../../protocols/health.js';
import { TimerSet } from '../../protocols/timer-set.js';
import type { DriverContext, Sample } from '../../protocols/types.js';

const context = (emit: (s: readonly Sample[]) => void = () => {}): DriverContext => ({
  emit,
  now: () => 42,
  log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
});

describe('DriverHealth', () => {
  it('counts samples and keeps the newest good timestamp', () => {
    const got: Sample[] = [];
    const h = new DriverHealth(
      'd',
      'mqtt',
      'mqtt://x',
      context((s) => got.push(...s)),
    );
    h.emit([
      { tagId: 'a', ts: 10, value: 1, quality: 'good' },
      { tagId: 'b', ts: 20, value: null, quality: 'bad', reason: 'timeout' },
    ]);
    h.emit([{ tagId: 'a', ts: 5, value: 2, quality: 'good' }]);
    const s = h.snapshot();
    expect(s.counters.samples).toBe(3);
    expect(s.lastGoodTs).toBe(10);
    expect(got).toHaveLength(3);
    // the snapshot is a copy
    (s.counters as { samples: number }).samples = 99;
    expect(h.snapshot().counters.samples).toBe(3);
  });

  it('marks tags disconnected once until something else was emitted', () => {
    const got: Sample[] = [];
    const h = new DriverHealth(
      'd',
      'mqtt',
      'mqtt://x',
      context((s) => got.push(...s)),
    );
    h.markDisconnected(['a', 'b']);
    h.markDisconnected(['a', 'b']);
    expect(got).toEqual([
      { tagId: 'a', ts: 42, value: null, quality: 'bad', reason: 'disconnected' },
      { tagId: 'b', ts: 42, value: null, quality: 'bad', reason: 'disconnected' },
    ]);
    h.emit([{ tagId: 'a', ts: 43, value: 1, quality: 'good' }]);
    h.markDisconnected(['a', 'b']);
    expect(got).toHaveLength(5);
  });

  it('survives a pipeline that throws', () => {
    const h = new DriverHealth(
      'd',
      'mqtt',
      'mqtt://x',
      context(() => {
        throw new Error('full');
      }),
    );
    expect(() => h.emit([{ tagId: 'a', ts: 1, value: 1, quality: 'good' }])).not.toThrow();
  });

  it('fail() counts and keeps a one-line error', () => {
    const h = new DriverHealth('d', 'mqtt', 'mqtt://x', context());
    expect(h.fail(new Error('line one\n  line two'))).toBe('line one line two');
    expect(h.snapshot()).toMatchObject({ lastError: 'line one line two', counters: { errors: 1 } });
  });
});

describe('TimerSet', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never lets a callback throw or reject out of a timer', async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const timers = new TimerSet((e) => errors.push(e));
    timers.timeout(10, () => {
      throw new Error('sync');
    });
    timers.timeout(10, async () => {
      throw new Error('async');
    });
    await vi.advanceTimersByTimeAsync(20);
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync', 'async']);
    expect(timers.size).toBe(0);
  });

  it('clearAll leaves nothing scheduled', async () => {
    vi.useFakeTimers();
    const timers = new TimerSet(() => {});
    let ticks = 0;
    timers.interval(10, () => ticks++);
    const once = timers.timeout(100, () => ticks++);
    await vi.advanceTimersByTimeAsync(35);
    expect(ticks).toBe(3);
    timers.clear(once);
    expect(timers.size).toBe(1);
    timers.clearAll();
    expect(timers.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(ticks).toBe(3);
  });

  it('an interval keeps its rate when a busy event loop makes it fire late', async () => {
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // the event loop is held
      }
    };
    const timers = new TimerSet(() => {});
    let ticks = 0;
    timers.interval(20, () => ticks++);
    // other work holds the loop most of the time, so nearly every tick fires late
    const blocker = setInterval(() => busy(12), 15);
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(blocker);
    timers.clearAll();
    // 50 periods; setInterval, which counts each period from its late start, gets about 33
    expect(ticks).toBeGreaterThanOrEqual(46);
    expect(ticks).toBeLessThanOrEqual(51);
  });
});
