import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AlignedData, decimateMinMax, firstAtOrAfter } from '../../dashboard/src/charts/decimate.js';

const T0 = Date.parse('2025-03-03T08:00:00+08:00');

/** `n` values a second apart; `value(s, i)` of series `s` */
function series(n: number, count: number, value: (s: number, i: number) => number | null): AlignedData {
  const xs = Array.from({ length: n }, (_, i) => T0 + i * 1000);
  const ys = Array.from({ length: count }, (_, s) => Array.from({ length: n }, (_, i) => value(s, i)));
  return [xs, ...ys] as unknown as AlignedData;
}

/** the values of series `s` whose time lies in [from, to] */
function valuesIn(data: AlignedData, s: number, from: number, to: number): (number | null)[] {
  const out: (number | null)[] = [];
  data[0].forEach((x, i) => {
    if (x >= from && x <= to) out.push(data[s]![i] ?? null);
  });
  return out;
}

function extremes(values: readonly (number | null)[]): [number, number] | null {
  const real = values.filter((v): v is number => v !== null);
  return real.length === 0 ? null : [Math.min(...real), Math.max(...real)];
}

describe('firstAtOrAfter', () => {
  it('finds the first time at or after t, or after it', () => {
    const xs = [10, 20, 20, 30];
    expect(firstAtOrAfter(xs, 5)).toBe(0);
    expect(firstAtOrAfter(xs, 10)).toBe(0);
    expect(firstAtOrAfter(xs, 11)).toBe(1);
    expect(firstAtOrAfter(xs, 20)).toBe(1);
    expect(firstAtOrAfter(xs, 30)).toBe(3);
    expect(firstAtOrAfter(xs, 31)).toBe(4);
    expect(firstAtOrAfter([], 1)).toBe(0);
    expect(firstAtOrAfter(xs, 20, true)).toBe(3);
    expect(firstAtOrAfter(xs, 30, true)).toBe(4);
    expect(firstAtOrAfter(xs, 9, true)).toBe(0);
  });
});

describe('decimateMinMax', () => {
  it('leaves data with at most two values per pixel column as it is', () => {
    const data = series(200, 2, (s, i) => s * 100 + i);
    const to = T0 + 199_000;
    expect(decimateMinMax(data, T0, to, 100)).toBe(data);
    expect(decimateMinMax(data, T0, to, 0)).toBe(data);
    // a narrow window of long data: few values in view, nothing to save
    const long = series(100_000, 1, (_s, i) => i % 7);
    expect(decimateMinMax(long, T0 + 5_000_000, T0 + 5_100_000, 800)).toBe(long);
  });

  it('keeps each column’s lowest and highest value of every series, in the order they came', () => {
    // 1000 values on 10 columns: 100 a column; series 1 rises in each column, series 2 falls
    const data = series(1000, 2, (s, i) => (s === 0 ? i % 100 : 1000 - (i % 100)));
    // columns of 99.9999 s: the first value of each column lies on its start
    const to = T0 + 999_999;
    const out = decimateMinMax(data, T0, to, 10);
    expect(out[0]).toHaveLength(20);
    for (let c = 0; c < 10; c++) {
      expect(out[0][2 * c]).toBe(T0 + c * 100_000);
      expect(out[0][2 * c + 1]).toBe(T0 + (c * 100 + 99) * 1000);
      expect([out[1]![2 * c], out[1]![2 * c + 1]]).toEqual([0, 99]);
      expect([out[2]![2 * c], out[2]![2 * c + 1]]).toEqual([1000, 901]);
    }
  });

  it('keeps a spike of one value that a plain every-nth sample would miss', () => {
    const data = series(10_000, 1, (_s, i) => (i === 4321 ? 500 : i === 8765 ? -40 : 20));
    const out = decimateMinMax(data, T0, T0 + 9_999_000, 50);
    expect(out[0].length).toBeLessThanOrEqual(100);
    expect(Math.max(...(out[1] as number[]))).toBe(500);
    expect(Math.min(...(out[1] as number[]))).toBe(-40);
    // drawn in its own pixel column: within one column's time (200 s) of when it happened
    const at = (out[1] as number[]).indexOf(500);
    expect(Math.abs(out[0][at]! - (T0 + 4_321_000))).toBeLessThan(200_000);
  });

  it('keeps a gap wider than a column, and ignores nulls beside values within a column', () => {
    // series 1 has no values for 3000 s in the middle; series 2 misses every other value
    const data = series(10_000, 2, (s, i) => (s === 0 ? (i >= 4000 && i < 7000 ? null : 1) : i % 2 === 0 ? 2 : null));
    const out = decimateMinMax(data, T0, T0 + 9_999_000, 100);
    const gapColumns = out[0].filter((x, k) => x >= T0 + 4_100_000 && x < T0 + 6_900_000 && out[1]![k] === null);
    expect(gapColumns.length).toBeGreaterThanOrEqual(2 * 27);
    expect(out[1]!.filter((v) => v !== null).every((v) => v === 1)).toBe(true);
    expect(out[2]!.every((v) => v === 2)).toBe(true);
  });

  it('keeps the nearest value outside the window on each side, so lines reach the edges', () => {
    const data = series(10_000, 1, (_s, i) => i);
    const from = T0 + 1_000_500;
    const to = T0 + 8_999_500;
    const out = decimateMinMax(data, from, to, 100);
    expect(out[0][0]).toBe(T0 + 1_000_000);
    expect(out[1]![0]).toBe(1000);
    expect(out[0].at(-1)).toBe(T0 + 9_000_000);
    expect(out[1]!.at(-1)).toBe(9000);
    expect(out[0].slice(1, -1).every((x) => x >= from && x <= to)).toBe(true);
  });

  it('keeps times ascending, taken from the data, at most two per column, with the same extremes in the window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (n, count, columns, a, b, seed) => {
          // irregular times (up to 5 s apart), random values with nulls
          let r = seed;
          const next = () => {
            r = (r * 1103515245 + 12345) % 2147483648;
            return r / 2147483648;
          };
          const xs: number[] = [];
          let t = T0;
          for (let i = 0; i < n; i++) {
            t += 1 + Math.floor(next() * 5000);
            xs.push(t);
          }
          const ys = Array.from({ length: count }, () =>
            xs.map(() => (next() < 0.1 ? null : Math.round(next() * 2000) / 10 - 50)),
          );
          const data = [xs, ...ys] as unknown as AlignedData;
          const span = xs.at(-1)! - xs[0]!;
          const from = xs[0]! + Math.min(a, b) * span;
          const to = xs[0]! + Math.max(a, b) * span + 1;
          const out = decimateMinMax(data, from, to, columns);
          const inWindow = xs.filter((x) => x >= from && x <= to).length;
          if (inWindow <= 2 * columns) {
            expect(out).toBe(data);
            return;
          }
          expect(out[0].length).toBeLessThanOrEqual(2 * columns + 2);
          const known = new Set(xs);
          for (let k = 0; k < out[0].length; k++) {
            expect(known.has(out[0][k]!)).toBe(true);
            if (k > 0) expect(out[0][k]!).toBeGreaterThanOrEqual(out[0][k - 1]!);
          }
          for (let s = 1; s <= count; s++) {
            expect(out[s]).toHaveLength(out[0].length);
            expect(extremes(valuesIn(out, s, from, to))).toEqual(extremes(valuesIn(data, s, from, to)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
