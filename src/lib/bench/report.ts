// The benchmark's figures: one row per precision and runtime (medians and spread of the measured
// runs, the floor's figures beside them, their ratio), the concurrency summary, and the table the
// CLI prints. JSON field names are snake_case with the unit in the name (decode_tokens_per_s, load_ms, ...).

import type { BenchCase, ConcurrencyRound, Measurement, Settle } from './measure';
import type { FirstTokenResult } from './first-token';
import { FIRST_TOKEN_STAGES } from '../page/first-token';
import { createRng } from '../sampling/rng';
import type { GpuAdapterInfo } from './webgpu';
import type { FormsReport } from './forms';
import type { ArrayBufferChurn } from './churn';
import { bootstrapPairedRatio, median, minMax, quartiles, runsFor } from './stats';

export type BenchRuntime = 'node' | 'browser-wasm' | 'browser-webgpu';
export const BENCH_RUNTIMES: readonly BenchRuntime[] = ['node', 'browser-wasm', 'browser-webgpu'];

export interface BenchRow {
  dtype: string;
  runtime: BenchRuntime;
  /** Measured runs of each side (the warm-up left out): --runs, or more under --min-time. */
  runs: number;
  /** Runner: tokenizer and session load. */
  load_ms: number;
  /** Runner, medians over the measured runs. */
  ttft_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  decode_min: number;
  decode_max: number;
  /** Floor (raw ONNX Runtime loop on the same file), medians. */
  floor_decode_tokens_per_s: number;
  floor_ttft_ms: number;
  floor_prefill_tokens_per_s: number;
  floor_decode_min: number;
  floor_decode_max: number;
  floor_load_ms: number;
  /** Interquartile range of the runner's and the floor's decode tokens/s. */
  decode_iqr: number;
  floor_decode_iqr: number;
  /**
   * Runner decode tokens/s over the floor's, as a median over the rounds of each round's own ratio
   * (its runner run over its floor run, back to back): a change in the machine's speed from one
   * round to the next divides out.
   */
  ratio: number;
  /** decode_tokens_per_s / floor_decode_tokens_per_s: the ratio of the two sides' medians. */
  ratio_of_medians: number;
  /**
   * 95 % bootstrap confidence interval of the ratio (resampling whole rounds, seeded; over several
   * loads, the loads and then the rounds within each); null under RATIO_CI_MIN_RUNS runs, where
   * resampling a handful of values says nothing.
   */
  ratio_ci_low: number | null;
  ratio_ci_high: number | null;
  /** Fresh loads of both sides the rounds were shared over (--loads). */
  loads: number;
  /** Each load's own ratio (median of its rounds' ratios), in load order. */
  load_ratios: number[];
  /**
   * Median over runs of each run's median decode step (ms per token after the first): the cost
   * of a token with pauses left out. null when the runs carry no step times.
   */
  step_ms: number | null;
  floor_step_ms: number | null;
  /**
   * Median over runs of each run's longest decode step: one pause in a run (a garbage collection,
   * a thread off its core) shows here and in decode tokens/s, not in step_ms.
   */
  longest_step_ms: number | null;
  floor_longest_step_ms: number | null;
  /**
   * The speed ratio of a token with pauses left out (1 = the runner's steps as quick as the
   * floor's): the median over rounds of the floor run's median step over the runner run's, and its
   * 95 % bootstrap interval over the rounds: where `ratio` is low and this is not, the runner loses its time to pauses (a collection,
   * a thread off its core), not to its per-token work. null without step times or with too few runs.
   */
  step_ratio: number | null;
  step_ratio_ci_low: number | null;
  step_ratio_ci_high: number | null;
  /** Peak memory while the runner alone was loaded and generated (before the floor's session existed). */
  /**
   * How each side's decode steps kept the KV cache over its runs: 'host' (only new_key_values.*
   * fetched, the cache in the loop's buffers), 'present' (present.* fed back), 'mixed', or null
   * when the runs did not say.
   */
  kv_path: KvPathFigure;
  floor_kv_path: KvPathFigure;
  peak_memory_bytes: number;
  /** Peak memory over the whole measurement, runner and floor sessions both loaded. */
  peak_memory_with_floor_bytes: number;
  /** Fewest new tokens of a measured run (less than asked when the model ended the text). */
  generated_tokens: number;
  /** Whether the floor's greedy ids equalled the runner's in every measured run. */
  same_ids: boolean;
  /**
   * Each measured run's decode tokens/s in the order they ran, the runner's and the floor's:
   * decode_runs[i] and floor_decode_runs[i] ran back to back (ABBA), so a reader can look for
   * drift, pauses or pairs without re-running.
   */
  decode_runs: number[];
  floor_decode_runs: number[];
  /** browser-webgpu: the adapter's description (src/lib/bench/webgpu.ts describeAdapter). */
  adapter?: string;
  /** browser-webgpu on a software adapter: the figures show that it runs and agrees, not GPU speed. */
  correctness_only?: boolean;
  /** With --bandwidth: weight bytes one decode step reads (src/lib/bench/bandwidth.ts). */
  bytes_per_token?: number;
  /** With --bandwidth: decode_tokens_per_s x bytes_per_token / bandwidth (1 = the memory-bandwidth ceiling). */
  bandwidth_ceiling_ratio?: number;
}

/** The bootstrap behind ratio_ci_*: resamples and seed (fixed, so the same runs give the same interval). */
export const RATIO_CI_RESAMPLES = 2000;
const RATIO_CI_SEED = 17;
/** Fewest runs a ratio interval is computed from. */
export const RATIO_CI_MIN_RUNS = 5;
/** An interval wider than this either side of the ratio gets a warning (relative half-width). */
export const RATIO_CI_TARGET = 0.05;

/**
 * The paired ratio of a[i] over b[i] (bootstrapPairedRatio) and, from RATIO_CI_MIN_RUNS pairs on,
 * its interval (`interval` false: fewer pairs, low and high mean nothing).
 */
function pairedRatio(
  a: readonly number[],
  b: readonly number[],
  loads?: readonly number[],
): { ratio: number; low: number; high: number; interval: boolean } {
  const interval = a.length >= RATIO_CI_MIN_RUNS;
  const r = bootstrapPairedRatio(a, b, createRng(RATIO_CI_SEED), interval ? RATIO_CI_RESAMPLES : 1, 0.95, loads);
  return { ratio: r.ratio, low: r.low, high: r.high, interval };
}

/**
 * Whether paired runs (a[i] over b[i], as the row's `ratio`) already pin the ratio down: its
 * interval (over `loads` too, when given) is within ±RATIO_CI_TARGET. The benchmark's stopping rule
 * under --max-time.
 */
export function ratioSettled(a: readonly number[], b: readonly number[], loads?: readonly number[]): boolean {
  const r = pairedRatio(a, b, loads);
  if (!r.interval) return false;
  return ratioHalfWidth({ ratio: r.ratio, ratio_ci_low: r.low, ratio_ci_high: r.high })! <= RATIO_CI_TARGET;
}

/** The stopping rule of a case with --max-time: until its decode ratio is settled (ratioSettled). */
export function settleOf(c: Pick<BenchCase, 'maxMs'>): Settle | undefined {
  if (!c.maxMs) return undefined;
  return {
    maxMs: c.maxMs,
    settled: (runner, floor, loads) =>
      ratioSettled(
        runner.map((r) => r.decodeTokensPerS),
        floor.map((f) => f.decodeTokensPerS),
        loads,
      ),
  };
}

/**
 * Relative half-width of a row's ratio interval: the larger distance of a bound from the ratio,
 * over the ratio; null when the row has no interval.
 */
export function ratioHalfWidth(r: Pick<BenchRow, 'ratio' | 'ratio_ci_low' | 'ratio_ci_high'>): number | null {
  if (r.ratio_ci_low === null || r.ratio_ci_high === null) return null;
  return Math.max(r.ratio - r.ratio_ci_low, r.ratio_ci_high - r.ratio) / r.ratio;
}

/**
 * A warning for each row whose ratio interval is wider than ±RATIO_CI_TARGET (with about how many
 * runs would narrow it), or that has too few runs for one.
 */
export function ratioWarnings(rows: readonly BenchRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const h = ratioHalfWidth(r);
    if (h === null) {
      out.push(
        `${r.dtype} ${r.runtime}: ${r.runs} run(s), too few for a confidence interval of the ratio (${RATIO_CI_MIN_RUNS} or more: raise --runs or --min-time)`,
      );
    } else if (h > RATIO_CI_TARGET) {
      const interval = `${r.dtype} ${r.runtime}: the ratio's 95 % interval ${r.ratio_ci_low!.toFixed(3)}-${r.ratio_ci_high!.toFixed(3)} is ±${(100 * h).toFixed(1)} %, wider than ±${100 * RATIO_CI_TARGET} %; `;
      const spread = r.load_ratios.length > 1 ? minMax(r.load_ratios) : undefined;
      out.push(
        spread
          ? // Over loads the interval narrows with more loads, not with more rounds in them.
            interval +
              `its ${r.loads} loads gave ${spread.min.toFixed(3)}-${spread.max.toFixed(3)}; about ${runsFor(h, r.loads, RATIO_CI_TARGET)} loads would narrow it (raise --loads)`
          : interval +
              `about ${runsFor(h, r.runs, RATIO_CI_TARGET)} runs (now ${r.runs}) would narrow it (raise --max-time, --min-time or --runs)`,
      );
    }
  }
  return out;
}

/** What the figures were measured on. */
export interface BenchMachine {
  /** Node's view: logical cores, CPU model, OS, Node and onnxruntime-node versions. */
  cores: number;
  cpu_model: string;
  platform: string;
  node_version: string;
  onnxruntime_node_version?: string;
  /** What short-lived ArrayBuffers cost in Node here (src/lib/bench/churn.ts). */
  array_buffer_churn?: ArrayBufferChurn;
  /** browser-wasm: the page's view. */
  browser?: {
    hardware_concurrency: number;
    user_agent: string;
    onnxruntime_web_version: string;
    cross_origin_isolated: boolean;
    /** WASM threads of a column (and of the floor) alone. */
    threads: number;
    /** ONNX Runtime's session.intra_op.allow_spinning as the columns and the floor ran. */
    spinning: boolean;
    /** What short-lived ArrayBuffers cost in a worker of this page (the floor's). */
    array_buffer_churn?: ArrayBufferChurn;
  };
}

export interface Peaks {
  runnerBytes: number;
  allBytes: number;
}

export type KvPathFigure = 'host' | 'present' | 'mixed' | null;

/** The runs' one KV path, 'mixed' when they differ, null when any run did not say. */
function kvPathOf(runs: readonly { kvPath?: 'host' | 'present' }[]): KvPathFigure {
  const paths = new Set(runs.map((r) => r.kvPath ?? null));
  if (paths.has(null) || paths.size === 0) return null;
  return paths.size === 1 ? [...paths][0] : 'mixed';
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * One side's median step and median longest step over its runs, and each run's median step (null
 * unless every run has step times).
 */
function stepFigures(runs: readonly { stepMs?: number[] }[]): {
  step: number | null;
  longest: number | null;
  perRun: number[] | null;
} {
  const steps = runs.map((r) => r.stepMs ?? []);
  if (steps.length === 0 || steps.some((s) => s.length === 0)) return { step: null, longest: null, perRun: null };
  const perRun = steps.map((s) => median(s));
  return { step: median(perRun), longest: median(steps.map((s) => Math.max(...s))), perRun };
}

/** The median round ratio of each load, in load order (one value when `loads` is absent). */
function loadRatios(a: readonly number[], b: readonly number[], loads?: readonly number[]): number[] {
  const by = new Map<number, number[]>();
  a.forEach((x, i) => {
    const g = loads?.[i] ?? 0;
    by.set(g, [...(by.get(g) ?? []), x / b[i]]);
  });
  return [...by.values()].map((rs) => median(rs));
}

export function benchRow(dtype: string, runtime: BenchRuntime, m: Measurement, peaks: Peaks): BenchRow {
  const decode = m.runner.map((r) => r.decodeTokensPerS);
  const floorDecode = m.floor.map((f) => f.decodeTokensPerS);
  const d = minMax(decode);
  const fd = minMax(floorDecode);
  const steps = stepFigures(m.runner);
  const floorSteps = stepFigures(m.floor);
  const loadCount = new Set(m.loads ?? [0]).size;
  const ci = pairedRatio(decode, floorDecode, m.loads);
  // Steps are times: the floor's over the runner's is a speed ratio like `ratio`.
  const stepCi = steps.perRun && floorSteps.perRun ? pairedRatio(floorSteps.perRun, steps.perRun, m.loads) : null;
  return {
    dtype,
    runtime,
    runs: m.runner.length,
    load_ms: m.loadMs,
    ttft_ms: median(m.runner.map((r) => r.ttftMs)),
    prefill_tokens_per_s: median(m.runner.map((r) => r.prefillTokensPerS)),
    decode_tokens_per_s: median(decode),
    decode_min: d.min,
    decode_max: d.max,
    floor_decode_tokens_per_s: median(floorDecode),
    floor_ttft_ms: median(m.floor.map((f) => f.ttftMs)),
    floor_prefill_tokens_per_s: median(m.floor.map((f) => f.prefillTokensPerS)),
    floor_decode_min: fd.min,
    floor_decode_max: fd.max,
    floor_load_ms: m.floorLoadMs,
    decode_iqr: quartiles(decode).iqr,
    floor_decode_iqr: quartiles(floorDecode).iqr,
    ratio: ci.ratio,
    ratio_of_medians: median(decode) / median(floorDecode),
    ratio_ci_low: ci.interval ? ci.low : null,
    ratio_ci_high: ci.interval ? ci.high : null,
    loads: loadCount,
    load_ratios: loadRatios(decode, floorDecode, m.loads),
    step_ms: steps.step,
    floor_step_ms: floorSteps.step,
    longest_step_ms: steps.longest,
    floor_longest_step_ms: floorSteps.longest,
    step_ratio: stepCi?.ratio ?? null,
    step_ratio_ci_low: stepCi?.interval ? stepCi.low : null,
    step_ratio_ci_high: stepCi?.interval ? stepCi.high : null,
    kv_path: kvPathOf(m.runner),
    floor_kv_path: kvPathOf(m.floor),
    peak_memory_bytes: peaks.runnerBytes,
    peak_memory_with_floor_bytes: peaks.allBytes,
    generated_tokens: Math.min(...m.runner.map((r) => r.ids.length)),
    same_ids: m.runner.every((r, i) => same(r.ids, m.floor[i].ids)),
    decode_runs: decode,
    floor_decode_runs: floorDecode,
  };
}

export interface ConcurrencyResult {
  runtime: BenchRuntime;
  /** The precisions of the columns, one column each. */
  columns: string[];
  runs: number;
  /** One column at a time (the columns one after another): their new tokens over their summed wall time, median over runs. */
  single_tokens_per_s: number;
  /** All columns at once: their new tokens over the wall time from the first start to the last end, median over runs. */
  aggregate_tokens_per_s: number;
  /** aggregate / single: above 1 when running together uses the machine better. */
  ratio: number;
  /** The same figure under the name the speed issue asks for (`concurrency.<runtime>.aggregate_ratio`). */
  aggregate_ratio: number;
  per_column: { dtype: string; alone_tokens_per_s: number; concurrent_tokens_per_s: number }[];
  /** browser-wasm: WASM threads of a column alone, and of each column generating together (the playground's share). */
  threads_alone?: number;
  threads_together?: number;
}

export function concurrencyResult(runtime: BenchRuntime, rounds: ConcurrencyRound[]): ConcurrencyResult {
  if (rounds.length === 0) throw new Error('no concurrency rounds');
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const single = rounds.map((r) => (1000 * sum(r.alone.map((a) => a.tokens))) / sum(r.alone.map((a) => a.ms)));
  const aggregate = rounds.map((r) => {
    const wall = Math.max(...r.together.map((t) => t.endMs)) - Math.min(...r.together.map((t) => t.startMs));
    return (1000 * sum(r.together.map((t) => t.tokens))) / wall;
  });
  const columns = rounds[0].alone.map((a) => a.dtype);
  return {
    runtime,
    columns,
    runs: rounds.length,
    single_tokens_per_s: median(single),
    aggregate_tokens_per_s: median(aggregate),
    ratio: median(aggregate) / median(single),
    aggregate_ratio: median(aggregate) / median(single),
    per_column: columns.map((dtype, c) => ({
      dtype,
      alone_tokens_per_s: median(rounds.map((r) => (1000 * r.alone[c].tokens) / r.alone[c].ms)),
      concurrent_tokens_per_s: median(
        rounds.map((r) => (1000 * r.together[c].tokens) / (r.together[c].endMs - r.together[c].startMs)),
      ),
    })),
  };
}

export interface BenchReport {
  model: string;
  /** Measured runs asked for (--runs); a row's own `runs` may be more under min_time_s. */
  runs: number;
  /** Each precision's measured rounds went on until they had taken this long (--min-time), 0 = off. */
  min_time_s: number;
  /**
   * Then on until each ratio's interval was within ±5 %, for at most this long a precision in all
   * (--max-time); 0 or absent = off.
   */
  max_time_s?: number;
  /** Fresh loads of both sides per precision (--loads), when more than one. */
  loads?: number;
  prompt_tokens: number;
  new_tokens: number;
  results: BenchRow[];
  /** Things a reader of the figures should know (e.g. a ratio interval wider than ±5 %). */
  warnings?: string[];
  /** --forms: the 4-bit forms table (then `results` is empty). */
  forms?: FormsReport;
  /** browser-webgpu: the adapter the rows ran on. */
  adapter?: GpuAdapterInfo;
  /** Keyed by runtime. */
  concurrency?: Partial<Record<BenchRuntime, ConcurrencyResult>>;
  /** --first-token: time from navigation to the page's first token, and its stages. */
  first_token?: FirstTokenResult;
  machine?: BenchMachine;
}

const num = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const mb = (bytes: number) => num(bytes / 2 ** 20, 0);

/** Columns padded to their widest cell: text left-aligned, figures right-aligned. */
export function alignTable(rows: string[][], rightFrom = 0): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i >= rightFrom ? c.padStart(widths[i]) : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The report as the CLI prints it. */
export function formatBenchTable(r: BenchReport): string {
  const rows = [
    [
      'dtype',
      'runtime',
      'runs',
      'load ms',
      'TTFT ms',
      'prefill tok/s',
      'decode tok/s',
      'min-max',
      'IQR',
      'floor tok/s',
      'floor TTFT ms',
      'ratio',
      '95% CI',
      'peak MiB',
      'same ids',
    ],
  ];
  for (const x of r.results) {
    rows.push([
      x.dtype,
      x.runtime,
      String(x.runs),
      num(x.load_ms, 0),
      num(x.ttft_ms, 1),
      num(x.prefill_tokens_per_s, 0),
      num(x.decode_tokens_per_s, 1),
      `${num(x.decode_min, 1)}-${num(x.decode_max, 1)}`,
      num(x.decode_iqr, 1),
      num(x.floor_decode_tokens_per_s, 1),
      num(x.floor_ttft_ms, 1),
      num(x.ratio, 3),
      x.ratio_ci_low === null || x.ratio_ci_high === null
        ? '-'
        : `${num(x.ratio_ci_low, 3)}-${num(x.ratio_ci_high, 3)}`,
      mb(x.peak_memory_bytes),
      x.same_ids ? 'yes' : 'NO',
    ]);
  }
  const extras = benchRowExtras(r.results);
  const loads = r.loads && r.loads > 1 ? ` over ${r.loads} loads` : '';
  const settle = r.max_time_s
    ? `, then more until the ratio's interval was within ±${100 * RATIO_CI_TARGET} % (at most ${r.max_time_s} s per precision)`
    : '';
  const runs =
    (r.min_time_s > 0 ? `at least ${r.runs} run(s) and ${r.min_time_s} s per precision` : `${r.runs} run(s)`) +
    loads +
    settle;
  const lines = r.results.length
    ? [
        `${r.model}: ${r.prompt_tokens}-token prompt, ${r.new_tokens} new tokens (greedy), median of ${runs} after a warm-up; runner and floor interleaved (ABBA)`,
        alignTable(rows, 2),
      ]
    : [`${r.model}:`];
  lines.push(...extras);
  for (const w of r.warnings ?? []) lines.push(`warning: ${w}`);
  const short = r.results.filter((x) => x.generated_tokens < r.new_tokens);
  for (const x of short)
    lines.push(`note: ${x.dtype} ${x.runtime} ended the text after ${x.generated_tokens} new tokens`);
  for (const c of Object.values(r.concurrency ?? {})) {
    if (!c) continue;
    lines.push(
      `${c.runtime} concurrency, ${c.columns.length} columns (${c.columns.join(', ')}${c.threads_together ? `; ${c.threads_alone} thread(s) alone, ${c.threads_together} each together` : ''}): together ${num(c.aggregate_tokens_per_s, 1)} tok/s, ` +
        `one at a time ${num(c.single_tokens_per_s, 1)} tok/s, ratio ${num(c.ratio, 2)} (median of ${c.runs}; ` +
        c.per_column
          .map(
            (p) => `${p.dtype} ${num(p.alone_tokens_per_s, 1)} alone / ${num(p.concurrent_tokens_per_s, 1)} together`,
          )
          .join(', ') +
        ')',
    );
  }
  if (r.first_token) lines.push(formatFirstToken(r.first_token));
  const churn = formatChurn(r.machine);
  if (churn) lines.push(churn);
  lines.push(
    'ratio = runner decode tok/s / floor decode tok/s of each round (a runner run and the floor run beside it), median over rounds ' +
      '(floor: raw ONNX Runtime greedy loop on the same file); 95% CI: bootstrap interval of the ratio over the rounds. ' +
      'peak = memory while the runner alone ran (node: process RSS; browser-wasm: RSS summed over the whole Chromium process tree, browser included).',
  );
  return lines.join('\n');
}

/** The machine's ArrayBuffer churn line (Node's, and the page's when a browser runtime ran), or null. */
export function formatChurn(m: BenchMachine | undefined): string | null {
  const node = m?.array_buffer_churn;
  const page = m?.browser?.array_buffer_churn;
  const any = page ?? node;
  if (!any) return null;
  const one = (what: string, c: ArrayBufferChurn) =>
    `${what} ${num(c.per_buffer_us, 2)} µs a buffer (longest step ${num(c.longest_step_ms, 2)} ms)`;
  return (
    `ArrayBuffer churn (${any.per_step} typed arrays of ${any.bytes / 1024} KB a step for ${any.steps} steps, as ONNX Runtime Web's outputs of a small model): ` +
    [node ? one('node', node) : null, page ? one('browser', page) : null].filter(Boolean).join(', ') +
    '; where the browser figure is far above Node\'s, freeing them stalls browser decode steps (README, "Browser decode and ArrayBuffers").'
  );
}

/** Lines under the table for the rows' optional fields: adapters, correctness-only rows, bandwidth ratios. */
export function benchRowExtras(rows: readonly BenchRow[]): string[] {
  const out: string[] = [];
  for (const a of new Set(rows.filter((x) => x.adapter).map((x) => x.adapter!)))
    out.push(`browser-webgpu adapter: ${a}`);
  const only = rows.filter((x) => x.correctness_only);
  if (only.length)
    out.push(
      `correctness-only (software adapter, not GPU speed): ${only.map((x) => `${x.dtype} ${x.runtime}`).join(', ')}`,
    );
  for (const x of rows) {
    if (x.step_ms === null || x.floor_step_ms === null) continue;
    out.push(
      `${x.dtype} ${x.runtime}: decode step ${num(x.step_ms, 3)} ms median (floor ${num(x.floor_step_ms, 3)}; step ratio ${num(x.step_ratio ?? NaN, 3)}${
        x.step_ratio_ci_low !== null && x.step_ratio_ci_high !== null
          ? ` [${num(x.step_ratio_ci_low, 3)}-${num(x.step_ratio_ci_high, 3)}]`
          : ''
      }), longest step a run ${num(x.longest_step_ms ?? NaN, 1)} ms median (floor ${num(x.floor_longest_step_ms ?? NaN, 1)}); KV cache ${x.kv_path ?? '?'} (floor ${x.floor_kv_path ?? '?'})`,
    );
  }
  for (const x of rows) {
    if (x.bandwidth_ceiling_ratio === undefined || x.bytes_per_token === undefined) continue;
    out.push(
      `${x.dtype} ${x.runtime}: ${num(x.bytes_per_token / 2 ** 20, 1)} MiB read per token, decode at ${num(100 * x.bandwidth_ceiling_ratio, 2)} % of the memory-bandwidth ceiling`,
    );
  }
  return out;
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');

/** The lines the CLI's table prints for it. */
export function formatFirstToken(f: FirstTokenResult): string {
  const rows = [['', 'first visit', 'second visit'], ...FIRST_TOKEN_STAGES.map((s) => [s, '', ''])];
  for (const [i, s] of FIRST_TOKEN_STAGES.entries()) {
    const c = f.timeline[s];
    const w = f.warm_timeline[s];
    rows[i + 1][1] = `${ms(f.stages[s])} (${ms(c.start_ms)}-${ms(c.end_ms)})`;
    rows[i + 1][2] = `${ms(f.warm_stages[s])} (${ms(w.start_ms)}-${ms(w.end_ms)})`;
  }
  rows.push(['first token', ms(f.cold_ms), ms(f.warm_ms)]);
  rows.push(['every column', f.columns_cold_ms.map(ms).join(' / '), f.columns_warm_ms.map(ms).join(' / ')]);
  rows.push(['floor page', ms(f.floor_cold_ms), ms(f.floor_warm_ms)]);
  rows.push(['page / floor', f.cold_ratio.toFixed(2), f.warm_ratio.toFixed(2)]);
  return [
    `time to first token from navigation, ${f.variant} in the first column (median of ${f.runs}; ms, stage duration (start-end after navigation); stages overlap):`,
    alignTable(rows, 1),
  ].join('\n');
}
