// Summaries of repeated timings: the median (the figure a benchmark reports) and the spread
// (smallest and largest run), so a reader sees how much the machine's load moved the numbers.

/** The middle value; the mean of the two middle values for an even count. Throws on no values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Smallest and largest value. Throws on no values. */
export function minMax(xs: readonly number[]): { min: number; max: number } {
  if (xs.length === 0) throw new Error('minMax of no values');
  return { min: Math.min(...xs), max: Math.max(...xs) };
}
