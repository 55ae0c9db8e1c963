// Summaries of repeated timings: the median (the figure a benchmark reports) and the spread
// (smallest and largest run), so a reader sees how much the machine's load moved the numbers.

/** The middle value; the mean of the two middle values for an even count. Throws on no values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  return sortedMedian(Float64Array.from(xs).sort());
}

/** Smallest and largest value. Throws on no values. */
export function minMax(xs: readonly number[]): { min: number; max: number } {
  if (xs.length === 0) throw new Error('minMax of no values');
  return { min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * The `p`-quantile (0..1) by linear interpolation between the sorted values (R's type 7, numpy's
 * default): position p * (n - 1). Throws on no values.
 */
export function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) throw new Error('quantile of no values');
  return sortedQuantile(Float64Array.from(xs).sort(), p);
}

/** First and third quartile and their distance (the interquartile range). */
export function quartiles(xs: readonly number[]): { q1: number; q3: number; iqr: number } {
  const q1 = quantile(xs, 0.25);
  const q3 = quantile(xs, 0.75);
  return { q1, q3, iqr: q3 - q1 };
}

export interface RatioInterval {
  /** The median over pairs of a[i] / b[i], as measured. */
  ratio: number;
  /** Bounds of the central `level` share of the bootstrap ratios. */
  low: number;
  high: number;
  level: number;
  resamples: number;
}

/**
 * The ratio of paired runs and its percentile bootstrap confidence interval: a[i] and b[i] ran back
 * to back, so the ratio is the median of the pairs' own ratios a[i] / b[i] (a change in the
 * machine's speed between pairs divides out; in median(a) / median(b) it does not), and each
 * resample draws whole pairs with replacement. With `groups` (a group id per pair, e.g. the load
 * of both sides it ran in) and more than one group, a resample draws groups with replacement and
 * then pairs within each, so a difference between groups widens the interval. Seeded (`rng` gives
 * uniform [0, 1)), so a report is repeatable.
 */
export function bootstrapPairedRatio(
  a: readonly number[],
  b: readonly number[],
  rng: () => number,
  resamples = 2000,
  level = 0.95,
  groups?: readonly number[],
): RatioInterval {
  if (a.length === 0 || a.length !== b.length) throw new Error('bootstrap needs pairs: two runs of the same length');
  if (groups && groups.length !== a.length) throw new Error('bootstrap groups: one per pair');
  const n = a.length;
  const pairs = Float64Array.from(a, (x, i) => x / b[i]);
  // The pairs of each group (a load of both sides), in order of first appearance.
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = groups ? groups[i] : 0;
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  }
  const blocks = [...members.values()];
  const pick = (m: number) => Math.min(m - 1, Math.floor(rng() * m));
  const ratios = new Float64Array(resamples);
  const draw: number[] = [];
  for (let k = 0; k < resamples; k++) {
    draw.length = 0;
    if (blocks.length === 1) for (let i = 0; i < n; i++) draw.push(pairs[pick(n)]);
    else {
      // Two levels: the groups with replacement, then each drawn group's pairs with replacement.
      for (let j = 0; j < blocks.length; j++) {
        const block = blocks[pick(blocks.length)];
        for (let i = 0; i < block.length; i++) draw.push(pairs[block[pick(block.length)]]);
      }
    }
    ratios[k] = sortedMedian(Float64Array.from(draw).sort());
  }
  ratios.sort();
  const tail = (1 - level) / 2;
  return {
    ratio: sortedMedian(Float64Array.from(pairs).sort()),
    low: sortedQuantile(ratios, tail),
    high: sortedQuantile(ratios, 1 - tail),
    level,
    resamples,
  };
}

/** median() of values already sorted ascending. */
function sortedMedian(s: Float64Array): number {
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** quantile() of values already sorted ascending. */
function sortedQuantile(s: Float64Array, p: number): number {
  const at = Math.min(1, Math.max(0, p)) * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

/**
 * Runs needed for an interval now `halfWidth` wide (relative) after `runs` runs to narrow to
 * `target`: a bootstrap interval of a median narrows about as 1 / sqrt(runs).
 */
export function runsFor(halfWidth: number, runs: number, target: number): number {
  if (!(halfWidth > target)) return runs;
  // Less a hair, so a rounding error in the widths (0.1 as 0.10000000000000009) adds no run.
  return Math.ceil(runs * (halfWidth / target) ** 2 - 1e-9);
}
