// bench:proxy's verdict on the limits targets (test/bench/ratio-verdict.ts): met or not met only
// when the whole 95% interval of the geometric mean is on one side of the target.
import { describe, expect, it } from 'vitest';
import { ratioVerdict, tQuantile975 } from '../bench/ratio-verdict.ts';

describe('ratioVerdict', () => {
  it('gives the geometric mean and a t interval over the logarithms', () => {
    // logs -0.1, 0, 0.1: mean 0, sd 0.1, half-width t(2) * 0.1 / sqrt(3)
    const v = ratioVerdict([Math.exp(-0.1), 1, Math.exp(0.1)], 0.5);
    expect(v.mean).toBeCloseTo(1, 12);
    const half = (4.303 * 0.1) / Math.sqrt(3);
    expect(v.low).toBeCloseTo(Math.exp(-half), 12);
    expect(v.high).toBeCloseTo(Math.exp(half), 12);
    expect(v.verdict).toBe('met');
  });

  it('calls a target met, not met or within the noise by where the whole interval lies', () => {
    const tight = [0.97, 0.975, 0.98, 0.972, 0.978, 0.969, 0.981, 0.974];
    expect(ratioVerdict(tight, 0.95).verdict).toBe('met');
    expect(ratioVerdict(tight, 0.99).verdict).toBe('not met');
    const straddling = [0.93, 0.97, 0.94, 0.96, 0.95, 0.955, 0.945, 0.965];
    const v = ratioVerdict(straddling, 0.95);
    expect(v.low).toBeLessThan(0.95);
    expect(v.high).toBeGreaterThan(0.95);
    expect(v.verdict).toBe('within the noise');
  });

  it('a median past the line is not enough when the pairs spread', () => {
    const wide = [0.96, 0.96, 0.96, 0.7, 1.2];
    expect(ratioVerdict(wide, 0.95).verdict).toBe('within the noise');
  });

  it('cannot tell from fewer than two ratios, and ignores ratios that are not positive numbers', () => {
    expect(ratioVerdict([], 0.95).verdict).toBe('within the noise');
    expect(ratioVerdict([0.99], 0.95)).toMatchObject({ mean: 0.99, verdict: 'within the noise' });
    expect(ratioVerdict([0.99, 0, Number.NaN, Number.POSITIVE_INFINITY], 0.95).verdict).toBe('within the noise');
  });

  it("uses Student's t, and its large-sample form past 30 degrees of freedom", () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(60)).toBeCloseTo(2.0, 2);
    expect(tQuantile975(120)).toBeCloseTo(1.98, 2);
  });
});
