/**
 * Seeded pseudo-random numbers for the simulated plant. The plant never reads
 * Math.random: every draw comes from a stream derived from the plant seed and
 * a stream name, so adding draws to one machine leaves the others unchanged.
 */

/** 32-bit FNV-1a hash of a string, used to derive independent stream seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 finaliser: spreads a 32-bit seed so nearby seeds give unrelated streams. */
function mixSeed(seed: number): number {
  let z = (seed + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** mulberry32 generator with the distributions the plant model needs. */
export class Prng {
  private state: number;
  private spareGauss: number | null = null;

  constructor(seed: number) {
    this.state = mixSeed(seed >>> 0);
  }

  /** A generator for a named sub-stream of `seed` (e.g. one per machine). */
  static stream(seed: number, name: string): Prng {
    return new Prng((seed >>> 0) ^ hashString(name));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Exponentially distributed value with the given mean (> 0). */
  exponential(mean: number): number {
    // 1 - next() is in (0, 1], so the log is finite.
    return -mean * Math.log(1 - this.next());
  }

  /** Normally distributed value (Box-Muller, the second value of each pair is kept). */
  gauss(mean = 0, sd = 1): number {
    if (this.spareGauss !== null) {
      const z = this.spareGauss;
      this.spareGauss = null;
      return mean + sd * z;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareGauss = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick() needs at least one item');
    return item;
  }
}
