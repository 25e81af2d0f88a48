import { describe, expect, it } from 'vitest';
import { Backoff } from '../../protocols/backoff.js';
import { RateLimitedLog } from '../../protocols/rate-limited-log.js';
import type { Log } from '../../protocols/types.js';

describe('Backoff', () => {
  it('doubles from 500 ms to the 30 s cap without jitter', () => {
    const b = new Backoff({ jitter: 0 });
    const delays = Array.from({ length: 10 }, () => b.next());
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    expect(b.attempt).toBe(10);
  });

  it('jitter only shortens, within [d × (1 − jitter), d]', () => {
    const low = new Backoff({ jitter: 0.5, random: () => 0.999999 });
    const high = new Backoff({ jitter: 0.5, random: () => 0 });
    expect([low.next(), low.next(), low.next()]).toEqual([250, 500, 1000]);
    expect([high.next(), high.next(), high.next()]).toEqual([500, 1000, 2000]);
    const mid = new Backoff({ jitter: 0.2, random: () => 0.5, initialMs: 1000 });
    expect(mid.next()).toBe(900);
  });

  it('never exceeds the cap, even after many attempts', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 5000, random: () => 0 });
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.next();
    expect(last).toBe(5000);
  });

  it('reset starts over', () => {
    const b = new Backoff({ jitter: 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(500);
  });

  it('tolerates a random source outside [0, 1)', () => {
    const b = new Backoff({ jitter: 1, random: () => 7 });
    expect(b.next()).toBe(0);
  });
});

describe('RateLimitedLog', () => {
  const recorder = () => {
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
    const log: Log = {
      debug: (obj, msg) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
      info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      error: (obj, msg) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    };
    return { lines, log };
  };

  it('a device failing every 100 ms logs one line per 30 s per kind, with a suppressed count', () => {
    const { lines, log } = recorder();
    let t = 0;
    const rl = new RateLimitedLog(log, { now: () => t, bindings: { deviceId: 'plc1' } });
    for (; t < 65_000; t += 100) {
      rl.warn('timeout', {}, 'no answer');
      if (t % 1000 === 0) rl.warn('exception-2', {}, 'refused');
    }
    const timeouts = lines.filter((l) => l.obj.kind === 'timeout');
    expect(timeouts.map((l) => l.obj.suppressed)).toEqual([undefined, 299, 299]);
    expect(timeouts[0]!.obj.deviceId).toBe('plc1');
    expect(lines.filter((l) => l.obj.kind === 'exception-2')).toHaveLength(3);
  });

  it('reset lets the next line through and returns what was held back', () => {
    const { lines, log } = recorder();
    const rl = new RateLimitedLog(log, { now: () => 0 });
    rl.warn('x', {}, 'm');
    rl.warn('x', {}, 'm');
    rl.warn('x', {}, 'm');
    expect(rl.suppressedCount('x')).toBe(2);
    expect(rl.reset('x')).toBe(2);
    expect(rl.warn('x', {}, 'm')).toBe(true);
    expect(lines).toHaveLength(2);
  });

  it('survives a logger that throws', () => {
    const log: Log = {
      debug: () => {},
      info: () => {},
      warn: () => {
        throw new Error('disk full');
      },
      error: () => {},
    };
    expect(() => new RateLimitedLog(log).warn('k', {}, 'm')).not.toThrow();
  });
});
