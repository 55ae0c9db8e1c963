// The figures the summary chart and the column footers show, derived from each column's timings:
// pure, so the charts only ever draw numbers computed here.

import { median } from '../bench/stats';
import type { Timings } from '../runner/types';

export interface SummaryRow {
  label: string;
  decode: number;
  prefill: number;
  /** Model file size in MB, when known. */
  megabytes: number | null;
}

export interface SummaryInput {
  label: string;
  timings: Timings | null;
  bytes?: number;
}

/** One row per column that has finished a run. */
export function summaryRows(columns: readonly SummaryInput[]): SummaryRow[] {
  return columns
    .filter((c): c is SummaryInput & { timings: Timings } => c.timings !== null)
    .map((c) => ({
      label: c.label,
      decode: round(c.timings.decodeTokensPerS, 1),
      prefill: round(c.timings.prefillTokensPerS, 1),
      megabytes: c.bytes === undefined ? null : round(c.bytes / 1e6, 2),
    }));
}

/** Median of the per-token latencies (ms), or null without any. */
export function medianMs(values: readonly number[]): number | null {
  return values.length === 0 ? null : median(values);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
