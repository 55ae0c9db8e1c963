// `quantlab bench`: speed of each precision as the playground runs it (the runner in Node, the
// real column worker in headless Chromium on WASM) against the floor, a raw ONNX Runtime greedy
// loop on the same file: load time, time to first token, prefill and decode tokens/s (median and
// spread over runs after a warm-up, runner and floor interleaved), peak memory, and how several
// precisions generating at once scale. A table, or one JSON object.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { QuantlabError } from '../../lib/errors';
import { MAX_ROUNDS, type BenchCase } from '../../lib/bench/measure';
import {
  BENCH_RUNTIMES,
  formatBenchTable,
  ratioWarnings,
  type BenchMachine,
  type BenchReport,
  type BenchRow,
  type BenchRuntime,
} from '../../lib/bench/report';
import { DTYPES } from '../../lib/variants/options';
import { FIRST_TOKEN_STAGES } from '../../lib/page/first-token';
import { arrayBufferChurn } from '../../lib/bench/churn';
import { stemOfArg } from '../../lib/variants/table';
import type { FlagSpecs, ParsedArgs } from '../args';
import { defineCommand } from '../command';
import { readModelFolder, requireVariants } from '../model-folder';
import { isSoftwareAdapter, softwareAdapterWarning } from '../../lib/bench/webgpu';
import { addBandwidth } from '../../node/bench-bandwidth';
import { FORMS, formatFormsTable } from '../../lib/bench/forms';

const HELP = `quantlab bench <dir> [options]
  --dtypes LIST       precisions to time, e.g. fp32,fp16,q8,q4,bnb4 (default fp32); each needs its
                      file (onnx/model.onnx, model_fp16, model_quantized, model_q4, model_bnb4, ...)
  --runtimes LIST     node (runner vs onnxruntime-node), browser-wasm (the playground's column
                      worker vs onnxruntime-web in headless Chromium, 2 WASM threads, isolated)
                      and/or browser-webgpu (the same on WebGPU; rows carry the adapter, and on a
                      software adapter such as SwiftShader they are correctness-only); default node;
                      none times no decode (e.g. only --first-token)
  --runs N            measured runs per precision after one warm-up (default 5)
  --min-time S        and more runs until they have taken S seconds per precision (default 0, at
                      most ${MAX_ROUNDS} runs): a tiny model's run lasts milliseconds, and five of
                      them are mostly noise
  --max-time S        then more runs until the ratio's 95 % interval is within ±5 %, up to S
                      seconds per precision in all (default 0: no more)
  --loads N           share the runs over N fresh loads of both sides (new workers, new sessions;
                      default 1, at most --runs): where a load's weights land in memory moves a
                      side's speed for as long as it lives; the interval then spans the loads
  --prompt-tokens N   prompt length in tokens, BOS included (default 128)
  --new-tokens N      greedy new tokens per run, at least 2 (default 64)
  --first-token       also time the playground from navigation to the first token written in its
                      first column, on a first visit (fresh profile: empty cache and storage) and a
                      second one, with <dir> served as the built-in model, split into stages
                      (${FIRST_TOKEN_STAGES.join(', ')}),
                      against the floor page (one ONNX Runtime session on the same .onnx, one step);
                      --runs rounds, each in fresh Chromium profiles
  --concurrency       also time 4 columns (the first 4 dtypes, repeated if fewer) generating at
                      once against one column at a time
  --threads N         browser-wasm: WASM threads of the column and of the floor (default: the app's,
                      one per core up to 4, one for weights under 16 MB)
  --no-stream         browser-wasm: the column does not stream its tokens to the page (the
                      playground does; this isolates what streaming costs)
  --site DIR          browser-wasm: the built site to serve (default .cache/bench/site, built with
                      vite when missing or older than the sources)
  --bandwidth GB/S    the machine's memory bandwidth: each row also gets bytes_per_token (weight
                      bytes one decode step reads) and bandwidth_ceiling_ratio (decode tokens/s x
                      bytes_per_token / bandwidth; 1 = the memory-bandwidth ceiling)
  --forms             time the 4-bit forms instead of the precisions: MatMulNBits 4-bit at
                      accuracy levels 0/1/4, blocks 32/64/128, with and without zero points, 8-bit
                      MatMulNBits and MatMulInteger q8, each as a raw ONNX Runtime loop on every
                      --runtimes backend; the JSON gets forms: {rows, defaults, load_average}, where
                      defaults names each backend's fastest token-exact form of the q4 weights.
                      Needs the weights' files (model_q4, model_q4_asym, model_q4_b64,
                      model_q4_b128, model_q8nbits, model_quantized); the accuracy-level copies go
                      to a scratch folder
  --json              print one JSON object: {model, runs, prompt_tokens, new_tokens, results:
                      [{dtype, runtime, runs, load_ms, ttft_ms, prefill_tokens_per_s, decode_tokens_per_s,
                      decode_min, decode_max, floor_decode_tokens_per_s, floor_ttft_ms, ratio,
                      ratio_of_medians, loads, load_ratios (each load's own ratio),
                      peak_memory_bytes, decode_iqr, ratio_ci_low, ratio_ci_high, step_ms,
                      step_ratio (floor step / runner step, pauses left out) with step_ratio_ci_*,
                      decode_runs and floor_decode_runs (each run, in order), ...}],
                      concurrency?: {<runtime>: {..., aggregate_ratio}}, first_token?: {cold_ms,
                      warm_ms, floor_cold_ms, floor_warm_ms, stages: {<stage>: ms},
                      columns_cold_ms: [ms per column], ...},
                      warnings?: [...], machine: {cores, cpu_model,
                      ..., browser?: {hardware_concurrency, user_agent, onnxruntime_web_version,
                      threads, spinning}}}
  --out FILE          also write that JSON object to FILE
Speed figures depend on what else the machine runs: runner and floor runs alternate (ABBA) so both
feel the same load. ratio = runner decode tokens/s / floor decode tokens/s of each round (a runner
run and the floor run beside it), median over rounds, with a 95 % bootstrap interval over the rounds;
a warning says when it is wider than ±5 % and how many runs would narrow it.`;

/** Columns of the concurrency measurement. */
const CONCURRENT_COLUMNS = 4;
/** Largest sensible sizes (a typo like --runs 5000 is refused rather than run for hours). */
const MAX_MIN_TIME_S = 3600;
const MAX_TOKENS = 100_000;

export const DEFAULT_SITE_DIR = resolve(import.meta.dirname, '../../../.cache/bench/site');

/** onnx/<stem>.onnx of a dtype name (or a stem given as is); unknown names are refused. */
export function benchStem(dtype: string): string {
  const stem = stemOfArg(dtype);
  if (!stem) {
    throw new QuantlabError(
      'bad-argument',
      `Unknown dtype "${dtype}"`,
      `Use fp32, ${DTYPES.join(', ')}, or a file stem such as model_q4_b128.`,
    );
  }
  return stem;
}

const FLAGS = {
  dtypes: { type: 'list', default: ['fp32'] },
  runtimes: { type: 'list', default: ['node'] },
  runs: { type: 'int', min: 1, max: MAX_ROUNDS, default: 5 },
  'min-time': { type: 'number', min: 0, max: MAX_MIN_TIME_S, unit: 'seconds', default: 0 },
  'max-time': { type: 'number', min: 0, max: MAX_MIN_TIME_S, unit: 'seconds', default: 0 },
  loads: { type: 'int', min: 1, max: MAX_ROUNDS, default: 1 },
  'prompt-tokens': { type: 'int', min: 1, max: MAX_TOKENS, default: 128 },
  'new-tokens': { type: 'int', min: 2, max: MAX_TOKENS, default: 64 },
  concurrency: { type: 'boolean' },
  'first-token': { type: 'boolean' },
  threads: { type: 'int', min: 1, max: 16 },
  'no-stream': { type: 'boolean' },
  site: { type: 'string' },
  forms: { type: 'boolean' },
  bandwidth: { type: 'number', min: 0.001, max: 100_000, unit: 'GB/s' },
  json: { type: 'boolean' },
  out: { type: 'string' },
} as const satisfies FlagSpecs;

export const benchCommand = defineCommand({
  name: 'bench',
  summary: `Load time, TTFT, prefill and decode tokens/s and peak memory of each precision, against a
raw ONNX Runtime loop on the same file (the floor), in Node and in headless Chromium.`,
  help: HELP,
  flags: FLAGS,
  run: runBench,
});

async function runBench({ values: v, positionals }: ParsedArgs<typeof FLAGS>): Promise<number> {
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'bench needs exactly one model folder', HELP);
  const dirArg = positionals[0];
  const { dir, maxPositions: maxPos } = readModelFolder(dirArg);
  const runs = v.runs;
  const minTimeS = v['min-time'];
  const promptTokens = v['prompt-tokens'];
  const newTokens = v['new-tokens'];
  const dtypes = v.dtypes;
  const stems = dtypes.map(benchStem);
  // `--runtimes none`: no decode rows (e.g. only --first-token).
  const runtimes = v.runtimes.length === 1 && v.runtimes[0] === 'none' ? [] : v.runtimes;
  for (const r of runtimes) {
    if (!(BENCH_RUNTIMES as readonly string[]).includes(r))
      throw new QuantlabError(
        'bad-argument',
        `Unknown runtime "${r}"`,
        `Use ${BENCH_RUNTIMES.join(' and/or ')}, e.g. --runtimes node,browser-wasm (or none, with --first-token).`,
      );
  }
  if (v.loads > runs)
    throw new QuantlabError(
      'bad-argument',
      `--loads ${v.loads} is more than --runs ${runs}: each load needs a run`,
      `Use --loads ${runs} or fewer, or raise --runs.`,
    );
  if (!v.forms) requireVariants(dirArg, dtypes, stems);
  // The runner never writes past the model's positions (fitNewTokens): a run that would is refused
  // here rather than timed short. The last new token is never fed back, so it needs no position.
  const warnings: string[] = [];
  if (typeof maxPos === 'number' && promptTokens + newTokens - 1 > maxPos) {
    throw new QuantlabError(
      'bad-argument',
      `--prompt-tokens ${promptTokens} and --new-tokens ${newTokens} do not fit in the model's ${maxPos} positions (max_position_embeddings)`,
      `Ask for at most ${maxPos + 1} tokens in all, e.g. --prompt-tokens ${Math.max(1, maxPos + 1 - newTokens)} --new-tokens ${newTokens}.`,
    );
  }
  if (v.forms) return runForms(dir, dirArg, v, runtimes as BenchRuntime[]);

  const log = (line: string) => {
    if (!v.json) console.error(line);
  };
  const bench: BenchCase = {
    dir,
    dtypes,
    stems,
    runs,
    minMs: minTimeS * 1000,
    maxMs: v['max-time'] * 1000,
    loads: v.loads,
    promptTokens,
    newTokens,
  };
  const columns = Array.from({ length: CONCURRENT_COLUMNS }, (_, i) => i % dtypes.length);
  const concurrent: BenchCase = {
    ...bench,
    dtypes: columns.map((i) => dtypes[i]),
    stems: columns.map((i) => stems[i]),
  };
  const results: BenchRow[] = [];
  const report: BenchReport = {
    model: dirArg,
    runs,
    min_time_s: minTimeS,
    ...(v['max-time'] > 0 ? { max_time_s: v['max-time'] } : {}),
    ...(v.loads > 1 ? { loads: v.loads } : {}),
    prompt_tokens: promptTokens,
    new_tokens: newTokens,
    results,
  };
  if (warnings.length) report.warnings = warnings;
  // The table repeats them; JSON output gets them on stderr as well.
  if (v.json) for (const w of warnings) console.error(`quantlab bench: warning: ${w}`);
  let browserMachine: BenchMachine['browser'];
  let ortNodeVersion: string | undefined;
  for (const runtime of runtimes as BenchRuntime[]) {
    if (runtime === 'node') {
      const { nodeBench, nodeConcurrency, loadOrtNode } = await import('../../node/bench-node');
      results.push(...(await nodeBench(bench, log)));
      ortNodeVersion = (await loadOrtNode()).env?.versions?.node;
      if (v.concurrency) (report.concurrency ??= {}).node = await nodeConcurrency(concurrent, log);
    } else {
      const device = runtime === 'browser-webgpu' ? 'webgpu' : 'wasm';
      const { browserBench, browserConcurrency } = await import('../../node/bench-browser');
      const siteDir = await benchSite(v.site, log);
      const b = await browserBench(bench, {
        siteDir,
        log,
        ...(v.threads !== undefined ? { threads: v.threads } : {}),
        stream: !v['no-stream'],
        device,
      });
      results.push(...b.rows);
      browserMachine = b.machine;
      if (b.adapter) {
        report.adapter = b.adapter;
        if (isSoftwareAdapter(b.adapter)) (report.warnings ??= []).push(softwareAdapterWarning(b.adapter));
      }
      if (v.concurrency && device === 'wasm')
        (report.concurrency ??= {})['browser-wasm'] = await browserConcurrency(concurrent, { siteDir, log });
    }
  }
  if (v.bandwidth !== undefined) addBandwidth(results, dir, stems, dtypes, v.bandwidth * 1e9);
  if (v['first-token']) {
    const { browserFirstToken } = await import('../../node/bench-first-token');
    const siteDir = await benchSite(v.site, log);
    report.first_token = await browserFirstToken({ siteDir, modelDir: dir, runs, log });
  }
  // In the report (table and JSON), not on stderr: they are about the figures, not the run.
  const noisy = ratioWarnings(results);
  if (noisy.length) report.warnings = [...(report.warnings ?? []), ...noisy];
  report.machine = { ...nodeMachine(ortNodeVersion), ...(browserMachine ? { browser: browserMachine } : {}) };
  const json = JSON.stringify(report, null, 2);
  if (typeof v.out === 'string') {
    mkdirSync(dirname(resolve(v.out)), { recursive: true });
    writeFileSync(v.out, `${json}\n`);
  }
  console.log(v.json ? json : formatBenchTable(report));
  return 0;
}

/** `--forms`: the forms table on each runtime, instead of the precisions' rows. */
async function runForms(
  dir: string,
  dirArg: string,
  v: ParsedArgs<typeof FLAGS>['values'],
  runtimes: BenchRuntime[],
): Promise<number> {
  const log = (line: string) => {
    if (!v.json) console.error(line);
  };
  let siteDir: string | undefined;
  if (runtimes.some((r) => r !== 'node')) {
    const { ensureSite } = await importBrowser();
    siteDir = resolve(typeof v.site === 'string' ? v.site : DEFAULT_SITE_DIR);
    if (typeof v.site !== 'string') ensureSite(siteDir, log);
  }
  const { benchForms } = await import('../../node/bench-forms');
  const forms = await benchForms(dir, {
    runtimes,
    forms: FORMS,
    runs: v.runs,
    minMs: v['min-time'] * 1000,
    promptTokens: v['prompt-tokens'],
    newTokens: v['new-tokens'],
    ...(siteDir ? { siteDir } : {}),
    ...(v.threads !== undefined ? { threads: v.threads } : {}),
    log,
  });
  const report: BenchReport = {
    model: dirArg,
    runs: v.runs,
    min_time_s: v['min-time'],
    prompt_tokens: v['prompt-tokens'],
    new_tokens: v['new-tokens'],
    results: [],
    forms,
    machine: nodeMachine(),
  };
  const json = JSON.stringify(report, null, 2);
  if (typeof v.out === 'string') {
    mkdirSync(dirname(resolve(v.out)), { recursive: true });
    writeFileSync(v.out, `${json}\n`);
  }
  console.log(v.json ? json : formatFormsTable(forms));
  return 0;
}

/** The built site to serve: --site as given (it must hold bench.html), else the default one, built when stale. */
async function benchSite(site: unknown, log: (line: string) => void): Promise<string> {
  const { ensureSite } = await importBrowser();
  const siteDir = resolve(typeof site === 'string' ? site : DEFAULT_SITE_DIR);
  if (typeof site === 'string' && !existsSync(join(siteDir, 'bench.html'))) {
    throw new QuantlabError(
      'bad-argument',
      `--site ${site} has no bench.html`,
      'Give a folder built by `vite build` from this version, or leave --site out to build one.',
    );
  }
  if (typeof site !== 'string') ensureSite(siteDir, log);
  return siteDir;
}

/** The machine as Node sees it, and the onnxruntime-node the node runtime ran (when it did). */
function nodeMachine(ortNodeVersion?: string): Omit<BenchMachine, 'browser'> {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node_version: process.version,
    array_buffer_churn: arrayBufferChurn(),
    ...(ortNodeVersion ? { onnxruntime_node_version: ortNodeVersion } : {}),
  };
}

/** src/node/browser.ts needs playwright-core, a devDependency: a clear error when it is absent. */
async function importBrowser(): Promise<typeof import('../../node/browser')> {
  try {
    return await import('../../node/browser');
  } catch (err) {
    if (/playwright/i.test(String((err as Error).message))) {
      throw new QuantlabError(
        'unsupported-device',
        'playwright-core is not installed; the browser-wasm runtime drives Chromium with it',
        'Install the dev dependencies (`npm ci`), or benchmark only --runtimes node.',
      );
    }
    throw err;
  }
}
