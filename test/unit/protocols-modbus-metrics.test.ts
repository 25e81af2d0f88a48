/**
 * The per-device numbers /metrics exports, kept by DriverHealth for every
 * driver and filled by the Modbus driver: round-trip latency histogram and
 * errors by kind.
 */
import { describe, expect, it } from 'vitest';
import { DriverHealth, histogramQuantile, LATENCY_BUCKETS_MS, LatencyHistogram } from '../../protocols/health.js';
import type { DriverContext } from '../../protocols/types.js';

const ctx: DriverContext = {
  emit: () => {},
  now: () => 1,
  log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
};

describe('LatencyHistogram', () => {
  it('uses the 1-2-5 buckets from 1 ms to 5 s', () => {
    expect(LATENCY_BUCKETS_MS).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
    expect(Object.isFrozen(LATENCY_BUCKETS_MS)).toBe(true);
  });

  it('counts cumulatively per upper bound, as Prometheus `le`; above the last bound only in count', () => {
    const h = new LatencyHistogram();
    for (const ms of [0.2, 1, 1.5, 3, 3, 999, 1000, 7000]) h.observe(ms);
    expect(h.snapshot()).toEqual({
      buckets: LATENCY_BUCKETS_MS,
      counts: [2, 3, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7],
      count: 8,
      sum: 0.2 + 1 + 1.5 + 3 + 3 + 999 + 1000 + 7000,
    });
  });

  it('ignores what is not a duration', () => {
    const h = new LatencyHistogram();
    h.observe(Number.NaN);
    h.observe(-1);
    expect(h.count).toBe(0);
    expect(h.quantile(0.5)).toBeNull();
  });

  it('interpolates quantiles inside the bucket that holds them', () => {
    const h = new LatencyHistogram([10, 20, 40]);
    for (let i = 0; i < 50; i++) h.observe(5); // (0, 10]
    for (let i = 0; i < 50; i++) h.observe(15); // (10, 20]
    expect(h.quantile(0.5)).toBe(10);
    expect(h.quantile(0.75)).toBe(15);
    expect(h.quantile(1)).toBe(20);
    expect(h.quantile(0.1)).toBe(2);
    h.observe(1000);
    // beyond the last bound the histogram knows no more than that bound
    expect(h.quantile(1)).toBe(40);
  });

  it('quantiles of the difference of two snapshots describe the window between them', () => {
    const h = new LatencyHistogram([1, 10, 100]);
    for (let i = 0; i < 100; i++) h.observe(50);
    const before = h.snapshot();
    for (let i = 0; i < 10; i++) h.observe(0.5);
    const after = h.snapshot();
    const window = {
      buckets: after.buckets,
      counts: after.counts.map((c, i) => c - before.counts[i]!),
      count: after.count - before.count,
      sum: after.sum - before.sum,
    };
    expect(histogramQuantile(window, 0.99)).toBeLessThanOrEqual(1);
    expect(histogramQuantile(after, 0.5)).toBeGreaterThan(10);
  });
});

describe('DriverHealth: errors by kind and latency', () => {
  it('errors by kind add up to errors; a failure without a kind is `other`', () => {
    const h = new DriverHealth('d', 'modbus-tcp', 'x', ctx);
    h.fail('timeout reading …', 'timeout');
    h.fail('timeout reading …', 'timeout');
    h.fail('exception 2 …', 'exception-2');
    h.fail(new Error('boom'));
    const s = h.snapshot();
    expect(s.counters.errors).toBe(4);
    expect(s.errorsByKind).toEqual({ timeout: 2, 'exception-2': 1, other: 1 });
    expect(Object.values(s.errorsByKind!).reduce((a, b) => a + b, 0)).toBe(s.counters.errors);
    expect(s.lastError).toBe('boom');
  });

  it('shows no latency for a driver that does not measure it (the status stays as it was)', () => {
    const h = new DriverHealth('d', 'mqtt', 'x', ctx);
    expect(h.snapshot().latencyMs).toBeUndefined();
    expect(h.snapshot().errorsByKind).toEqual({});
  });

  it('shows latency from the start when asked to, or from the first round trip', () => {
    const eager = new DriverHealth('d', 'modbus-tcp', 'x', ctx, { latency: true });
    expect(eager.snapshot().latencyMs).toMatchObject({ count: 0, sum: 0 });
    const lazy = new DriverHealth('d', 'opcua', 'x', ctx);
    lazy.recordLatency(3);
    lazy.recordLatency(30);
    expect(lazy.snapshot().latencyMs).toMatchObject({ count: 2, sum: 33 });
    expect(lazy.latencyHistogram?.quantile(0.5)).toBeGreaterThan(2);
  });

  it('the snapshot is a copy', () => {
    const h = new DriverHealth('d', 'modbus-tcp', 'x', ctx, { latency: true });
    h.fail('x', 'timeout');
    h.recordLatency(1);
    const s = h.snapshot();
    (s.errorsByKind as Record<string, number>).timeout = 99;
    (s.latencyMs!.counts as number[])[0] = 99;
    expect(h.snapshot().errorsByKind).toEqual({ timeout: 1 });
    expect(h.snapshot().latencyMs!.counts[0]).toBe(1);
  });
});
