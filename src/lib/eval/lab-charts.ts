// What the quality lab's charts draw, derived from results and nothing else: a metric against
// temperature per precision with its spread over seeds, a temperature x top-k grid, KLD per
// precision, model bytes against bits per byte across every model evaluated, and a report's bits
// per weight against mean KLD with its Pareto front.

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
export function kldBars(
  r: Pick<QualityReport, 'baseline' | 'results'>,
): { dtype: string; mean: number; se: number; p99: number }[] {
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
  /** How the variant was quantized (variantMethod); absent in points saved before it was recorded. */
  method?: string;
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

/** The methods a size-against-quality series groups by: how a variant chose its levels and scales. */
export const VARIANT_METHODS = ['float', 'rtn', 'hqq', 'gptq', 'awq', 'mixed'] as const;

const NAMED_METHODS = ['hqq', 'gptq', 'awq'];

/**
 * A variant's method: 'mixed' for a per-weight plan, the manifest's `method`, else the one its
 * file name or label carries (hqq, gptq, awq), else 'float' for fp32/fp16/bf16 (not quantized)
 * and 'rtn' (round-to-nearest) for every other quantized file.
 */
export function variantMethod(v: {
  stem?: string;
  label?: string;
  options?: Readonly<Record<string, unknown>>;
}): string {
  const o = v.options ?? {};
  const words = `${v.stem ?? ''} ${v.label ?? ''}`.toLowerCase().split(/[\s_]+/);
  if (Array.isArray(o.plan) || words.some((w) => /^mix/.test(w))) return 'mixed';
  if (typeof o.method === 'string' && o.method !== 'rtn') return o.method;
  const named = NAMED_METHODS.find((m) => words.includes(m));
  if (named) return named;
  const dtype = typeof o.dtype === 'string' ? o.dtype : undefined;
  const float = dtype
    ? ['fp16', 'bf16'].includes(dtype)
    : words.some((w) => ['model', 'fp32', 'fp16', 'bf16'].includes(w)) &&
      !words.some((w) => /^(q\d|int8|uint8|quantized|bnb4|q8)/.test(w));
  return float ? 'float' : 'rtn';
}

/** One series of the size-against-quality chart: a method's points, with the context when several. */
export interface SizeQualitySeries {
  label: string;
  method: string;
  points: SizeQualityPoint[];
}

/**
 * The chart's series: one per method (rtn, hqq, gptq, awq, mixed; fp32/fp16 as 'float'), each in
 * bytes order, so a mixed file sits beside the uniform variants of its size; when the points come
 * from more than one model, text or window, a series per method and context.
 */
export function sizeQualitySeries(points: readonly SizeQualityPoint[]): SizeQualitySeries[] {
  const ctxOf = (p: SizeQualityPoint) => `${p.model} · ${p.text} · ctx ${p.ctx}`;
  const several = new Set(points.map(ctxOf)).size > 1;
  const groups = new Map<string, SizeQualitySeries>();
  for (const p of points) {
    const method = p.method ?? variantMethod({ label: p.precision });
    const label = several ? `${method} · ${ctxOf(p)}` : method;
    const g = groups.get(label) ?? { label, method, points: [] };
    g.points.push(p);
    groups.set(label, g);
  }
  const rank = (m: string) => {
    const i = (VARIANT_METHODS as readonly string[]).indexOf(m);
    return i < 0 ? VARIANT_METHODS.length : i;
  };
  return [...groups.values()]
    .map((g) => ({ ...g, points: [...g.points].sort((a, b) => a.bytes - b.bytes) }))
    .sort((a, b) => rank(a.method) - rank(b.method) || a.label.localeCompare(b.label));
}

/** A tag of a text up to whitespace runs: equal for the texts `sameText` calls the same (calibration vs evaluation). */
export function sameTextTag(text: string): string {
  return textTag(text.replace(/\s+/g, ' ').trim());
}

/** A report's precision: its method and the calibration text it was made with (manifest), if any. */
export interface ReportVariant {
  method: string;
  calibration?: { name: string; tag: string };
  /** Bits per weight of its quantized tensors (manifest's bitsPerWeightQuantized, else its bits per weight). */
  bits?: number;
}

/** One calibration text a report's precisions were made with, and whether it is the evaluation text. */
export interface CalibrationUse {
  name: string;
  precisions: string[];
  /** Same text as the evaluation text (up to whitespace): its precisions are flattered. */
  same: boolean;
}

/** The calibration texts behind a report's precisions, in order of first use, each against the evaluation text's tag. */
export function calibrationUses(variants: Readonly<Record<string, ReportVariant>>, evalTag: string): CalibrationUse[] {
  const uses = new Map<string, CalibrationUse>();
  for (const [precision, v] of Object.entries(variants)) {
    if (!v.calibration) continue;
    const key = `${v.calibration.name}\n${v.calibration.tag}`;
    const u = uses.get(key) ?? { name: v.calibration.name, precisions: [], same: v.calibration.tag === evalTag };
    u.precisions.push(precision);
    uses.set(key, u);
  }
  return [...uses.values()];
}

/** One precision of a report on the bits-against-KLD chart. */
export interface BitsKldPoint {
  precision: string;
  method: string;
  bits: number;
  kld: number;
}

/**
 * A report's compared precisions (baseline, failed and incomparable ones left out) with their bits
 * per weight and mean KLD; a precision whose bits were not recorded (reports saved before) is left out.
 */
export function bitsKldPoints(
  r: Pick<QualityReport, 'baseline' | 'results'> & {
    variants?: Readonly<Record<string, ReportVariant>>;
  },
): BitsKldPoint[] {
  return kldBars(r).flatMap(({ dtype, mean }) => {
    const v = r.variants?.[dtype];
    const bits = v?.bits;
    if (typeof bits !== 'number' || !Number.isFinite(bits) || !Number.isFinite(mean)) return [];
    return [{ precision: dtype, method: v?.method ?? variantMethod({ label: dtype }), bits, kld: mean }];
  });
}

/**
 * The Pareto front of (cost x, loss y) points: each point no other beats, i.e. with the lowest y of
 * every point of at most its x (at equal x and y the first one given). In ascending x.
 */
export function paretoFront<T>(points: readonly T[], x: (p: T) => number, y: (p: T) => number): T[] {
  const order = points.map((p, i) => ({ p, i })).sort((a, b) => x(a.p) - x(b.p) || y(a.p) - y(b.p) || a.i - b.i);
  const front: T[] = [];
  let best = Infinity;
  for (const { p } of order) {
    if (y(p) < best) {
      front.push(p);
      best = y(p);
    }
  }
  return front;
}

/** The bits-against-KLD chart's series: one per method, in VARIANT_METHODS order, each in bits order. */
export function bitsKldSeries(points: readonly BitsKldPoint[]): { method: string; points: BitsKldPoint[] }[] {
  const rank = (m: string) => {
    const i = (VARIANT_METHODS as readonly string[]).indexOf(m);
    return i < 0 ? VARIANT_METHODS.length : i;
  };
  const methods = [...new Set(points.map((p) => p.method))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return methods.map((method) => ({
    method,
    points: points.filter((p) => p.method === method).sort((a, b) => a.bits - b.bits),
  }));
}
