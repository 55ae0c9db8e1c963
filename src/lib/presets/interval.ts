// The few statistics a guided experiment needs to turn its runs into a sentence with an interval:
// a least-squares slope, Student's t 95 % interval of a mean over seeds, and the normal 95 %
// interval of a difference of two independent estimates.

/** A mean (or any estimate) with its standard error and 95 % interval; `n` values behind it. */
export interface Estimate {
  n: number;
  mean: number;
  se: number;
  lo: number;
  hi: number;
}

// Two-sided 95 % quantiles of Student's t (t_{0.975, df}) for df 1..30, from the standard table.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const Z975 = 1.959964;

/** t_{0.975, df}: the table up to 30, then the Cornish-Fisher expansion (error under 1e-3). NaN for df < 1. */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  const d = Math.floor(df);
  if (d <= 30) return T975[d - 1];
  const z = Z975;
  return z + (z ** 3 + z) / (4 * d) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * d * d);
}

/** Least-squares slope of y on x over the pairs where both are finite; NaN with fewer than two distinct x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** Mean of the finite values with a t interval (df = n - 1); se and the bounds are NaN below two values. */
export function meanInterval(values: readonly number[]): Estimate {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { n, mean: NaN, se: NaN, lo: NaN, hi: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, se: NaN, lo: NaN, hi: NaN };
  const sd = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  const h = tQuantile975(n - 1) * se;
  return { n, mean, se, lo: mean - h, hi: mean + h };
}

/** An estimate with a normal 95 % interval from its standard error (NaN bounds when se is not positive). */
export function normalInterval(mean: number, se: number, n: number): Estimate {
  const ok = Number.isFinite(se) && se > 0;
  return { n, mean, se: ok ? se : NaN, lo: ok ? mean - Z975 * se : NaN, hi: ok ? mean + Z975 * se : NaN };
}

/**
 * a - b for two independent estimates: se = sqrt(se_a^2 + se_b^2). For two precisions scored on
 * the same positions the errors are positively correlated, so this interval is wider than a paired one.
 */
export function difference(a: Estimate, b: Estimate): Estimate {
  return normalInterval(a.mean - b.mean, Math.hypot(a.se, b.se), Math.min(a.n, b.n));
}

/** Whether an interval lies above zero, below it, or includes it (or is unknown). */
export function sign(e: Estimate): 'above' | 'below' | 'includes' {
  if (e.lo > 0) return 'above';
  if (e.hi < 0) return 'below';
  return 'includes';
}
