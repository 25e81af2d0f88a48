import { describe, expect, it } from 'vitest';
import { CounterTracker, floatJitter } from '../../gateway/core/index.js';

describe('CounterTracker', () => {
  it('takes the first reading as the baseline and counts increases', () => {
    const c = new CounterTracker({ width: 32 });
    expect(c.update(100, 0)).toEqual({ delta: 0, event: 'baseline', previousTs: undefined });
    expect(c.update(105, 1000)).toEqual({ delta: 5, event: 'increase', previousTs: 0 });
    expect(c.update(105, 2000)).toEqual({ delta: 0, event: 'steady', previousTs: 1000 });
  });

  it('counts a 32-bit Wh rollover: 4 294 967 000 → 704 is 1 000', () => {
    const c = new CounterTracker({ width: 32 });
    c.update(4_294_967_000, 0);
    expect(c.update(704, 1000)).toMatchObject({ delta: 1000, event: 'rollover' });
    expect(c.update(800, 2000)).toMatchObject({ delta: 96, event: 'increase' });
  });

  it('counts a 16-bit rollover and works in engineering units (scale)', () => {
    const c = new CounterTracker({ width: 16 });
    c.update(65_530, 0);
    expect(c.update(4, 1000)).toMatchObject({ delta: 10, event: 'rollover' });
    // a 16-bit register in 0.1 kWh steps rolls over at 6553.6 kWh
    const kwh = new CounterTracker({ width: 16, scale: 0.1 });
    kwh.update(6553, 0);
    expect(kwh.update(0.4, 1000).delta).toBeCloseTo(1, 9);
  });

  it('tells a reset from a rollover: only a drop from near the top to near zero is a rollover', () => {
    const range = 2 ** 32;
    const near = new CounterTracker({ width: 32 });
    near.update(0.9 * range + 1, 0);
    expect(near.update(0.1 * range - 1, 1000).event).toBe('rollover');

    const notHighEnough = new CounterTracker({ width: 32 });
    notHighEnough.update(0.9 * range, 0);
    expect(notHighEnough.update(5, 1000)).toMatchObject({ event: 'reset', delta: 5 });

    const notLowEnough = new CounterTracker({ width: 32 });
    notLowEnough.update(0.95 * range, 0);
    expect(notLowEnough.update(0.1 * range, 1000).event).toBe('reset');
  });

  it('counts a reset as the increment from 0', () => {
    const c = new CounterTracker({ width: 32 });
    c.update(12_345, 0);
    expect(c.update(7, 1000)).toEqual({ delta: 7, event: 'reset', previousTs: 0 });
    expect(c.update(9, 2000)).toMatchObject({ delta: 2, event: 'increase' });
    // a reset straight to 0 adds nothing
    expect(c.update(0, 3000)).toMatchObject({ delta: 0, event: 'reset' });
  });

  it('treats any real drop of a floating-point register as a reset (meter replaced)', () => {
    const c = new CounterTracker({ width: 'float' });
    c.update(100_000, 0);
    expect(c.update(2.5, 1000)).toMatchObject({ delta: 2.5, event: 'reset' });
  });

  it('ignores a float register dropping within its rounding, and counts the next increase from the higher value', () => {
    const c = new CounterTracker({ width: 'float' });
    c.update(100_000, 0);
    const drop = floatJitter(100_000) / 2;
    expect(c.update(100_000 - drop, 1000)).toMatchObject({ delta: 0, event: 'jitter' });
    expect(c.update(100_001, 2000).delta).toBeCloseTo(1, 9);
  });
});
