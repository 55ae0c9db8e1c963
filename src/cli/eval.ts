// `quantlab eval`: the teacher-forced quality report (llama.cpp's perplexity --kl-divergence
// numbers) of several precisions of one model folder on a text file, as a table or JSON.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { QuantlabError } from '../lib/errors';
import { runnerEvalModel, type LabeledModel } from '../lib/eval/model';
import { checkText, evaluateQuality, type QualityReport } from '../lib/eval/quality';
import { toJson } from '../lib/eval/export';
import { qualityCsv } from '../lib/eval/tables';
import { Runner } from '../lib/runner/runner';
import { FP32_STEM, stemOfArg } from '../lib/variants/table';
import { configureNodeTransformers } from '../node/transformers-env';
import { parse, usageOf } from './main';

const HELP = `quantlab eval <dir> --text <file> [options]
  --dtypes LIST      precisions to score, e.g. fp32,fp16,bf16,q8,q4,bnb4 (default fp32): the files
                     onnx/model.onnx, model_fp16, model_bf16, model_quantized, ...; a file stem
                     such as model_q4_b128 also works
  --baseline D       the precision the others are compared with (default fp32, else the first)
  --text FILE        UTF-8 text to score; it must have at least one window of tokens
  --ctx N            window length in tokens (default min(512, the model's max positions));
                     as in llama.cpp only the second half of each window is scored
  --chunks N         score at most N windows
  --json             print one JSON object; results.<dtype> has ppl, kld_mean, kld_p99,
                     same_top_pct, rms_dp and the rest (Δp as a fraction, not percent)
  --csv FILE         also write one CSV row per precision`;

/** A positive whole-number flag, or the fallback when absent. */
export function intFlag(v: unknown, name: string, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new QuantlabError('bad-argument', `--${name} must be a whole number >= ${min} (got "${String(v)}")`);
  }
  return n;
}

/** A comma-separated list of numbers ("0,0.5,1"). */
export function numberList(v: unknown, name: string, fallback: string): number[] {
  const s = v === undefined ? fallback : String(v);
  return s.split(',').map((part) => {
    const n = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(n)) throw new QuantlabError('bad-argument', `--${name}: "${part}" is not a number`, `Give numbers separated by commas, e.g. --${name} ${fallback}`);
    return n;
  });
}

export interface LoadedModels {
  models: LabeledModel[];
  runners: Runner[];
  baseline: string;
  /** max_position_embeddings from config.json, if present. */
  maxPositions?: number;
}

/** Checks the folder has every requested precision, then loads each in its own Runner. */
export async function loadPrecisions(dirArg: string, dtypesArg: unknown, baselineArg: unknown): Promise<LoadedModels> {
  const dir = resolve(dirArg);
  if (!existsSync(resolve(dir, 'config.json'))) {
    throw new QuantlabError('bad-argument', `${dirArg} is not a model folder (no config.json)`, "Create one with 'quantlab import' or 'quantlab tiny'.");
  }
  const dtypes = String(dtypesArg ?? 'fp32').split(',').map((d) => d.trim()).filter((d) => d !== '');
  if (dtypes.length === 0) throw new QuantlabError('bad-argument', '--dtypes is empty');
  // A precision name or a file stem; any other name is looked for as model_<name> (and reported missing).
  const stems = dtypes.map((d) => stemOfArg(d) ?? `${FP32_STEM}_${d}`);
  const missing = dtypes.filter((_, i) => !existsSync(resolve(dir, 'onnx', `${stems[i]}.onnx`)));
  if (missing.length) {
    const files = missing.map((d) => `onnx/${stems[dtypes.indexOf(d)]}.onnx (${d})`).join(', ');
    throw new QuantlabError('bad-argument', `${dirArg} has no ${files}`,
      `Create ${missing.length > 1 ? 'them' : 'it'} with ${missing.map((d) => `'quantlab quantize ${dirArg} --dtype ${d}'`).join(', ')} ('quantlab quantize --help' lists the dtypes), or leave ${missing.join(', ')} out of --dtypes.`);
  }
  const baseline = baselineArg === undefined ? (dtypes.includes('fp32') ? 'fp32' : dtypes[0]) : String(baselineArg);
  if (!dtypes.includes(baseline)) {
    throw new QuantlabError('bad-argument', `Baseline "${baseline}" is not among --dtypes (${dtypes.join(', ')})`, `Add it to --dtypes or pick one of those with --baseline.`);
  }
  const config = JSON.parse(readFileSync(resolve(dir, 'config.json'), 'utf8')) as { max_position_embeddings?: number };
  configureNodeTransformers({ allowRemote: false });
  const runners: Runner[] = [];
  const models: LabeledModel[] = [];
  try {
    for (let i = 0; i < dtypes.length; i++) {
      const r = new Runner();
      runners.push(r);
      await r.load({ modelId: dir, variant: stems[i], device: 'cpu' });
      models.push({ label: dtypes[i], model: runnerEvalModel(r) });
    }
  } catch (err) {
    await Promise.all(runners.map((r) => r.dispose()));
    throw err;
  }
  return { models, runners, baseline, maxPositions: config.max_position_embeddings };
}

/** Prints a one-line progress counter to a terminal's stderr (never into piped output). */
export function progressLine(done: number, total: number, what: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${what} ${done}/${total}${done === total ? '\n' : ''}`);
}

export async function runEval(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, {
    dtypes: { type: 'string' }, baseline: { type: 'string' }, text: { type: 'string' }, ctx: { type: 'string' },
    chunks: { type: 'string' }, json: { type: 'boolean' }, csv: { type: 'string' },
  });
  if (v.help) return usageOf(HELP);
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'eval needs exactly one model folder', HELP);
  if (typeof v.text !== 'string') throw new QuantlabError('bad-argument', 'eval needs --text <file>', HELP);
  let text: string;
  try {
    text = readFileSync(v.text, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new QuantlabError('bad-argument', `Cannot read --text ${v.text}: ${(err as Error).message}`);
  }
  checkText(text);
  const chunks = v.chunks === undefined ? undefined : intFlag(v.chunks, 'chunks', 1);
  const ctxFlag = v.ctx === undefined ? undefined : intFlag(v.ctx, 'ctx', 512, 3);
  const loaded = await loadPrecisions(positionals[0], v.dtypes, v.baseline);
  try {
    const maxPos = loaded.maxPositions;
    const ctx = ctxFlag ?? Math.min(512, maxPos ?? 512);
    if (maxPos !== undefined && ctx > maxPos) {
      throw new QuantlabError('bad-argument', `--ctx ${ctx} is longer than the model's ${maxPos} positions (max_position_embeddings)`, `Use --ctx ${maxPos} or less.`);
    }
    const report = await evaluateQuality({
      text, models: loaded.models, baseline: loaded.baseline, ctx, maxWindows: chunks,
      onProgress: (p) => p.status === 'window' && progressLine(p.done, p.total, 'window'),
    });
    if (typeof v.csv === 'string') writeFileSync(v.csv, qualityCsv(report));
    if (v.json) console.log(toJson({ model: positionals[0], text_file: v.text, ...report }));
    else console.log(formatQuality(positionals[0], report));
  } finally {
    await Promise.all(loaded.runners.map((r) => r.dispose()));
  }
  return 0;
}

/** Formats a number with d decimals, '-' when undefined (NaN). */
export const fixed = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** Left-aligned columns, each as wide as its widest cell plus two spaces. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 2))).join('')).join('\n');
}

/** The report as a table: one line per precision with llama.cpp's headline numbers. */
export function formatQuality(model: string, r: QualityReport): string {
  const first = Object.values(r.results).find((e) => !('error' in e)) as { count: number; bytes: number } | undefined;
  const rows = [['dtype', 'PPL', 'bits/byte', 'ln(PPL/PPL base)', 'mean KLD', '99% KLD', 'RMS Δp %', 'same top %']];
  const f = fixed;
  for (const [dtype, e] of Object.entries(r.results)) {
    if ('error' in e) {
      rows.push([dtype, `error: ${e.error.message}`]);
      continue;
    }
    rows.push([
      dtype, `${f(e.ppl, 4)} ± ${f(e.ppl_se, 4)}`, f(e.bits_per_byte, 4), `${f(e.ln_ppl_ratio, 5)} ± ${f(e.ln_ppl_ratio_se, 5)}`,
      `${f(e.kld_mean, 6)} ± ${f(e.kld_se, 6)}`, f(e.kld_p99, 6), `${f(100 * e.rms_dp, 3)} ± ${f(100 * e.rms_dp_se, 3)}`,
      `${f(e.same_top_pct, 3)} ± ${f(e.same_top_pct_se, 3)}`,
    ]);
  }
  const lines = [
    `${model}: ${r.windows} window(s) of ${r.ctx} tokens, ${first?.count ?? 0} positions scored (${first?.bytes ?? 0} bytes of text); baseline ${r.baseline}`,
    formatTable(rows),
  ];
  if (r.cancelled) lines.push(`(cancelled after ${r.windows} of ${r.windows_total} windows)`);
  lines.push('Use --json for every statistic (KLD percentiles, Δp, uncertainties).');
  return lines.join('\n');
}
