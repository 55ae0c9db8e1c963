// `quantlab sweep`: the papers' temperature / top-k / top-p / length experiments on several
// precisions of one model folder, with shared seeds; a table of means over seeds, JSON or CSV.

import { writeFileSync } from 'node:fs';
import { QuantlabError } from '../../lib/errors';
import { toJson } from '../../lib/eval/export';
import { checkSweepPlan, count, describeSweep, LIMITS, planSweep, SWEEP_RANGES } from '../../lib/eval/plan';
import { checkSweepGrid, runSweep, type SweepResult } from '../../lib/eval/sweep';
import { aggregateSweep, sweepAggregatesCsv, sweepRowsCsv, type SweepAggregate } from '../../lib/eval/tables';
import type { FlagSpecs, ParsedArgs } from '../args';
import { defineCommand } from '../command';
import { fixed, formatTable, progressLine } from '../format';
import { loadPrecisions } from '../model-folder';

const range = (r: { label: string; min: number; max: number }) => `${r.label.toLowerCase()} ${r.min}-${r.max}`;

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
Values keep to the page's ranges (${range(SWEEP_RANGES.temperature)}, ${range(SWEEP_RANGES.topK)}, ${range(SWEEP_RANGES.topP)},
${range(SWEEP_RANGES.maxNewTokens)}; at most ${LIMITS.listValues} values a list), and a sweep to at most ${count(LIMITS.rows)} rows
(runs x precisions) and ${count(LIMITS.tokens)} new tokens; its size is shown (on a terminal) before it starts.
Ctrl-C stops between cells and prints what has finished.`;

const FLAGS = {
  dtypes: { type: 'list', default: ['fp32'] },
  baseline: { type: 'string' },
  prompt: { type: 'string', default: '' },
  temperatures: { type: 'numbers', default: [0] },
  'top-k': { type: 'numbers', default: [0] },
  'top-p': { type: 'numbers', default: [1] },
  'max-new-tokens': { type: 'numbers', default: [64] },
  seeds: { type: 'int', min: 1, default: 1 },
  'repetition-penalty': { type: 'number', default: 1 },
  chat: { type: 'boolean' },
  json: { type: 'boolean' },
  csv: { type: 'string' },
  'summary-csv': { type: 'string' },
} as const satisfies FlagSpecs;

export const sweepCommand = defineCommand({
  name: 'sweep',
  summary: 'Generate over a grid of sampling settings and score agreement, diversity, quality.',
  help: HELP,
  flags: FLAGS,
  run: runSweepCommand,
});

async function runSweepCommand({ values: v, positionals }: ParsedArgs<typeof FLAGS>): Promise<number> {
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'sweep needs exactly one model folder', HELP);
  const shape = {
    temperatures: v.temperatures,
    topKs: v['top-k'],
    topPs: v['top-p'],
    maxNewTokens: v['max-new-tokens'],
    seeds: v.seeds,
  };
  // The page's limits, checked before a seed list is built or a model is loaded.
  checkSweepGrid({ ...shape, prompt: v.prompt, seeds: [0], repetitionPenalty: v['repetition-penalty'] });
  checkSweepPlan(shape, v.dtypes.length);
  const grid = {
    ...shape,
    prompt: v.prompt,
    seeds: Array.from({ length: v.seeds }, (_, i) => i),
    repetitionPenalty: v['repetition-penalty'],
    chatTemplate: v.chat,
  };
  if (process.stderr.isTTY) process.stderr.write(`${describeSweep(planSweep(shape, v.dtypes.length))}\n`);
  const loaded = await loadPrecisions(positionals[0], v.dtypes, v.baseline);
  const ctrl = new AbortController();
  const onSigint = () => ctrl.abort();
  process.once('SIGINT', onSigint);
  try {
    const base = loaded.models.find((m) => m.label === loaded.baseline)!;
    const promptLen = (await base.model.encode(grid.prompt)).length;
    const longest = Math.max(...grid.maxNewTokens.filter(Number.isFinite));
    if (loaded.maxPositions !== undefined && promptLen + longest > loaded.maxPositions) {
      throw new QuantlabError(
        'bad-argument',
        `The prompt (${promptLen} tokens) plus --max-new-tokens ${longest} exceeds the model's ${loaded.maxPositions} positions`,
        `Use --max-new-tokens ${Math.max(1, loaded.maxPositions - promptLen)} or less.`,
      );
    }
    const result = await runSweep({
      grid,
      models: loaded.models,
      baseline: loaded.baseline,
      signal: ctrl.signal,
      onProgress: (p) => p.status === 'cell' && progressLine(p.done, p.total, 'cell x seed'),
    });
    const aggregates = aggregateSweep(result.rows);
    if (typeof v.csv === 'string') writeFileSync(v.csv, sweepRowsCsv(result.rows));
    if (typeof v['summary-csv'] === 'string') writeFileSync(v['summary-csv'], sweepAggregatesCsv(aggregates));
    if (v.json) console.log(toJson({ model: positionals[0], grid, ...result, aggregates }));
    else console.log(formatSweep(result, aggregates));
    if (result.error) {
      console.error(
        `quantlab sweep: ${loaded.baseline} failed after ${result.done} of ${result.total} runs: ${result.error.message}`,
      );
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
  const rows = [
    [
      'dtype',
      'temp',
      'top-k',
      'top-p',
      'max',
      'seeds',
      'length',
      'prefix',
      'ident %',
      'dist-1',
      'dist-2',
      'rep-4',
      `${r.baseline} PPL (mean ± std)`,
    ],
  ];
  for (const a of aggs) {
    rows.push([
      a.dtype,
      String(a.temperature),
      String(a.top_k),
      String(a.top_p),
      String(a.max_new_tokens),
      `${a.seeds}${a.errors ? ` (${a.errors} failed)` : ''}`,
      f(a.length_mean, 1),
      f(a.prefix_match_mean, 1),
      f(a.identical_pct_mean, 1),
      f(a.distinct_1_mean, 3),
      f(a.distinct_2_mean, 3),
      f(a.repetition_rate_mean, 3),
      `${f(a.ref_ppl_mean, 3)} ± ${f(a.ref_ppl_std, 3)}`,
    ]);
  }
  const out = [formatTable(rows)];
  if (r.cancelled) out.push(`(cancelled: ${r.done} of ${r.total} cell x seed runs finished)`);
  return out.join('\n');
}
