// Metrics of one generated continuation for the sensitivity sweeps: how far it agrees with the
// baseline's continuation under the same seed, how varied it is, and how likely the baseline
// model finds it (a quality proxy). All on token ids, so they do not depend on detokenization.

import { logSoftmax64 } from './divergence';

export interface Agreement {
  /** Tokens identical before the first divergence. */
  prefix: number;
  /**
   * Percent of positions 0 .. max(len a, len b) - 1 holding the same token in both (a position
   * only one of them reaches counts as different); 100 when both are empty.
   */
  identicalPct: number;
}

/** Position-wise agreement of a continuation `ids` with the reference continuation `ref`. */
export function agreement(ref: readonly number[], ids: readonly number[]): Agreement {
  const n = Math.max(ref.length, ids.length);
  const m = Math.min(ref.length, ids.length);
  let prefix = 0;
  while (prefix < m && ref[prefix] === ids[prefix]) prefix++;
  let same = 0;
  for (let i = 0; i < m; i++) if (ref[i] === ids[i]) same++;
  return { prefix, identicalPct: n === 0 ? 100 : (100 * same) / n };
}

function ngramKeys(ids: readonly number[], n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i + n <= ids.length; i++) keys.push(ids.slice(i, i + n).join(','));
  return keys;
}

/**
 * distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function"): distinct n-grams /
 * all n-grams of the sequence, over token ids. 0 when the sequence has no n-gram.
 */
export function distinctN(ids: readonly number[], n: number): number {
  const keys = ngramKeys(ids, n);
  return keys.length === 0 ? 0 : new Set(keys).size / keys.length;
}

/**
 * Repetition rate: the share of the sequence's n-grams (n = 4 by default) that repeat an n-gram
 * seen earlier in it, i.e. 1 - distinct-n; Welleck et al. 2019's seq-rep-4 ("Neural Text
 * Generation with Unlikelihood Training"). 0 for a sequence shorter than n.
 */
export function repetitionRate(ids: readonly number[], n = 4): number {
  const keys = ngramKeys(ids, n);
  return keys.length === 0 ? 0 : 1 - new Set(keys).size / keys.length;
}

/** Summed and mean NLL of a continuation under teacher forcing, and its perplexity. */
export interface ContinuationScore {
  /** Scored tokens (= ids.length). */
  count: number;
  nllSum: number;
  /** exp(nllSum / count); NaN for an empty continuation. */
  ppl: number;
}

/**
 * Scores a continuation from teacher-forced logits over prompt + continuation
 * (`logits` is [(promptLen + ids.length) x vocab], row r predicting token r + 1): the rows
 * promptLen - 1 .. promptLen + ids.length - 2 against ids. Needs promptLen >= 1 (the BOS counts).
 */
export function scoreContinuation(
  logits: Float32Array,
  vocab: number,
  promptLen: number,
  ids: readonly number[],
): ContinuationScore {
  let nllSum = 0;
  for (let k = 0; k < ids.length; k++) {
    const r = promptLen - 1 + k;
    const lp = logSoftmax64(logits.subarray(r * vocab, (r + 1) * vocab));
    nllSum -= lp[ids[k]];
  }
  return { count: ids.length, nllSum, ppl: ids.length ? Math.exp(nllSum / ids.length) : NaN };
}
