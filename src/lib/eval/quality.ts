// The teacher-forced quality report: every loaded precision against a baseline on one text,
// windowed and scored as llama.cpp's `perplexity --kl-divergence` does, one window at a time
// so only a window of logits per model is ever held.

import { QuantlabError, toErrorInfo, type ErrorInfo } from '../errors';
import { QualityAccumulator, argmax64, compareLogProbs, logSoftmax64, type QualityStats } from '../metrics/divergence';
import { planWindows, scoredBytes, type Window } from '../metrics/windows';
import { checkLabels, type EvalModel, type LabeledModel, type Logits } from './model';
import { pacer } from './pace';

/** One precision's report: llama.cpp's statistics plus bits per byte. */
export interface PrecisionQuality extends QualityStats {
  /** UTF-8 bytes of text the scored tokens stand for (see scoredBytes()). */
  bytes: number;
  /** nll_sum / ln 2 / bytes: compares models with different tokenizers. */
  bits_per_byte: number;
  /**
   * False when this model tokenizes the text differently from the baseline (another model):
   * it is scored on its own windows and only count, nll_sum, ln_ppl, ppl (with _se), bytes and
   * bits_per_byte are set; the comparison fields are NaN.
   */
  comparable: boolean;
}

export type PrecisionEntry = PrecisionQuality | { error: ErrorInfo };

export interface QualityReport {
  baseline: string;
  ctx: number;
  /** Tokens of the text under the baseline's tokenizer (BOS included). */
  tokens: number;
  /** Windows scored (fewer than windows_total when cancelled). */
  windows: number;
  windows_total: number;
  /** BOS id written at the start of every window, or null. */
  bos: number | null;
  cancelled: boolean;
  results: Record<string, PrecisionEntry>;
}

export type QualityProgress =
  | { status: 'window'; done: number; total: number }
  | { status: 'done'; done: number; total: number; cancelled: boolean };

export interface QualityOptions {
  text: string;
  /** Models to score; the baseline is one of them. */
  models: LabeledModel[];
  baseline: string;
  /** Window length in tokens (llama.cpp's -c, 512 there by default). */
  ctx: number;
  /** Use at most this many windows (llama.cpp's --chunks). */
  maxWindows?: number;
  /** Called with the number of windows once the text is tokenized, before any is scored; throw to refuse. */
  onPlan?: (windows: number) => void;
  signal?: AbortSignal;
  onProgress?: (p: QualityProgress) => void;
}

const bad = (msg: string, detail?: string) => new QuantlabError('bad-argument', msg, detail);

/** Rejects an empty (or whitespace-only) text. */
export function checkText(text: string): void {
  if (typeof text !== 'string' || text.trim() === '')
    throw bad(
      'The text is empty',
      'Paste or load a text to score (a few thousand characters make a steadier estimate).',
    );
}

/** Rejects bad options with a message naming the problem. */
export function checkQualityOptions(o: QualityOptions): void {
  checkText(o.text);
  checkLabels(o.models, o.baseline, 'No model to score');
  if (!Number.isInteger(o.ctx) || o.ctx < 3)
    throw bad(
      `Context length must be a whole number >= 3 (got ${o.ctx})`,
      'Only the second half of each window is scored, so a window needs at least 3 tokens.',
    );
  if (o.maxWindows !== undefined && (!Number.isInteger(o.maxWindows) || o.maxWindows < 1)) {
    throw bad(`Number of windows must be a whole number >= 1 (got ${o.maxWindows})`);
  }
}

async function windowLogits(m: EvalModel, w: Window, label: string): Promise<Logits> {
  const out = await m.logits(w.ids);
  if (out.data.length !== w.ids.length * out.vocab) {
    throw new QuantlabError(
      'internal',
      `${label} returned ${out.data.length} logits for ${w.ids.length} tokens x ${out.vocab}`,
    );
  }
  return out;
}

/** A NaN or +Infinity logit leaves no finite largest log-probability. */
const healthy = (lp: Float64Array) => Number.isFinite(lp[argmax64(lp)]);
const rowOf = (l: Logits, j: number) => l.data.subarray(j * l.vocab, (j + 1) * l.vocab);
const nonFinite = (label: string, pos: number) =>
  new QuantlabError(
    'bad-onnx',
    `${label} produced NaN or infinite logits (at token ${pos} of the text)`,
    'This precision is broken on this device or the file is damaged (fp16 without shader-f16 does this); try another device or rebuild it.',
  );

interface Track {
  label: string;
  model: EvalModel;
  acc: QualityAccumulator;
  bytes: number;
  error?: ErrorInfo;
}

/** Scores every model on `text` against the baseline; returns partial results if cancelled. */
export async function evaluateQuality(o: QualityOptions): Promise<QualityReport> {
  checkQualityOptions(o);
  const base = o.models.find((m) => m.label === o.baseline)!;
  const tokens = await base.model.encode(o.text);
  const bosId = await base.model.bosId();
  const bos = bosId !== undefined && tokens[0] === bosId ? bosId : undefined;
  const windows = planWindows(tokens, o.ctx, bos, o.maxWindows);
  if (windows.length === 0) {
    throw bad(
      `The text is too short: it has ${tokens.length} tokens and one window of context ${o.ctx} needs ${o.ctx}`,
      tokens.length >= 3 ? `Use a longer text or a context of at most ${tokens.length} tokens.` : 'Use a longer text.',
    );
  }
  o.onPlan?.(windows.length);
  const pace = pacer();
  // Models that read the text as the baseline does are compared with it position by position;
  // any other (another model, another tokenizer) only gets its own perplexity.
  const same: Track[] = [];
  const own: Track[] = [];
  for (const m of o.models) {
    const t: Track = { label: m.label, model: m.model, acc: new QualityAccumulator(), bytes: 0 };
    const ids = m === base ? tokens : await m.model.encode(o.text);
    (ids.length === tokens.length && ids.every((v, i) => v === tokens[i]) ? same : own).push(t);
  }
  const total = windows.length;
  let done = 0;
  let cancelled = false;
  for (const w of windows) {
    if (o.signal?.aborted) {
      cancelled = true;
      break;
    }
    const bl = await windowLogits(base.model, w, base.label);
    const lps = [];
    for (let j = w.firstRow; j < w.firstRow + w.scored; j++) {
      await pace();
      const lp = logSoftmax64(rowOf(bl, j));
      if (!healthy(lp)) throw nonFinite(base.label, w.start + j);
      lps.push(lp);
    }
    const bytes = await scoredBytes(tokens, w, (ids) => base.model.decode(ids));
    for (const t of same) {
      if (t.error) continue;
      try {
        const ql = t.model === base.model ? bl : await windowLogits(t.model, w, t.label);
        if (ql.vocab !== bl.vocab) throw bad(`${t.label} has ${ql.vocab} logits per token, the baseline ${bl.vocab}`);
        for (let r = 0; r < lps.length; r++) {
          await pace();
          const j = w.firstRow + r;
          const lq = t.model === base.model ? lps[r] : logSoftmax64(rowOf(ql, j));
          if (!healthy(lq)) throw nonFinite(t.label, w.start + j);
          t.acc.add(compareLogProbs(lps[r], lq, w.ids[j + 1]));
        }
        t.bytes += bytes;
      } catch (err) {
        t.error = toErrorInfo(err);
      }
    }
    done++;
    o.onProgress?.({ status: 'window', done, total });
  }
  for (const t of own) if (!cancelled) cancelled = !(await scoreAlone(t, o));
  o.onProgress?.({ status: 'done', done, total, cancelled });
  const results: Record<string, PrecisionEntry> = {};
  for (const t of [...same, ...own]) results[t.label] = entryOf(t, same.includes(t));
  return {
    baseline: o.baseline,
    ctx: o.ctx,
    tokens: tokens.length,
    windows: done,
    windows_total: total,
    bos: bos ?? null,
    cancelled,
    results,
  };
}

/** Perplexity of a model that tokenizes differently, on its own windows; false if cancelled. */
async function scoreAlone(t: Track, o: QualityOptions): Promise<boolean> {
  try {
    const tokens = await t.model.encode(o.text);
    const bosId = await t.model.bosId();
    const windows = planWindows(
      tokens,
      o.ctx,
      bosId !== undefined && tokens[0] === bosId ? bosId : undefined,
      o.maxWindows,
    );
    if (windows.length === 0)
      throw bad(`The text is too short for ${t.label}: ${tokens.length} tokens, one window needs ${o.ctx}`);
    for (const w of windows) {
      if (o.signal?.aborted) return false;
      const l = await windowLogits(t.model, w, t.label);
      const pace = pacer();
      for (let j = w.firstRow; j < w.firstRow + w.scored; j++) {
        await pace();
        const lq = logSoftmax64(rowOf(l, j));
        if (!healthy(lq)) throw nonFinite(t.label, w.start + j);
        t.acc.add(compareLogProbs(lq, lq, w.ids[j + 1]));
      }
      t.bytes += await scoredBytes(tokens, w, (ids) => t.model.decode(ids));
    }
  } catch (err) {
    t.error = toErrorInfo(err);
  }
  return true;
}

const ALONE_KEEP = new Set(['count', 'nll_sum', 'ln_ppl', 'ln_ppl_se', 'ppl', 'ppl_se']);

function entryOf(t: Track, comparable: boolean): PrecisionEntry {
  if (t.error) return { error: t.error };
  const s = t.acc.stats();
  if (!comparable) for (const k of Object.keys(s) as (keyof QualityStats)[]) if (!ALONE_KEEP.has(k)) s[k] = NaN;
  return { ...s, bytes: t.bytes, bits_per_byte: s.nll_sum / Math.LN2 / t.bytes, comparable };
}
