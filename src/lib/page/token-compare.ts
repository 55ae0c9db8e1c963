// Token-level comparison of one column with the baseline (fp32) column: at every generated
// position, both models' next-token distributions on the column's own prefix (teacher-forced),
// the KL divergence between them, the chosen token's probability in each, and each one's top
// candidates. Float64 arithmetic on the float32 logits, as the quality lab's metrics do.

import { compareLogProbs, logSoftmax64 } from '../metrics/divergence';

/** One candidate next token and its probability. */
export interface Candidate {
  id: number;
  p: number;
}

/** The comparison at one generated token. */
export interface TokenStat {
  /** KL(P_baseline || Q_column) in nats over the whole vocabulary (0 for the baseline itself). */
  kld: number;
  /** The chosen token's probability in this column (softmax of the logits, temperature 1, no top-k). */
  p: number;
  /** The chosen token's probability in the baseline on the same prefix. */
  pBase: number;
  /** This column's most probable next tokens, most probable first. */
  top: Candidate[];
  /** The baseline's most probable next tokens on the same prefix. */
  topBase: Candidate[];
}

/** What a column shows on hover: the stats, and the text of every candidate id (decoded alone). */
export interface TokenComparison {
  stats: TokenStat[];
  pieces: Record<number, string>;
}

/** Candidates shown per side. */
export const TOP_CANDIDATES = 5;

/**
 * Logits cut off past this many floats (positions x vocabulary) are not compared token by token:
 * the column's teacher-forced logits cross to the baseline worker whole (4 bytes a float).
 */
export const MAX_COMPARE_FLOATS = 32 * 1024 * 1024;

/** The `k` largest log-probabilities as probabilities, largest first (the lower id first on ties). */
export function topCandidates(logProbs: ArrayLike<number>, k: number): Candidate[] {
  const ids: number[] = [];
  const lps: number[] = [];
  for (let id = 0; id < logProbs.length; id++) {
    const lp = logProbs[id];
    if (ids.length === k && !(lp > lps[k - 1])) continue;
    let at = ids.length;
    while (at > 0 && lps[at - 1] < lp) at--;
    ids.splice(at, 0, id);
    lps.splice(at, 0, lp);
    if (ids.length > k) {
      ids.pop();
      lps.pop();
    }
  }
  return ids.map((id, i) => ({ id, p: Math.exp(lps[i]) }));
}

/**
 * Compares the generated tokens `ids[from + 1 ..]` position by position. `base` and `model` are
 * teacher-forced logits [rows x vocab] of the same `ids` (row r predicts ids[r + 1]); `model`
 * null compares the baseline with itself (every KLD 0).
 */
export function compareTokens(
  ids: readonly number[],
  from: number,
  vocab: number,
  base: Float32Array,
  model: Float32Array | null,
  k = TOP_CANDIDATES,
): TokenStat[] {
  const out: TokenStat[] = [];
  for (let r = from; r + 1 < ids.length; r++) {
    const lp = logSoftmax64(base.subarray(r * vocab, (r + 1) * vocab));
    const lq = model ? logSoftmax64(model.subarray(r * vocab, (r + 1) * vocab)) : lp;
    const token = ids[r + 1];
    const s = compareLogProbs(lp, lq, token);
    const topBase = topCandidates(lp, k);
    out.push({
      kld: model ? Math.max(0, s.kld) : 0,
      p: Math.exp(lq[token]),
      pBase: Math.exp(lp[token]),
      top: model ? topCandidates(lq, k) : topBase,
      topBase,
    });
  }
  return out;
}

/**
 * Why a comparison of `rows` positions over `vocab` tokens is refused (too large to send between
 * workers), or null.
 */
export function compareTooLarge(rows: number, vocab: number): string | null {
  if (rows * vocab <= MAX_COMPARE_FLOATS) return null;
  return `Token-by-token comparison skipped: ${rows} positions × ${vocab} tokens of vocabulary is more than this page compares (${MAX_COMPARE_FLOATS / 1024 / 1024} M values). Lower Max new tokens to compare.`;
}
