// How big a sweep or a quality report is before it starts (runs, rows, tokens, and a time from the
// columns' measured decode speed), and the limits past which the page and the CLI refuse it, saying
// what to shrink. Value ranges are the playground's (src/lib/page/settings.ts): one source of truth.

import { QuantlabError } from '../errors';
import { NUMBER_SPECS } from '../page/settings';

/** The ranges of a sweep's values: the playground's sliders. */
export const SWEEP_RANGES = {
  temperature: NUMBER_SPECS.temperature,
  topK: NUMBER_SPECS.topK,
  topP: NUMBER_SPECS.topP,
  maxNewTokens: NUMBER_SPECS.maxNewTokens,
  repetitionPenalty: NUMBER_SPECS.repetitionPenalty,
} as const;

/** The limits every sweep and report is checked against before it starts. */
export const LIMITS = {
  /** Values in one list (temperatures, top-k, top-p, max new tokens). */
  listValues: 32,
  /** Characters in one field: a longer text is refused before it is read. */
  fieldChars: 1000,
  /** Rows a sweep keeps, (cell, seed) runs x precisions: the page holds, charts and saves every one. */
  rows: 20_000,
  /** New tokens a sweep generates over all precisions (greedy runs counted once). */
  tokens: 1_000_000,
  /** A sweep's or report's estimated time, when the columns' decode speed is known. */
  seconds: 2 * 3600,
  /** A report's window length: a window's logits (window x vocabulary floats) are held at once. */
  ctx: 2048,
  /** Tokens a report passes through the models: windows x window x precisions. */
  reportTokens: 2_000_000,
  /** Characters of a text to score (read by the tokenizer before anything is counted). */
  textChars: 2_000_000,
} as const;

/** A sweep grid's shape: its lists, and the seeds per cell as a count. */
export interface SweepShape {
  temperatures: readonly number[];
  topKs: readonly number[];
  topPs: readonly number[];
  maxNewTokens: readonly number[];
  seeds: number;
}

/** What a sweep will do. */
export interface SweepPlan {
  cells: number;
  seeds: number;
  /** (cell, seed) units: cells x seeds. */
  runs: number;
  precisions: number;
  /** Rows of the result: runs x precisions. */
  rows: number;
  /** Generations that really run: greedy units share one per max-new-tokens value. */
  generations: number;
  /** New tokens generated at most, over all precisions. */
  tokens: number;
  /** Estimated seconds at the columns' measured decode speed; undefined when a speed is unknown. */
  seconds?: number;
}

/** Sum of seconds of `tokensEach` tokens on every precision, or undefined if any speed is unknown. */
function secondsAt(tokensEach: number, speeds: readonly (number | undefined)[]): number | undefined {
  if (speeds.length === 0 || speeds.some((s) => !(s !== undefined && s > 0 && Number.isFinite(s)))) return undefined;
  return speeds.reduce<number>((t, s) => t + tokensEach / s!, 0);
}

/**
 * Sizes a sweep by formula (no list of cells is built, so any size is cheap to plan). A cell is
 * greedy when its temperature is 0 or its top-k is 1: all its seeds and top-p values give the same
 * tokens, and runSweep() generates it once per max-new-tokens value (see greedyKey in sweep.ts).
 * `speeds` are decode tokens/s of each precision (undefined where not measured).
 */
export function planSweep(s: SweepShape, precisions: number, speeds: readonly (number | undefined)[] = []): SweepPlan {
  const nT = s.temperatures.length;
  const nK = s.topKs.length;
  const tz = s.temperatures.includes(0) ? 1 : 0;
  const k1 = s.topKs.includes(1) ? 1 : 0;
  const greedyPairs = tz * nK + k1 * nT - tz * k1;
  const sampledPairs = nT * nK - greedyPairs;
  const cells = nT * nK * s.topPs.length * s.maxNewTokens.length;
  const runs = cells * s.seeds;
  const sumMax = s.maxNewTokens.reduce((a, b) => a + b, 0);
  const perMax = sampledPairs * s.topPs.length * s.seeds + (greedyPairs > 0 ? 1 : 0);
  const tokensEach = sumMax * perMax;
  const seconds = secondsAt(tokensEach, speeds.length === precisions ? speeds : []);
  return {
    cells,
    seeds: s.seeds,
    runs,
    precisions,
    rows: runs * precisions,
    generations: perMax * s.maxNewTokens.length * precisions,
    tokens: tokensEach * precisions,
    ...(seconds !== undefined ? { seconds } : {}),
  };
}

/** 1234567 -> "1,234,567". */
export const count = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));

/** A duration for people: "under a minute", "about 12 min", "about 3.5 h". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'an unknown time';
  if (seconds < 60) return 'under a minute';
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min`;
  if (seconds < 100 * 3600) return `about ${Number((seconds / 3600).toFixed(1))} h`;
  return `about ${count(seconds / 86400)} days`;
}

/** One line: "72 runs (18 cells x 4 seeds) x 4 precisions = 288 rows, at most 2,304 new tokens, about 1 min". */
export function describeSweep(p: SweepPlan): string {
  const time = p.seconds === undefined ? '' : `, ${duration(p.seconds)} at the columns' measured speed`;
  return (
    `${count(p.runs)} runs (${count(p.cells)} ${p.cells === 1 ? 'cell' : 'cells'} x ${count(p.seeds)} seeds) x ` +
    `${p.precisions} ${p.precisions === 1 ? 'precision' : 'precisions'} = ${count(p.rows)} rows, ` +
    `at most ${count(p.tokens)} new tokens${time}`
  );
}

/** Which part of the sweep to shrink, with the largest seed count that fits (0 when even one seed is too many). */
export interface SweepOverLimit {
  message: string;
  detail: string;
  /** Seeds per cell that would fit. */
  maxSeeds: number;
}

/** The largest seed count (>= 0) for which `fits(plan)` holds, by bisection over planSweep. */
function largestSeeds(s: SweepShape, fits: (seeds: number) => boolean): number {
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = Math.max(1, s.seeds);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Undefined when the plan is within LIMITS; otherwise what is over, by how much, and how to shrink it. */
export function sweepOverLimit(
  s: SweepShape,
  precisions: number,
  speeds: readonly (number | undefined)[] = [],
): SweepOverLimit | undefined {
  const plan = (seeds: number) => planSweep({ ...s, seeds }, precisions, speeds);
  const p = plan(s.seeds);
  const over: string[] = [];
  if (p.rows > LIMITS.rows) over.push(`over the limit of ${count(LIMITS.rows)} rows`);
  if (p.tokens > LIMITS.tokens) over.push(`over the limit of ${count(LIMITS.tokens)} new tokens`);
  if (p.seconds !== undefined && p.seconds > LIMITS.seconds)
    over.push(`longer than the limit of ${duration(LIMITS.seconds).replace('about ', '')}`);
  if (over.length === 0) return undefined;
  const fits = (seeds: number) => {
    const q = plan(seeds);
    return q.rows <= LIMITS.rows && q.tokens <= LIMITS.tokens && (q.seconds ?? 0) <= LIMITS.seconds;
  };
  const maxSeeds = largestSeeds(s, fits);
  const detail =
    maxSeeds > 0
      ? `Use at most ${count(maxSeeds)} Seeds per cell with this grid, or fewer values in the lists (or fewer precisions).`
      : `Even one seed per cell is too much: use fewer values in the lists, fewer max new tokens, or fewer precisions.`;
  return { message: `This sweep is too large: ${describeSweep(p)}, ${over.join(' and ')}.`, detail, maxSeeds };
}

/** Throws the refusal of sweepOverLimit() as a QuantlabError. */
export function checkSweepPlan(s: SweepShape, precisions: number, speeds: readonly (number | undefined)[] = []): void {
  const o = sweepOverLimit(s, precisions, speeds);
  if (o) throw new QuantlabError('bad-argument', o.message, o.detail);
}

/** What a quality report will do. */
export interface ReportPlan {
  windows: number;
  ctx: number;
  precisions: number;
  /** Tokens passed through the models: windows x ctx x precisions. */
  tokens: number;
  /** At most this long: teacher-forced windows run faster per token than decoding. */
  seconds?: number;
}

/** Sizes a report of `windows` windows of `ctx` tokens over the precisions (speeds: decode tokens/s). */
export function planReport(
  windows: number,
  ctx: number,
  precisions: number,
  speeds: readonly (number | undefined)[] = [],
): ReportPlan {
  const seconds = secondsAt(windows * ctx, speeds.length === precisions ? speeds : []);
  return {
    windows,
    ctx,
    precisions,
    tokens: windows * ctx * precisions,
    ...(seconds !== undefined ? { seconds } : {}),
  };
}

/** "6 windows of 128 tokens x 4 precisions = 3,072 tokens, at most about 1 min". */
export function describeReport(p: ReportPlan): string {
  const time = p.seconds === undefined ? '' : `, at most ${duration(p.seconds)} at the columns' measured speed`;
  return `${count(p.windows)} windows of ${count(p.ctx)} tokens x ${p.precisions} ${
    p.precisions === 1 ? 'precision' : 'precisions'
  } = ${count(p.tokens)} tokens${time}`;
}

/** Refuses a report over LIMITS.reportTokens (or over LIMITS.seconds when the speed is known). */
export function checkReportPlan(p: ReportPlan): void {
  const tooMany = p.tokens > LIMITS.reportTokens;
  const tooLong = p.seconds !== undefined && p.seconds > LIMITS.seconds;
  if (!tooMany && !tooLong) return;
  const perWindow = p.ctx * p.precisions;
  const byTokens = Math.floor(LIMITS.reportTokens / perWindow);
  const bySeconds = p.seconds ? Math.floor((p.windows * LIMITS.seconds) / p.seconds) : Infinity;
  const fit = Math.max(0, Math.min(byTokens, bySeconds));
  throw new QuantlabError(
    'bad-argument',
    `This report is too large: ${describeReport(p)}, ${
      tooMany
        ? `over the limit of ${count(LIMITS.reportTokens)} tokens`
        : `longer than the limit of ${duration(LIMITS.seconds).replace('about ', '')}`
    }.`,
    fit > 0
      ? `Score a shorter text (at most ${count(fit)} windows of ${count(p.ctx)} tokens, about ${count(fit * p.ctx)} tokens), or fewer precisions.`
      : 'Use a smaller window or fewer precisions.',
  );
}

/** A report's size before its text is tokenized: an upper bound, since a token is at least one byte of text. */
export interface ReportEstimate {
  /** Tokens through the models at most: (bytes + 1 for BOS) x precisions. */
  tokens: number;
  seconds?: number;
  /** Says what is over LIMITS when even the bound is; undefined when the bound fits. */
  over?: string;
}

/** The estimate shown beside the report's Run button, from the text's UTF-8 length. */
export function estimateReport(
  bytes: number,
  precisions: number,
  speeds: readonly (number | undefined)[] = [],
): ReportEstimate {
  const each = bytes + 1;
  const seconds = secondsAt(each, speeds.length === precisions ? speeds : []);
  const tokens = each * precisions;
  const over =
    tokens > LIMITS.reportTokens
      ? `over the limit of ${count(LIMITS.reportTokens)} tokens`
      : seconds !== undefined && seconds > LIMITS.seconds
        ? `longer than the limit of ${duration(LIMITS.seconds).replace('about ', '')}`
        : undefined;
  return { tokens, ...(seconds !== undefined ? { seconds } : {}), ...(over ? { over } : {}) };
}

/** "at most 1,837 tokens x 3 precisions = 5,511 tokens, at most under a minute at the columns' measured speed". */
export function describeReportEstimate(e: ReportEstimate, precisions: number): string {
  const time = e.seconds === undefined ? '' : `, at most ${duration(e.seconds)} at the columns' measured speed`;
  return `at most ${count(e.tokens / precisions)} tokens x ${precisions} ${precisions === 1 ? 'precision' : 'precisions'} = ${count(e.tokens)} tokens${time}`;
}
