/**
 * Cumulative counters (parts, Wh, kWh) turned into increments.
 *
 * A counter of declared width W counts modulo 2^W (in engineering units:
 * modulo 2^W × scale). A drop from `prev` to `cur` is a rollover only when the
 * counter was near its top and is now near zero:
 *
 *   prev > ROLLOVER_NEAR_TOP × range  and  cur < ROLLOVER_NEAR_BOTTOM × range
 *   (range = 2^W × scale; 0.9 and 0.1)
 *
 * Then Δ = range − prev + cur. Any other drop is a reset (device restarted,
 * counter cleared, meter replaced): the new value is counted as the increment
 * from 0 and a reset event is reported. Floating-point registers have no width:
 * every real drop is a reset, and a drop within the register's rounding
 * (see `floatJitter`) is noise, not a reset.
 */

export const ROLLOVER_NEAR_TOP = 0.9;
export const ROLLOVER_NEAR_BOTTOM = 0.1;

export type CounterEvent = 'baseline' | 'steady' | 'increase' | 'rollover' | 'reset' | 'jitter';

export interface CounterUpdate {
  /** increment since the previous accepted reading, in engineering units; 0 for a baseline */
  readonly delta: number;
  readonly event: CounterEvent;
  /** the previous accepted reading's time, undefined for a baseline */
  readonly previousTs: number | undefined;
}

export interface CounterTrackerOptions {
  /**
   * integer counters: the register width for rollover detection; `float` for
   * floating-point registers (no rollover, a drop is a reset)
   */
  readonly width: 16 | 32 | 64 | 'float';
  /** engineering units per raw count (the tag's scale), default 1 */
  readonly scale?: number;
}

export class CounterTracker {
  /** the counter's range in engineering units; Infinity for floating-point registers */
  readonly range: number;
  private prev: number | undefined;
  private prevTs: number | undefined;

  constructor(options: CounterTrackerOptions) {
    const scale = Math.abs(options.scale ?? 1);
    this.range = options.width === 'float' ? Number.POSITIVE_INFINITY : 2 ** options.width * scale;
  }

  /** the last accepted reading */
  get value(): number | undefined {
    return this.prev;
  }

  /** Feeds a good reading taken at `ts`. */
  update(value: number, ts: number): CounterUpdate {
    const prev = this.prev;
    const previousTs = this.prevTs;
    if (prev === undefined) {
      this.prev = value;
      this.prevTs = ts;
      return { delta: 0, event: 'baseline', previousTs: undefined };
    }
    if (value >= prev) {
      this.prev = value;
      this.prevTs = ts;
      return { delta: value - prev, event: value === prev ? 'steady' : 'increase', previousTs };
    }
    if (Number.isFinite(this.range)) {
      if (prev > ROLLOVER_NEAR_TOP * this.range && value < ROLLOVER_NEAR_BOTTOM * this.range) {
        this.prev = value;
        this.prevTs = ts;
        return { delta: this.range - prev + value, event: 'rollover', previousTs };
      }
    } else if (prev - value <= floatJitter(prev)) {
      // keep the higher reading: the next increase is measured from it and nothing is counted twice
      this.prevTs = ts;
      return { delta: 0, event: 'jitter', previousTs };
    }
    this.prev = value;
    this.prevTs = ts;
    return { delta: Math.max(0, value), event: 'reset', previousTs };
  }
}

/**
 * Largest drop of a floating-point total that is rounding, not a reset: a few
 * float32 steps (2^-23 relative), since float32 is what meters mostly expose.
 */
export function floatJitter(total: number): number {
  return Math.abs(total) * 2 ** -21 + 1e-9;
}
