/**
 * Drives the plant in real time: every tick (100 ms) it steps the model by the
 * real time elapsed × the acceleration factor. Plant.step splits that into
 * sub-steps of at most 1 s simulated, so acceleration does not coarsen the model.
 */
import type { Plant } from './model/plant.js';

export const MAX_SPEED = 3600;
export const DEFAULT_TICK_MS = 100;
/** A stalled event loop (debugger, suspend) is not made up for beyond this. */
const MAX_CATCH_UP_MS = 1000;

export interface RealTimeRunnerOptions {
  /** Simulated seconds per real second. */
  speed: number;
  tickMs?: number;
  /** Monotonic clock, ms. */
  now?: () => number;
}

export function validateSpeed(speed: unknown): string | null {
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed <= 0 || speed > MAX_SPEED) {
    return `speed must be a number in (0, ${MAX_SPEED}] (simulated seconds per real second)`;
  }
  return null;
}

export class RealTimeRunner {
  private readonly plant: Plant;
  private readonly tickMs: number;
  private readonly now: () => number;
  private speedValue: number;
  private timer: NodeJS.Timeout | null = null;
  private last = 0;

  constructor(plant: Plant, options: RealTimeRunnerOptions) {
    const problem = validateSpeed(options.speed);
    if (problem) throw new RangeError(problem);
    this.plant = plant;
    this.speedValue = options.speed;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.now = options.now ?? (() => performance.now());
  }

  get running(): boolean {
    return this.timer !== null;
  }

  get speed(): number {
    return this.speedValue;
  }

  set speed(value: number) {
    const problem = validateSpeed(value);
    if (problem) throw new RangeError(problem);
    this.speedValue = value;
  }

  start(): void {
    if (this.timer) return;
    this.last = this.now();
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  /** One tick: exposed so tests can drive the runner without waiting. */
  tick(): void {
    const t = this.now();
    const elapsed = Math.min(Math.max(t - this.last, 0), MAX_CATCH_UP_MS);
    this.last = t;
    if (elapsed > 0) this.plant.step(elapsed * this.speedValue);
  }
}
