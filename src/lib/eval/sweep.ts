// Sensitivity sweeps: every precision generates over a grid of sampling settings with shared
// seeds (coupled sampling), and each continuation is scored against the baseline's one; cancel
// between cells keeps the rows done so far. Greedy cells run once and are copied to every seed,
// yielding to the event loop as it goes (pace.ts), so a page running this stays interruptible.

import { QuantlabError, toErrorInfo, type ErrorInfo } from '../errors';
import { agreement, distinctN, repetitionRate, scoreContinuation } from '../metrics/generation';
import { checkLabels, type Generation, type LabeledModel } from './model';
import { pacer } from './pace';
import { checkSweepPlan, LIMITS, SWEEP_RANGES } from './plan';

export interface SweepGrid {
  prompt: string;
  temperatures: number[];
  /** 0 = off. */
  topKs: number[];
  /** 1 = off. */
  topPs: number[];
  maxNewTokens: number[];
  seeds: number[];
  /** Default 1. */
  repetitionPenalty?: number;
  chatTemplate?: boolean;
}

/** One grid cell (all seeds of it share these settings). */
export interface SweepCell {
  temperature: number;
  top_k: number;
  top_p: number;
  max_new_tokens: number;
}

/** One precision x cell x seed; metric names are the CSV/JSON columns. */
export interface SweepRow extends SweepCell {
  dtype: string;
  seed: number;
  /** New tokens generated. */
  length: number;
  /** Tokens identical to the baseline's continuation before the first divergence. */
  prefix_match: number;
  /** Percent of positions identical to the baseline's continuation (see agreement()). */
  identical_pct: number;
  distinct_1: number;
  distinct_2: number;
  /** seq-rep-4: share of 4-grams repeating an earlier one. */
  repetition_rate: number;
  /** The baseline model's perplexity of this continuation given the prompt (NaN if empty). */
  ref_ppl: number;
  text: string;
  /** Set when this precision failed in this cell; the metrics are then NaN. */
  error?: ErrorInfo;
}

export const ROW_METRICS = [
  'length',
  'prefix_match',
  'identical_pct',
  'distinct_1',
  'distinct_2',
  'repetition_rate',
  'ref_ppl',
] as const;
export type RowMetric = (typeof ROW_METRICS)[number];

/**
 * On 'cell', rows are what that (cell, seed) unit added, so a page can show partial results; 'token'
 * comes as generations stream. `tokens`: new tokens generated so far, all precisions.
 */
export type SweepProgress =
  | { status: 'cell'; done: number; total: number; tokens: number; cell: SweepCell; seed: number; rows: SweepRow[] }
  | { status: 'token'; done: number; total: number; tokens: number }
  | { status: 'done'; done: number; total: number; tokens: number; cancelled: boolean };

export interface SweepOptions {
  grid: SweepGrid;
  models: LabeledModel[];
  /** The precision the others are compared with and whose model scores every continuation. */
  baseline: string;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

export interface SweepResult {
  baseline: string;
  prompt: string;
  rows: SweepRow[];
  /** (cell, seed) units finished, of total; fewer when cancelled. */
  done: number;
  total: number;
  cancelled: boolean;
  /** Set when the baseline failed: the sweep stopped there and `rows` holds what finished before. */
  error?: ErrorInfo;
}

const bad = (msg: string, detail?: string) => new QuantlabError('bad-argument', msg, detail);

function checkList(name: string, xs: number[], ok: (x: number) => boolean, rule: string): void {
  if (!Array.isArray(xs) || xs.length === 0) throw bad(`${name}: give at least one value`);
  if (xs.length > LIMITS.listValues)
    throw bad(`${name}: ${xs.length} values is too many (at most ${LIMITS.listValues})`);
  const b = xs.find((x) => !ok(x));
  if (b !== undefined) throw bad(`${name}: ${b} is not ${rule}`);
  const dup = xs.find((x, i) => xs.indexOf(x) !== i);
  if (dup !== undefined) throw bad(`${name}: ${dup} is listed twice`);
}

type Range = { min: number; max: number; integer: boolean };
const inRange = (r: Range) => (x: number) =>
  Number.isFinite(x) && x >= r.min && x <= r.max && (!r.integer || Number.isInteger(x));
const ruleOf = (r: Range) => `${r.integer ? 'a whole number' : 'a number'} from ${r.min} to ${r.max}`;

/** Rejects an empty or out-of-range grid (the playground's ranges, plan.ts), naming the list and the value. */
export function checkSweepGrid(g: SweepGrid): void {
  const R = SWEEP_RANGES;
  checkList('temperatures', g.temperatures, inRange(R.temperature), ruleOf(R.temperature));
  checkList('top-k', g.topKs, inRange(R.topK), `${ruleOf(R.topK)} (0 = off)`);
  checkList('top-p', g.topPs, inRange(R.topP), `${ruleOf(R.topP)} (1 = off)`);
  checkList('max new tokens', g.maxNewTokens, inRange(R.maxNewTokens), ruleOf(R.maxNewTokens));
  if (!Array.isArray(g.seeds) || g.seeds.length === 0) throw bad('seeds: give at least one value');
  const seed = g.seeds.find((x) => !(Number.isInteger(x) && x >= 0 && x <= 0xffffffff));
  if (seed !== undefined) throw bad(`seeds: ${seed} is not a whole number >= 0`);
  const rp = g.repetitionPenalty ?? 1;
  if (!Number.isFinite(rp) || rp <= 0 || rp > R.repetitionPenalty.max)
    throw bad(`repetition penalty must be > 0 and at most ${R.repetitionPenalty.max} (got ${rp})`);
  if (typeof g.prompt !== 'string') throw bad('The prompt must be text');
}

/** checkSweepGrid(), then an unknown baseline or duplicate labels, then a plan over LIMITS. */
export function checkSweepOptions(o: SweepOptions): void {
  checkSweepGrid(o.grid);
  checkLabels(o.models, o.baseline, 'No model to sweep');
  const labels = o.models.map((m) => m.label);
  checkSweepPlan({ ...o.grid, seeds: o.grid.seeds.length }, labels.length);
}

/** The grid's cells in a fixed order: temperature, then top-k, top-p, max new tokens. */
export function gridCells(g: SweepGrid): SweepCell[] {
  const out: SweepCell[] = [];
  for (const temperature of g.temperatures)
    for (const top_k of g.topKs)
      for (const top_p of g.topPs)
        for (const max_new_tokens of g.maxNewTokens) out.push({ temperature, top_k, top_p, max_new_tokens });
  return out;
}

/** Greedy cells (temperature 0 or top-k 1) give the same tokens for every seed and top-p. */
function greedyKey(c: SweepCell): string | undefined {
  return c.temperature === 0 || c.top_k === 1 ? `greedy/${c.max_new_tokens}` : undefined;
}

/**
 * `p`'s value, or undefined as soon as `signal` aborts: Cancel takes effect at once, whatever the
 * model does with its own cancel (the call is left to finish; its result or error is dropped).
 */
function unlessAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  if (!signal) return p;
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

type Outcome = { ok: true; gen: Generation } | { ok: false; error: ErrorInfo };

/** Runs the sweep; per-precision failures become rows with `error`, cancellation returns the rows so far. */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  checkSweepOptions(o);
  const g = o.grid;
  const base = o.models.find((m) => m.label === o.baseline)!;
  const ordered = [base, ...o.models.filter((m) => m !== base)];
  const cells = gridCells(g);
  const total = cells.length * g.seeds.length;
  const rows: SweepRow[] = [];
  const greedyCache = new Map<string, SweepRow[]>();
  let done = 0;
  let cancelled = false;
  let error: ErrorInfo | undefined;
  const pace = pacer();
  let tokens = 0;
  outer: for (const cell of cells) {
    for (const seed of g.seeds) {
      await pace();
      if (o.signal?.aborted) {
        cancelled = true;
        break outer;
      }
      const key = greedyKey(cell);
      const cached = key && greedyCache.get(key);
      let unit: SweepRow[];
      if (cached) {
        unit = cached.map((r) => ({ ...r, ...cell, seed }));
      } else {
        const params = {
          prompt: g.prompt,
          temperature: cell.temperature,
          topK: cell.top_k,
          topP: cell.top_p,
          maxNewTokens: cell.max_new_tokens,
          seed,
          repetitionPenalty: g.repetitionPenalty ?? 1,
          chatTemplate: g.chatTemplate,
        };
        const outs: Outcome[] = [];
        for (const m of ordered) {
          const before = tokens;
          const onToken = (n: number) => {
            tokens = before + n;
            o.onProgress?.({ status: 'token', done, total, tokens });
          };
          try {
            const gen = await unlessAborted(m.model.generate(params, o.signal, onToken), o.signal);
            if (!gen) {
              cancelled = true;
              break outer;
            }
            tokens = before + gen.ids.length;
            outs.push({ ok: true, gen });
          } catch (err) {
            outs.push({ ok: false, error: toErrorInfo(err) });
          }
        }
        if (outs.some((x) => x.ok && x.gen.cancelled)) {
          cancelled = true;
          break outer;
        }
        try {
          // Without the baseline's continuation (or its scoring) no row of this unit means anything.
          if (!outs[0].ok) throw outs[0].error;
          const scored = await unlessAborted(scoreUnit(ordered, outs, base, cell, seed), o.signal);
          if (!scored) {
            cancelled = true;
            break outer;
          }
          unit = scored;
        } catch (err) {
          error = toErrorInfo(err);
          break outer;
        }
        if (key) greedyCache.set(key, unit);
      }
      rows.push(...unit);
      done++;
      o.onProgress?.({ status: 'cell', done, total, tokens, cell, seed, rows: unit });
    }
  }
  o.onProgress?.({ status: 'done', done, total, tokens, cancelled });
  return { baseline: o.baseline, prompt: g.prompt, rows, done, total, cancelled, ...(error ? { error } : {}) };
}

async function scoreUnit(
  models: LabeledModel[],
  outs: Outcome[],
  base: LabeledModel,
  cell: SweepCell,
  seed: number,
): Promise<SweepRow[]> {
  const ref = outs[0] as { ok: true; gen: Generation };
  const rows: SweepRow[] = [];
  for (let i = 0; i < models.length; i++) {
    const out = outs[i];
    const head = { dtype: models[i].label, ...cell, seed };
    if (!out.ok) {
      rows.push({
        ...head,
        length: NaN,
        prefix_match: NaN,
        identical_pct: NaN,
        distinct_1: NaN,
        distinct_2: NaN,
        repetition_rate: NaN,
        ref_ppl: NaN,
        text: '',
        error: out.error,
      });
      continue;
    }
    const { promptIds, ids, text } = out.gen;
    let refPpl = NaN;
    // Row r of the logits predicts token r + 1, so the first new token needs a prompt of >= 1 id.
    if (ids.length > 0 && promptIds.length > 0) {
      const l = await base.model.logits([...promptIds, ...ids]);
      refPpl = scoreContinuation(l.data, l.vocab, promptIds.length, ids).ppl;
    }
    const a = agreement(ref.gen.ids, ids);
    rows.push({
      ...head,
      length: ids.length,
      prefix_match: a.prefix,
      identical_pct: a.identicalPct,
      distinct_1: distinctN(ids, 1),
      distinct_2: distinctN(ids, 2),
      repetition_rate: repetitionRate(ids),
      ref_ppl: refPpl,
      text,
    });
  }
  return rows;
}
