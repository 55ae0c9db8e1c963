// Sweep and quality results as flat tables: the seeds of each cell folded into mean, std, min
// and max (what the charts draw as a line and a band), and the column lists of the CSV exports.

import { spread } from '../metrics/stats';
import { toCsv, type CsvOptions } from './export';
import type { PrecisionEntry, QualityReport } from './quality';
import { ROW_METRICS, type RowMetric, type SweepCell, type SweepRow } from './sweep';

/** One precision x cell over its seeds: for every metric m, m_mean, m_std (sample), m_min, m_max. */
export type SweepAggregate = SweepCell & {
  dtype: string;
  /** Seeds that ran without error. */
  seeds: number;
  /** Seeds that failed. */
  errors: number;
} & { [K in `${RowMetric}_${'mean' | 'std' | 'min' | 'max'}`]: number };

const cellKey = (r: SweepRow) => `${r.dtype}\u0000${r.temperature}/${r.top_k}/${r.top_p}/${r.max_new_tokens}`;

function aggregateGroup(g: readonly SweepRow[]): SweepAggregate {
  const ok = g.filter((r) => !r.error);
  const { dtype, temperature, top_k, top_p, max_new_tokens } = g[0];
  const a: Record<string, number | string> = {
    dtype,
    temperature,
    top_k,
    top_p,
    max_new_tokens,
    seeds: ok.length,
    errors: g.length - ok.length,
  };
  for (const m of ROW_METRICS) {
    const s = spread(ok.map((r) => r[m]));
    a[`${m}_mean`] = s.mean;
    a[`${m}_std`] = s.std;
    a[`${m}_min`] = s.min;
    a[`${m}_max`] = s.max;
  }
  return a as unknown as SweepAggregate;
}

/**
 * Folds rows over seeds as they arrive: add() files rows by precision x cell, and aggregates()
 * recomputes only the groups that got rows since, so a running sweep's page costs grow with the
 * new rows, not with all of them.
 */
export class SweepAggregator {
  #groups = new Map<string, SweepRow[]>();
  #aggs = new Map<string, SweepAggregate>();
  #dirty = new Set<string>();

  add(rows: readonly SweepRow[]): this {
    for (const r of rows) {
      const k = cellKey(r);
      const g = this.#groups.get(k);
      if (g) g.push(r);
      else this.#groups.set(k, [r]);
      this.#dirty.add(k);
    }
    return this;
  }

  /** In the order in which precision x cell first appeared. */
  aggregates(): SweepAggregate[] {
    for (const k of this.#dirty) this.#aggs.set(k, aggregateGroup(this.#groups.get(k)!));
    this.#dirty.clear();
    return [...this.#groups.keys()].map((k) => this.#aggs.get(k)!);
  }
}

/** Folds rows over seeds, keeping the order in which precision x cell first appear. NaN values are left out. */
export function aggregateSweep(rows: readonly SweepRow[]): SweepAggregate[] {
  return new SweepAggregator().add(rows).aggregates();
}

const CELL_COLUMNS = ['dtype', 'temperature', 'top_k', 'top_p', 'max_new_tokens'] as const;

/** Columns of the per-seed CSV. */
export const SWEEP_ROW_COLUMNS = [...CELL_COLUMNS, 'seed', ...ROW_METRICS, 'text', 'error'];

/** Columns of the aggregated CSV. */
export const SWEEP_AGGREGATE_COLUMNS = [
  ...CELL_COLUMNS,
  'seeds',
  'errors',
  ...ROW_METRICS.flatMap((m) => ['mean', 'std', 'min', 'max'].map((s) => `${m}_${s}`)),
];

/** Per-seed sweep rows as CSV (errors as their message). */
export function sweepRowsCsv(rows: readonly SweepRow[], opts?: CsvOptions): string {
  return toCsv(
    SWEEP_ROW_COLUMNS,
    rows.map((r) => ({ ...r, error: r.error?.message })),
    opts,
  );
}

/** Aggregated sweep rows as CSV. */
export function sweepAggregatesCsv(aggs: readonly SweepAggregate[], opts?: CsvOptions): string {
  return toCsv(SWEEP_AGGREGATE_COLUMNS, aggs as unknown as Record<string, number | string>[], opts);
}

/** Columns of the quality CSV, in the order of llama.cpp's report. */
export const QUALITY_COLUMNS = [
  'dtype',
  'comparable',
  'count',
  'bytes',
  'ppl',
  'ppl_se',
  'bits_per_byte',
  'ln_ppl',
  'ln_ppl_se',
  'ppl_base',
  'ppl_base_se',
  'ppl_ratio',
  'ppl_ratio_se',
  'ln_ppl_ratio',
  'ln_ppl_ratio_se',
  'ppl_diff',
  'ppl_diff_se',
  'ppl_cor',
  'kld_mean',
  'kld_se',
  'kld_max',
  'kld_p99_9',
  'kld_p99',
  'kld_p95',
  'kld_p90',
  'kld_median',
  'kld_p10',
  'kld_p5',
  'kld_p1',
  'kld_p0_1',
  'kld_min',
  'mean_dp',
  'mean_dp_se',
  'rms_dp',
  'rms_dp_se',
  'dp_max',
  'dp_p99',
  'dp_p95',
  'dp_median',
  'dp_p5',
  'dp_p1',
  'dp_min',
  'same_top_pct',
  'same_top_pct_se',
  'nll_sum',
  'error',
];

/** The quality report as CSV, one row per precision. */
export function qualityCsv(r: QualityReport, opts?: CsvOptions): string {
  const rows = Object.entries(r.results).map(([dtype, e]: [string, PrecisionEntry]) =>
    'error' in e ? { dtype, error: e.error.message } : { dtype, ...e },
  );
  return toCsv(QUALITY_COLUMNS, rows as Record<string, number | string | boolean>[], opts);
}
