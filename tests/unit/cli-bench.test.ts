// `quantlab bench` in Node on aidreams260K: it runs and reports every field of every precision
// (finite, positive, ratio = decode / floor decode, the floor's greedy ids equal to the runner's),
// the concurrency summary, and refuses bad input by name. Speed itself is not asserted.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { BENCH_DTYPES, checkReport, quantizedAidreams } from '../helpers/bench';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';

describe('quantlab bench (node)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await quantizedAidreams();
  }, 120_000);
  afterAll(cleanupTempDirs);

  it('reports every field of every precision, and the concurrency of four runners', async () => {
    const out = join(tempDir(), 'sub/results.json');
    const r = await runCli([
      'bench',
      dir,
      '--dtypes',
      BENCH_DTYPES.join(','),
      '--runtimes',
      'node',
      '--runs',
      '1',
      '--new-tokens',
      '8',
      '--prompt-tokens',
      '16',
      '--concurrency',
      '--json',
      '--out',
      out,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
    checkReport(report, dir, 'node', { promptTokens: 16, newTokens: 8 });
  }, 300_000);

  it('prints a table with a line per precision, measuring past --runs for --min-time', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--dtypes',
      'q4,fp32',
      '--runs',
      '2',
      '--min-time',
      '0.5',
      '--new-tokens',
      '4',
      '--prompt-tokens',
      '8',
    ]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toContain(
      '8-token prompt, 4 new tokens (greedy), median of at least 2 run(s) and 0.5 s per precision',
    );
    expect(lines[1].split(/\s{2,}/).slice(0, 4)).toEqual(['dtype', 'runtime', 'runs', 'load ms']);
    expect(lines[2]).toMatch(/^q4\s+node\s+\d/);
    expect(lines[3]).toMatch(/^fp32\s+node\s+\d/);
    // A round of 4 tokens of this model takes milliseconds: half a second holds far more than 2.
    for (const line of lines.slice(2, 4)) expect(Number(line.split(/\s+/)[2])).toBeGreaterThan(2);
    // The machine's ArrayBuffer churn, Node's figure only (no browser runtime ran).
    expect(lines.find((l) => l.startsWith('ArrayBuffer churn'))).toMatch(
      /: node [\d.]+ µs a buffer \(longest step [\d.]+ ms\); /,
    );
  }, 120_000);

  it('measures past --runs under --max-time until the ratio has an interval within ±5 %', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--dtypes',
      'q4',
      '--runs',
      '2',
      '--max-time',
      '2',
      '--new-tokens',
      '4',
      '--prompt-tokens',
      '8',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.max_time_s).toBe(2);
    // An interval needs five rounds: two --runs are not enough to stop on, whatever the machine.
    const row = report.results[0];
    expect(row.runs).toBeGreaterThanOrEqual(5);
    expect(row.ratio_ci_low).not.toBeNull();
    // The table says the rule.
    const table = await runCli([
      'bench',
      dir,
      '--dtypes',
      'q4',
      '--runs',
      '2',
      '--max-time',
      '0.5',
      '--new-tokens',
      '4',
      '--prompt-tokens',
      '8',
    ]);
    expect(table.out.split('\n')[0]).toContain(
      "median of 2 run(s), then more until the ratio's interval was within ±5 % (at most 0.5 s per precision)",
    );
  }, 120_000);

  it('shares the runs over fresh loads under --loads, each with its own ratio', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--dtypes',
      'q4',
      '--runs',
      '4',
      '--loads',
      '2',
      '--new-tokens',
      '4',
      '--prompt-tokens',
      '8',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.loads).toBe(2);
    const row = report.results[0];
    expect(row.runs).toBe(4);
    expect(row.loads).toBe(2);
    expect(row.load_ratios).toHaveLength(2);
    for (const x of row.load_ratios) expect(x).toBeGreaterThan(0);
  }, 120_000);

  it('refuses an unknown dtype, a missing variant file, out-of-range numbers and an unknown runtime', async () => {
    const bad = async (args: string[], ...patterns: RegExp[]) => {
      const r = await runCli(['bench', ...args]);
      expect(r.code, r.out).toBe(2);
      for (const p of patterns) expect(r.err).toMatch(p);
      expect(r.out).toBe('');
    };
    await bad([dir, '--dtypes', 'fp32,q3'], /Unknown dtype "q3"/, /fp16, bf16, q8/);
    await bad([dir, '--runs', '0'], /--runs must be a whole number >= 1 \(got "0"\)/);
    await bad([dir, '--runs', '2.5'], /--runs must be a whole number >= 1/);
    await bad([dir, '--runs', '1001'], /--runs must be at most 1000/);
    await bad([dir, '--min-time=-1'], /--min-time must be a number of seconds from 0 to 3600 \(got "-1"\)/);
    await bad([dir, '--min-time', 'NaN'], /--min-time must be a number of seconds/);
    await bad([dir, '--runs', '2', '--loads', '3'], /--loads 3 is more than --runs 2/);
    await bad([dir, '--max-time=-2'], /--max-time must be a number of seconds from 0 to 3600 \(got "-2"\)/);
    await bad([dir, '--new-tokens', '1'], /--new-tokens must be a whole number >= 2/);
    await bad([dir, '--prompt-tokens', 'x'], /--prompt-tokens must be a whole number >= 1/);
    await bad([dir, '--runtimes', 'node,gpu'], /Unknown runtime "gpu"/, /node and\/or browser-wasm/);
    await bad([dir, '--speed'], /Unknown option '--speed'/);
    // aidreams260K has 128 positions: 100 + 30 tokens (129 fed) do not fit, 99 + 30 would.
    await bad(
      [dir, '--prompt-tokens', '100', '--new-tokens', '30'],
      /--prompt-tokens 100 and --new-tokens 30 do not fit in the model's 128 positions/,
      /--prompt-tokens 99 --new-tokens 30/,
    );
    await bad([], /exactly one model folder/);
    // A folder with only the fp32 file: q4 and bnb4 are named, file and command.
    const only = join(tempDir(), 'only-fp32');
    mkdirSync(join(only, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(join(dir, f), join(only, f));
    copyFileSync(join(dir, 'onnx/model.onnx'), join(only, 'onnx/model.onnx'));
    await bad(
      [only, '--dtypes', 'fp32,q4,bnb4'],
      /has no .*onnx\/model_q4\.onnx \(q4\), .*onnx\/model_bnb4\.onnx \(bnb4\)/,
      new RegExp(`'quantlab quantize ${only} --dtype q4,bnb4'`),
    );
    await bad([join(only, 'onnx')], /is not a model folder \(no config.json\)/);
  }, 60_000);
});
