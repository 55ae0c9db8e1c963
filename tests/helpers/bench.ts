// The bench tests' shared pieces: aidreams260K quantized to every precision they time, and the
// checks of a `quantlab bench --json` report (every field of a row present, finite and positive,
// ratio = decode / floor decode, the floor's greedy ids equal to the runner's; the concurrency
// summary), the same whichever runtime produced it.
import { availableParallelism } from 'node:os';
import { expect } from 'vitest';
import { runCli } from './cli';
import { aidreamsSource, writeModel } from './model-dirs';

/** The precisions the bench tests time, in report order; the concurrency summary runs the first four. */
export const BENCH_DTYPES = ['fp32', 'fp16', 'q8', 'q4', 'bnb4'];

/** aidreams260K in a temporary folder (removed by cleanupTempDirs), quantized to every BENCH_DTYPES precision. */
export async function quantizedAidreams(): Promise<string> {
  const dir = await writeModel(aidreamsSource(), 'aidreams260K');
  const q = await runCli(['quantize', dir, '--dtype', BENCH_DTYPES.slice(1).join(','), '--quiet']);
  expect(q.code, q.err).toBe(0);
  return dir;
}

const NUMBERS = [
  'runs',
  'load_ms',
  'ttft_ms',
  'prefill_tokens_per_s',
  'decode_tokens_per_s',
  'decode_min',
  'decode_max',
  'floor_decode_tokens_per_s',
  'floor_ttft_ms',
  'floor_prefill_tokens_per_s',
  'floor_decode_min',
  'floor_decode_max',
  'floor_load_ms',
  'ratio',
  'peak_memory_bytes',
  'peak_memory_with_floor_bytes',
  'generated_tokens',
];

export function checkRow(row: Record<string, unknown>, runtime: string, newTokens: number): void {
  const where = `${row.dtype} ${runtime}`;
  expect(row.runtime, where).toBe(runtime);
  for (const k of NUMBERS) {
    expect(typeof row[k], `${where} ${k}`).toBe('number');
    expect(Number.isFinite(row[k]), `${where} ${k}`).toBe(true);
    expect(row[k] as number, `${where} ${k}`).toBeGreaterThan(0);
  }
  const n = row as Record<string, number>;
  // One run: the round's ratio is the medians' ratio.
  expect(n.ratio, where).toBeCloseTo(n.decode_tokens_per_s / n.floor_decode_tokens_per_s, 12);
  expect(n.ratio_of_medians, where).toBeCloseTo(n.ratio, 12);
  // One load (the default): its ratio is the row's.
  expect(row.loads, where).toBe(1);
  expect(row.load_ratios, where).toEqual([n.ratio]);
  expect(n.decode_min, where).toBeLessThanOrEqual(n.decode_tokens_per_s);
  expect(n.decode_max, where).toBeGreaterThanOrEqual(n.decode_tokens_per_s);
  expect(n.peak_memory_with_floor_bytes, where).toBeGreaterThanOrEqual(n.peak_memory_bytes);
  expect(n.generated_tokens, where).toBe(newTokens);
  expect(row.same_ids, `${where}: the floor's greedy ids differ from the runner's`).toBe(true);
  // Imported graphs return new_key_values.*: both sides hold the cache themselves, except a
  // WebGPU column, whose cache stays on the device (present.* fed back as GPU buffers).
  expect(row.kv_path, where).toBe(runtime === 'browser-webgpu' ? 'present' : 'host');
  expect(row.floor_kv_path, where).toBe('host');
  // Quartiles of the decode speeds, and (one run, under the five an interval needs) no ratio interval.
  for (const k of ['decode_iqr', 'floor_decode_iqr']) expect(n[k], `${where} ${k}`).toBeGreaterThanOrEqual(0);
  expect([row.ratio_ci_low, row.ratio_ci_high], where).toEqual([null, null]);
  // Step times from both sides: each run's median step at most its longest.
  for (const side of ['', 'floor_']) {
    expect(n[`${side}step_ms`], `${where} ${side}step_ms`).toBeGreaterThan(0);
    expect(n[`${side}longest_step_ms`], where).toBeGreaterThanOrEqual(n[`${side}step_ms`]);
  }
  expect(n.step_ratio, where).toBeCloseTo(n.floor_step_ms / n.step_ms, 12);
  expect([row.step_ratio_ci_low, row.step_ratio_ci_high], where).toEqual([null, null]);
  // Each run as measured (one here), pairs aligned: their medians are the row's.
  expect(row.decode_runs, where).toEqual([n.decode_tokens_per_s]);
  expect(row.floor_decode_runs, where).toEqual([n.floor_decode_tokens_per_s]);
}

/**
 * Checks the report of `quantlab bench <dir> --dtypes BENCH_DTYPES --runs 1 --concurrency --json`
 * with one runtime: its header, every row (checkRow) and the concurrency summary.
 */
export function checkReport(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked field by field
  report: any,
  dir: string,
  runtime: string,
  sizes: { promptTokens: number; newTokens: number },
): void {
  expect(report).toMatchObject({
    model: dir,
    runs: 1,
    min_time_s: 0,
    prompt_tokens: sizes.promptTokens,
    new_tokens: sizes.newTokens,
  });
  expect(report.results.map((x: { dtype: string }) => x.dtype)).toEqual(BENCH_DTYPES);
  for (const row of report.results) checkRow(row, runtime, sizes.newTokens);
  // One run each: every row says it is too few for an interval.
  expect(report.warnings.filter((w: string) => /too few for a confidence interval/.test(w))).toHaveLength(
    BENCH_DTYPES.length,
  );
  // The machine: Node's view always, the page's for browser-wasm.
  expect(report.machine.cores).toBe(availableParallelism());
  expect(report.machine.node_version).toBe(process.version);
  // The ArrayBuffer churn probe, in Node and (browser-wasm) in the floor's worker.
  const churned = [
    report.machine.array_buffer_churn,
    ...(runtime === 'node' ? [] : [report.machine.browser?.array_buffer_churn]),
  ];
  for (const c of churned) {
    expect(c).toMatchObject({ per_step: 14, bytes: 16384, steps: 64, runs: 12 });
    expect(c.per_buffer_us).toBeGreaterThan(0);
    expect(c.longest_step_ms).toBeGreaterThan(0);
  }
  if (runtime === 'node') expect(report.machine.onnxruntime_node_version).toMatch(/^\d+\.\d+\.\d+/);
  else
    expect(report.machine.browser).toMatchObject({
      hardware_concurrency: availableParallelism(),
      cross_origin_isolated: true,
      // aidreams260K's files are all under SMALL_MODEL_BYTES: the app runs them on one thread.
      threads: 1,
      spinning: true,
      user_agent: expect.stringMatching(/Chrome\//),
      onnxruntime_web_version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
  const c = report.concurrency[runtime];
  expect(c.runtime).toBe(runtime);
  expect(c.columns).toEqual(BENCH_DTYPES.slice(0, 4));
  expect(c.runs).toBe(1);
  for (const k of ['single_tokens_per_s', 'aggregate_tokens_per_s', 'ratio']) expect(c[k], k).toBeGreaterThan(0);
  expect(c.ratio).toBeCloseTo(c.aggregate_tokens_per_s / c.single_tokens_per_s, 12);
  expect(c.aggregate_ratio).toBe(c.ratio);
  expect(c.per_column.map((p: { dtype: string }) => p.dtype)).toEqual(BENCH_DTYPES.slice(0, 4));
  for (const p of c.per_column) {
    expect(p.alone_tokens_per_s).toBeGreaterThan(0);
    expect(p.concurrent_tokens_per_s).toBeGreaterThan(0);
  }
}
