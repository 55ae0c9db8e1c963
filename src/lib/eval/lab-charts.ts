// What the quality lab's charts draw, derived from results and nothing else: a metric against
// temperature per precision with its spread over seeds, a temperature x top-k grid, KLD per
// precision, and model bytes against bits per byte across every model evaluated.

import type { PrecisionEntry, QualityReport } from './quality';
import type { RowMetric } from './sweep';
import type { SweepAggregate } from './tables';

/** One precision's line: means and the band (min and max over seeds), null where no value. */
export interface Series {
  dtype: string;
  mean: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
}

const num = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const sortedUnique = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/** The sweep's distinct values of each grid axis, ascending (top-k 0 = off last). */
export function gridAxes(aggs: readonly SweepAggregate[]) {
  const topKs = sortedUnique(aggs.map((a) => a.top_k));
  return {
    temperatures: sortedUnique(aggs.map((a) => a.temperature)),
    topKs: [...topKs.filter((k) => k > 0), ...topKs.filter((k) => k === 0)],
    topPs: sortedUnique(aggs.map((a) => a.top_p)),
    maxNewTokens: sortedUnique(aggs.map((a) => a.max_new_tokens)),
    dtypes: [...new Set(aggs.map((a) => a.dtype))],
  };
}

/** The other axes held fixed while one or two vary. */
export interface Slice {
  topK?: number;
  topP: number;
  maxNewTokens: number;
}

const inSlice = (a: SweepAggregate, s: Slice) =>
  (s.topK === undefined || a.top_k === s.topK) && a.top_p === s.topP && a.max_new_tokens === s.maxNewTokens;

/** `metric` against temperature, one series per precision, at one top-k / top-p / length. */
export function temperatureSeries(
  aggs: readonly SweepAggregate[],
  metric: RowMetric,
  slice: Slice & { topK: number },
): { temperatures: number[]; series: Series[] } {
  const { temperatures, dtypes } = gridAxes(aggs);
  const series = dtypes.map((dtype) => {
    const at = temperatures.map((t) => aggs.find((a) => a.dtype === dtype && a.temperature === t && inSlice(a, slice)));
    return {
      dtype,
      mean: at.map((a) => num(a?.[`${metric}_mean`])),
      lo: at.map((a) => num(a?.[`${metric}_min`])),
      hi: at.map((a) => num(a?.[`${metric}_max`])),
    };
  });
  return { temperatures, series };
}

/** Mean of `metric` for one precision on the temperature x top-k grid: values[temperature][top-k]. */
export function heatmapGrid(
  aggs: readonly SweepAggregate[],
  dtype: string,
  metric: RowMetric,
  slice: Slice,
): { temperatures: number[]; topKs: number[]; values: (number | null)[][] } {
  const { temperatures, topKs } = gridAxes(aggs);
  const values = temperatures.map((t) =>
    topKs.map((k) =>
      num(
        aggs.find((a) => a.dtype === dtype && a.temperature === t && inSlice(a, { ...slice, topK: k }))?.[
          `${metric}_mean`
        ],
      ),
    ),
  );
  return { temperatures, topKs, values };
}

/** Mean KLD (with its standard error) and 99th percentile of every compared precision, baseline left out. */
export function kldBars(r: QualityReport): { dtype: string; mean: number; se: number; p99: number }[] {
  return Object.entries(r.results)
    .filter(
      (e): e is [string, Exclude<PrecisionEntry, { error: unknown }>] =>
        !('error' in e[1]) && e[1].comparable && e[0] !== r.baseline,
    )
    .map(([dtype, e]) => ({ dtype, mean: e.kld_mean, se: e.kld_se, p99: e.kld_p99 }));
}

/** One model x precision measured in this browser: its file size and its bits per byte of text. */
export interface SizeQualityPoint {
  /** Catalog key of the model (refKey). */
  modelKey: string;
  model: string;
  precision: string;
  bytes: number;
  bits_per_byte: number;
  ppl: number;
  /** Text the figure was measured on ("sample" or a hash of the pasted text) and the window. */
  text: string;
  ctx: number;
  at: string;
}

/** Adds or replaces points (same model, precision, text and window: the newest wins). */
export function mergePoints(old: readonly SizeQualityPoint[], add: readonly SizeQualityPoint[]): SizeQualityPoint[] {
  const key = (p: SizeQualityPoint) => JSON.stringify([p.modelKey, p.precision, p.text, p.ctx]);
  const map = new Map(old.map((p) => [key(p), p]));
  for (const p of add) if (Number.isFinite(p.bytes) && Number.isFinite(p.bits_per_byte)) map.set(key(p), p);
  return [...map.values()];
}

/** A short stable name for a text (FNV-1a 32-bit of its UTF-16 units), to tell measurements apart. */
export function textTag(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `text-${h.toString(16).padStart(8, '0')} (${text.length} chars)`;
}
