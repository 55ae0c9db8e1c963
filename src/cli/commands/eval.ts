// `quantlab eval`: the teacher-forced quality report (llama.cpp's perplexity --kl-divergence
// numbers) of several precisions of one model folder on a text file, as a table or JSON.

import { readFileSync, writeFileSync } from 'node:fs';
import { QuantlabError } from '../../lib/errors';
import { checkText, evaluateQuality, type QualityReport } from '../../lib/eval/quality';
import { toJson } from '../../lib/eval/export';
import { qualityCsv } from '../../lib/eval/tables';
import type { FlagSpecs, ParsedArgs } from '../args';
import { defineCommand } from '../command';
import { fixed, formatTable, progressLine } from '../format';
import { loadPrecisions } from '../model-folder';

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

const FLAGS = {
  dtypes: { type: 'list', default: ['fp32'] },
  baseline: { type: 'string' },
  text: { type: 'string' },
  ctx: { type: 'int', min: 3 },
  chunks: { type: 'int', min: 1 },
  json: { type: 'boolean' },
  csv: { type: 'string' },
} as const satisfies FlagSpecs;

export const evalCommand = defineCommand({
  name: 'eval',
  summary: "Perplexity, bits per byte and llama.cpp's KL-divergence report of each precision.",
  help: HELP,
  flags: FLAGS,
  run: runEval,
});

async function runEval({ values: v, positionals }: ParsedArgs<typeof FLAGS>): Promise<number> {
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'eval needs exactly one model folder', HELP);
  if (typeof v.text !== 'string') throw new QuantlabError('bad-argument', 'eval needs --text <file>', HELP);
  let text: string;
  try {
    text = readFileSync(v.text, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new QuantlabError('bad-argument', `Cannot read --text ${v.text}: ${(err as Error).message}`);
  }
  checkText(text);
  const chunks = v.chunks;
  const ctxFlag = v.ctx;
  const loaded = await loadPrecisions(positionals[0], v.dtypes, v.baseline);
  try {
    const maxPos = loaded.maxPositions;
    const ctx = ctxFlag ?? Math.min(512, maxPos ?? 512);
    if (maxPos !== undefined && ctx > maxPos) {
      throw new QuantlabError(
        'bad-argument',
        `--ctx ${ctx} is longer than the model's ${maxPos} positions (max_position_embeddings)`,
        `Use --ctx ${maxPos} or less.`,
      );
    }
    const report = await evaluateQuality({
      text,
      models: loaded.models,
      baseline: loaded.baseline,
      ctx,
      maxWindows: chunks,
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
      dtype,
      `${f(e.ppl, 4)} ± ${f(e.ppl_se, 4)}`,
      f(e.bits_per_byte, 4),
      `${f(e.ln_ppl_ratio, 5)} ± ${f(e.ln_ppl_ratio_se, 5)}`,
      `${f(e.kld_mean, 6)} ± ${f(e.kld_se, 6)}`,
      f(e.kld_p99, 6),
      `${f(100 * e.rms_dp, 3)} ± ${f(100 * e.rms_dp_se, 3)}`,
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
