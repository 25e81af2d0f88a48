import { describe, expect, it } from 'vitest';
import { expectedKwh, fitEnergyBaseline } from '../../gateway/core/index.js';

describe('energy baseline (ISO 50006: E = c + m·units)', () => {
  it('recovers an exact line', () => {
    const points = [0, 60, 120, 300, 420].map((units) => ({ units, kwh: 12 + 0.05 * units }));
    const b = fitEnergyBaseline(points)!;
    expect(b.intercept).toBeCloseTo(12, 10);
    expect(b.slope).toBeCloseTo(0.05, 12);
    expect(b.r2).toBeCloseTo(1, 12);
    expect(b.n).toBe(5);
    expect(expectedKwh(b, 8, 1000)).toBeCloseTo(8 * 12 + 50, 9);
  });

  it('fits noisy data by least squares (checked against the normal equations by hand)', () => {
    // x: 1, 2, 3, 4; y: 2, 3, 5, 4 → slope 0.8, intercept 1.5, r² 0.64
    const b = fitEnergyBaseline([
      { units: 1, kwh: 2 },
      { units: 2, kwh: 3 },
      { units: 3, kwh: 5 },
      { units: 4, kwh: 4 },
    ])!;
    expect(b.slope).toBeCloseTo(0.8, 12);
    expect(b.intercept).toBeCloseTo(1.5, 12);
    expect(b.r2).toBeCloseTo(0.64, 12);
  });

  it('refuses to fit too few points, no spread in production, or non-finite values', () => {
    expect(
      fitEnergyBaseline([
        { units: 1, kwh: 2 },
        { units: 2, kwh: 3 },
      ]),
    ).toBeNull();
    expect(fitEnergyBaseline([1, 2, 3].map((kwh) => ({ units: 50, kwh })))).toBeNull();
    const withNaN = [
      { units: Number.NaN, kwh: 1 },
      { units: 1, kwh: 2 },
      { units: 2, kwh: Number.POSITIVE_INFINITY },
      { units: 3, kwh: 4 },
    ];
    expect(fitEnergyBaseline(withNaN)).toBeNull();
  });

  it('gives r² null when the energy does not vary at all', () => {
    const b = fitEnergyBaseline([0, 10, 20].map((units) => ({ units, kwh: 7 })))!;
    expect(b.slope).toBe(0);
    expect(b.intercept).toBe(7);
    expect(b.r2).toBeNull();
  });
});
