// Whether a bench's ratios meet their target, or cannot tell. On this kind of machine a run's
// ratios spread by several percent, so a median on the right side of a line says little: the
// verdict is read from the 95% interval of the ratios' geometric mean (Student's t over their
// logarithms), and is "met" or "not met" only when the whole interval is on one side.

export interface RatioVerdict {
  /** The geometric mean of the ratios. */
  mean: number;
  /** Its 95% interval; [0, Infinity] with fewer than two ratios. */
  low: number;
  high: number;
  verdict: 'met' | 'not met' | 'within the noise';
}

/** Student's t at 97.5% for 1 to 30 degrees of freedom (a two-sided 95% interval). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t at 97.5% for df degrees of freedom (df >= 1); past 30, 1.96 + 2.4 / df is within 0.002 of it. */
export function tQuantile975(df: number): number {
  return df <= T975.length ? (T975[df - 1] as number) : 1.96 + 2.4 / df;
}

/** ratios: positive (each a limits-on over limits-off measure); target: the least ratio that meets it. */
export function ratioVerdict(ratios: readonly number[], target: number): RatioVerdict {
  const logs = ratios.filter((r) => r > 0 && Number.isFinite(r)).map(Math.log);
  const n = logs.length;
  if (n === 0) return { mean: Number.NaN, low: 0, high: Number.POSITIVE_INFINITY, verdict: 'within the noise' };
  const meanLog = logs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean: Math.exp(meanLog), low: 0, high: Number.POSITIVE_INFINITY, verdict: 'within the noise' };
  const variance = logs.reduce((a, b) => a + (b - meanLog) ** 2, 0) / (n - 1);
  const half = tQuantile975(n - 1) * Math.sqrt(variance / n);
  const low = Math.exp(meanLog - half);
  const high = Math.exp(meanLog + half);
  const verdict = low >= target ? 'met' : high < target ? 'not met' : 'within the noise';
  return { mean: Math.exp(meanLog), low, high, verdict };
}
