import { describe, expect, it } from 'vitest';
import { computeOee, deriveCounts, emptyAccumulator } from '../../gateway/core/index.js';

const MIN = 60_000;

describe('computeOee', () => {
  it('gives the oee.com worked example to six decimals', () => {
    // shift 480 min, breaks 60 min → PPT 420 min; downtime 47 min → run 373 min
    const r = computeOee({
      plannedMs: 420 * MIN,
      runMs: 373 * MIN,
      total: 19_271,
      good: 18_848,
      idealCycleTimeS: 1,
      allMs: 480 * MIN,
    });
    expect(r.availability!.toFixed(6)).toBe('0.888095');
    expect(r.performance!.toFixed(6)).toBe('0.861081');
    expect(r.quality!.toFixed(6)).toBe('0.978050');
    expect(r.oee!.toFixed(6)).toBe('0.747937');
    // the cross-check: good × ideal cycle time / planned time
    expect(r.oee).toBeCloseTo(18_848 / 25_200, 12);
    expect(r.teep).toBeCloseTo((18_848 / 25_200) * (420 / 480), 12);
    expect(r.performanceOver100).toBe(false);
  });

  it('is null where a ratio has no denominator, never 0 or NaN', () => {
    const none = computeOee({ plannedMs: 0, runMs: 0, total: 0, good: 0, idealCycleTimeS: 1, allMs: 0 });
    expect(none).toEqual({
      availability: null,
      performance: null,
      performanceRaw: null,
      quality: null,
      oee: null,
      teep: null,
      performanceOver100: false,
    });
  });

  it('gives OEE 0 with run time but nothing made (quality stays null)', () => {
    const r = computeOee({ plannedMs: 60 * MIN, runMs: 60 * MIN, total: 0, good: 0, idealCycleTimeS: 2 });
    expect(r.availability).toBe(1);
    expect(r.performance).toBe(0);
    expect(r.quality).toBeNull();
    expect(r.oee).toBe(0);
  });

  it('gives OEE 0 when the whole planned time was lost', () => {
    const r = computeOee({ plannedMs: 60 * MIN, runMs: 0, total: 0, good: 0, idealCycleTimeS: 2 });
    expect(r.availability).toBe(0);
    expect(r.performance).toBeNull();
    expect(r.oee).toBe(0);
  });

  it('flags performance above 100 % and caps the OEE product by default', () => {
    const input = { plannedMs: 60 * MIN, runMs: 30 * MIN, total: 3000, good: 2700, idealCycleTimeS: 1 };
    const capped = computeOee(input);
    expect(capped.performanceRaw).toBeCloseTo(3000 / 1800, 12);
    expect(capped.performance).toBe(1);
    expect(capped.performanceOver100).toBe(true);
    expect(capped.oee).toBeCloseTo(0.5 * 1 * 0.9, 12);
    const raw = computeOee({ ...input, cap: 'raw' });
    expect(raw.performance).toBeCloseTo(3000 / 1800, 12);
    expect(raw.oee).toBeCloseTo((2700 * 1000) / (60 * MIN), 12);
  });

  it('flags counts without any run time', () => {
    const r = computeOee({ plannedMs: 60 * MIN, runMs: 0, total: 5, good: 5, idealCycleTimeS: 1 });
    expect(r.performanceOver100).toBe(true);
    expect(r.performanceRaw).toBeNull();
  });

  it('takes the ideal work of mixed machines as a sum', () => {
    const r = computeOee({
      plannedMs: 100_000,
      runMs: 100_000,
      total: 30,
      good: 30,
      idealWorkMs: 10 * 2000 + 20 * 1000,
    });
    expect(r.performance).toBeCloseTo(0.4, 12);
  });
});

describe('deriveCounts', () => {
  const acc = (total: number, good: number, reject: number) => ({
    ...emptyAccumulator(),
    total,
    good,
    reject,
  });

  it('derives the third counter from the other two', () => {
    expect(deriveCounts(acc(100, 0, 7), { total: true, good: false, reject: true })).toMatchObject({
      total: 100,
      good: 93,
      reject: 7,
    });
    expect(deriveCounts(acc(100, 95, 0), { total: true, good: true, reject: false })).toMatchObject({
      total: 100,
      good: 95,
      reject: 5,
    });
    expect(deriveCounts(acc(0, 95, 5), { total: false, good: true, reject: true })).toMatchObject({
      total: 100,
      good: 95,
      reject: 5,
    });
  });

  it('never derives a negative count when one counter reports ahead of the other', () => {
    expect(deriveCounts(acc(10, 12, 0), { total: true, good: true, reject: false }).reject).toBe(0);
  });
});
