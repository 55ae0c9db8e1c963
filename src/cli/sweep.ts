// `quantlab sweep`: the papers' temperature / top-k / top-p / length experiments on several
// precisions of one model folder, with shared seeds; a table of means over seeds, JSON or CSV.

import { writeFileSync } from 'node:fs';
import { QuantlabError } from '../lib/errors';
import { toJson } from '../lib/eval/export';
import { checkSweepGrid, runSweep, type SweepResult } from '../lib/eval/sweep';
import { aggregateSweep, sweepAggregatesCsv, sweepRowsCsv, type SweepAggregate } from '../lib/eval/tables';
import { fixed, formatTable, intFlag, loadPrecisions, numberList, progressLine } from './eval';
import { parse, usageOf } from './main';

const HELP = `quantlab sweep <dir> [options]
  --dtypes LIST            precisions, e.g. fp32,fp16,q8,q4,bnb4 (default fp32)
  --baseline D             compared with and scoring every text (default fp32, else the first)
  --prompt TEXT            the prompt (default: empty)
  --temperatures LIST      e.g. 0,0.3,0.5,0.8,1,1.5 (default 0; 0 = greedy)
  --top-k LIST             e.g. 1,5,20,50,0 (default 0 = off)
  --top-p LIST             e.g. 0.9,1 (default 1 = off)
  --max-new-tokens LIST    e.g. 32,64 (default 64)
  --seeds N                seeds 0 .. N-1 in every cell (default 1)
  --repetition-penalty R   default 1
  --chat                   apply the tokenizer's chat template
  --json                   print one JSON object: grid, rows (one per dtype x cell x seed), aggregates
  --csv FILE               write the per-seed rows as CSV
  --summary-csv FILE       write the aggregates (mean, std, min, max over seeds) as CSV
Ctrl-C stops between cells and prints what has finished.`;

export async function runSweepCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, {
    dtypes: { type: 'string' }, baseline: { type: 'string' }, prompt: { type: 'string' },
    temperatures: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
    'max-new-tokens': { type: 'string' }, seeds: { type: 'string' }, 'repetition-penalty': { type: 'string' },
    chat: { type: 'boolean' }, json: { type: 'boolean' }, csv: { type: 'string' }, 'summary-csv': { type: 'string' },
  });
  if (v.help) return usageOf(HELP);
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'sweep needs exactly one model folder', HELP);
  const nSeeds = intFlag(v.seeds, 'seeds', 1);
  const grid = {
    prompt: (v.prompt as string | undefined) ?? '',
    temperatures: numberList(v.temperatures, 'temperatures', '0'),
    topKs: numberList(v['top-k'], 'top-k', '0'),
    topPs: numberList(v['top-p'], 'top-p', '1'),
    maxNewTokens: numberList(v['max-new-tokens'], 'max-new-tokens', '64'),
    seeds: Array.from({ length: nSeeds }, (_, i) => i),
    repetitionPenalty: numberList(v['repetition-penalty'], 'repetition-penalty', '1')[0],
    chatTemplate: v.chat === true,
  };
  checkSweepGrid(grid);
  const loaded = await loadPrecisions(positionals[0], v.dtypes, v.baseline);
  const ctrl = new AbortController();
  const onSigint = () => ctrl.abort();
  process.once('SIGINT', onSigint);
  try {
    const base = loaded.models.find((m) => m.label === loaded.baseline)!;
    const promptLen = (await base.model.encode(grid.prompt)).length;
    const longest = Math.max(...grid.maxNewTokens.filter(Number.isFinite));
    if (loaded.maxPositions !== undefined && promptLen + longest > loaded.maxPositions) {
      throw new QuantlabError('bad-argument', `The prompt (${promptLen} tokens) plus --max-new-tokens ${longest} exceeds the model's ${loaded.maxPositions} positions`,
        `Use --max-new-tokens ${Math.max(1, loaded.maxPositions - promptLen)} or less.`);
    }
    const result = await runSweep({
      grid, models: loaded.models, baseline: loaded.baseline, signal: ctrl.signal,
      onProgress: (p) => p.status === 'cell' && progressLine(p.done, p.total, 'cell x seed'),
    });
    const aggregates = aggregateSweep(result.rows);
    if (typeof v.csv === 'string') writeFileSync(v.csv, sweepRowsCsv(result.rows));
    if (typeof v['summary-csv'] === 'string') writeFileSync(v['summary-csv'], sweepAggregatesCsv(aggregates));
    if (v.json) console.log(toJson({ model: positionals[0], grid, ...result, aggregates }));
    else console.log(formatSweep(result, aggregates));
    if (result.error) {
      console.error(`quantlab sweep: ${loaded.baseline} failed after ${result.done} of ${result.total} runs: ${result.error.message}`);
      return 2;
    }
  } finally {
    process.off('SIGINT', onSigint);
    await Promise.all(loaded.runners.map((r) => r.dispose()));
  }
  return 0;
}

/** Means over seeds, one line per precision x cell. */
export function formatSweep(r: SweepResult, aggs: SweepAggregate[]): string {
  const f = fixed;
  const rows = [['dtype', 'temp', 'top-k', 'top-p', 'max', 'seeds', 'length', 'prefix', 'ident %', 'dist-1', 'dist-2', 'rep-4', `${r.baseline} PPL (mean ± std)`]];
  for (const a of aggs) {
    rows.push([
      a.dtype, String(a.temperature), String(a.top_k), String(a.top_p), String(a.max_new_tokens), `${a.seeds}${a.errors ? ` (${a.errors} failed)` : ''}`,
      f(a.length_mean, 1), f(a.prefix_match_mean, 1), f(a.identical_pct_mean, 1), f(a.distinct_1_mean, 3), f(a.distinct_2_mean, 3),
      f(a.repetition_rate_mean, 3), `${f(a.ref_ppl_mean, 3)} ± ${f(a.ref_ppl_std, 3)}`,
    ]);
  }
  const out = [formatTable(rows)];
  if (r.cancelled) out.push(`(cancelled: ${r.done} of ${r.total} cell x seed runs finished)`);
  return out.join('\n');
}
