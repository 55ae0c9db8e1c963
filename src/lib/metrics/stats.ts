// The summary statistics of llama.cpp's perplexity tool (tools/perplexity/perplexity.cpp,
// ggml-org/llama.cpp at 050fc7f), reproduced in float64 so QuantLab's numbers read the same
// way as the accepted `llama-perplexity --kl-divergence` report.

/** A mean and its standard error. */
export interface MeanSe {
  mean: number;
  /** Standard error of the mean; 0 when there are 10 values or fewer (llama.cpp's rule). */
  se: number;
}

/**
 * llama.cpp's `mean_and_uncertainty(sum, sum2, count)`: f = sum/n, var = sum2/n - f^2 (population
 * variance), se = sqrt(var / (n - 1)) (which equals s/sqrt(n) with s the sample deviation), and
 * se = 0 unless var > 0 and n > 10. (0, 0) for n < 1.
 */
export function meanAndUncertainty(sum: number, sum2: number, count: number): MeanSe {
  if (count < 1) return { mean: 0, se: 0 };
  const mean = sum / count;
  const v = sum2 / count - mean * mean;
  return { mean, se: v > 0 && count > 10 ? Math.sqrt(v / (count - 1)) : 0 };
}

/**
 * llama.cpp's `covariance(suma, sumb, sumab, count)`: the covariance of the two MEANS,
 * (sumab/n - (suma/n)(sumb/n)) / (n - 1); 0 when n < 10.
 */
export function covarianceOfMeans(suma: number, sumb: number, sumab: number, count: number): number {
  if (count < 10) return 0;
  return (sumab / count - (suma / count) * (sumb / count)) / (count - 1);
}

/**
 * llama.cpp's `percentile(sorted, fraction)`: linear interpolation between closest ranks,
 * p = fraction * (n - 1), value = (1 - frac(p)) * v[floor p] + frac(p) * v[floor p + 1]
 * (Hyndman and Fan type 7, numpy's default). fraction <= 0 gives the minimum, >= 1 the maximum.
 * `sorted` must be ascending and non-empty; the median is percentile(sorted, 0.5), which is the
 * mean of the two middle values for an even count, exactly as llama.cpp prints it.
 */
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (fraction <= 0) return sorted[0];
  if (fraction >= 1) return sorted[n - 1];
  const p = fraction * (n - 1);
  const ip = Math.floor(p);
  const t = p - ip;
  return (1 - t) * sorted[ip] + t * sorted[Math.min(ip + 1, n - 1)];
}

/** Mean, sample standard deviation (n - 1; 0 for one value), min and max of finite values. */
export interface Spread {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** Summarises the finite values of `xs` (NaN entries are skipped; all NaN gives n = 0 and NaNs). */
export function spread(xs: readonly number[]): Spread {
  const v = xs.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { n, mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  return { n, mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min: Math.min(...v), max: Math.max(...v) };
}

/** Growable Float64Array, so a long text's per-position values do not live in a JS number[]. */
export class Float64List {
  #data = new Float64Array(1024);
  #n = 0;
  get length(): number {
    return this.#n;
  }
  push(x: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = x;
  }
  /** A sorted (ascending) copy. */
  sorted(): Float64Array {
    return this.#data.slice(0, this.#n).sort();
  }
  values(): Float64Array {
    return this.#data.slice(0, this.#n);
  }
}
