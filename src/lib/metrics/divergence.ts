// Per-position comparison of a model's next-token distribution with a baseline's, accumulated
// into llama.cpp's `--kl-divergence` report (tools/perplexity/perplexity.cpp: log_softmax with
// kl_divergence_result, and kl_divergence()'s final statistics). All arithmetic is float64.

import { Float64List, covarianceOfMeans, meanAndUncertainty, percentile } from './stats';

/** Stable log-softmax in float64: x - (max + log sum exp(x - max)). */
export function logSoftmax64(logits: ArrayLike<number>): Float64Array {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i] - lse;
  return out;
}

/** First index of the largest value (llama.cpp scans with a strict `>`, so the lowest id wins ties). */
export function argmax64(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** One scored position: the baseline (P) and the model (Q) predicting the same next token. */
export interface PositionStats {
  /** -ln Q(token). */
  nll: number;
  /** -ln P(token). */
  nllBase: number;
  /** KL(P || Q) = sum_i P_i (ln P_i - ln Q_i), in nats. */
  kld: number;
  /** Q(token) - P(token): llama.cpp's Δp. */
  pDiff: number;
  /** Both rank the same token first. */
  sameTop: boolean;
}

/**
 * Compares two logit rows at one position. Unlike llama.cpp, which stores the baseline's
 * log-probabilities in 16 bits and drops terms with ln P_i <= -16, every term with P_i > 0 counts.
 */
export function comparePosition(
  baseLogits: ArrayLike<number>,
  logits: ArrayLike<number>,
  token: number,
): PositionStats {
  return compareLogProbs(logSoftmax64(baseLogits), logSoftmax64(logits), token);
}

/** comparePosition() on log-probabilities already computed (the baseline's serve every model). */
export function compareLogProbs(lp: Float64Array, lq: Float64Array, token: number): PositionStats {
  let kld = 0;
  for (let i = 0; i < lp.length; i++) {
    const p = Math.exp(lp[i]);
    if (p > 0) kld += p * (lp[i] - lq[i]);
  }
  const nll = -lq[token];
  const nllBase = -lp[token];
  return { nll, nllBase, kld, pDiff: Math.exp(-nll) - Math.exp(-nllBase), sameTop: argmax64(lq) === argmax64(lp) };
}

/**
 * A precision's quality against the baseline, with llama.cpp's names in snake_case (these are
 * also the JSON and CSV column names). Probabilities (Δp) are fractions, not percent; every `_se`
 * is a standard error computed as llama.cpp does; NaN (JSON null) marks a value that is undefined.
 */
export interface QualityStats {
  /** Scored positions. */
  count: number;
  /** Sum of -ln Q(token) over scored positions, in nats. */
  nll_sum: number;
  /** Mean NLL = ln PPL(Q). */
  ln_ppl: number;
  ln_ppl_se: number;
  ppl: number;
  ppl_se: number;
  ppl_base: number;
  ppl_base_se: number;
  /** ln(PPL(Q)/PPL(base)) = mean NLL(Q) - mean NLL(base). */
  ln_ppl_ratio: number;
  ln_ppl_ratio_se: number;
  ppl_ratio: number;
  ppl_ratio_se: number;
  ppl_diff: number;
  ppl_diff_se: number;
  /** Cor(ln PPL(Q), ln PPL(base)). */
  ppl_cor: number;
  kld_mean: number;
  kld_se: number;
  kld_max: number;
  kld_p99_9: number;
  kld_p99: number;
  kld_p95: number;
  kld_p90: number;
  kld_median: number;
  kld_p10: number;
  kld_p5: number;
  kld_p1: number;
  kld_p0_1: number;
  kld_min: number;
  mean_dp: number;
  mean_dp_se: number;
  rms_dp: number;
  rms_dp_se: number;
  dp_max: number;
  dp_p99: number;
  dp_p95: number;
  dp_median: number;
  dp_p5: number;
  dp_p1: number;
  dp_min: number;
  /** Percent of positions where both rank the same token first. */
  same_top_pct: number;
  same_top_pct_se: number;
}

/** Running sums and per-position values for one model against the baseline. */
export class QualityAccumulator {
  count = 0;
  sumNll = 0;
  sumNll2 = 0;
  sumNllBase = 0;
  sumNllBase2 = 0;
  sumNllNllBase = 0;
  sumKld = 0;
  sumKld2 = 0;
  sumPDiff = 0;
  sumPDiff2 = 0;
  sumPDiff4 = 0;
  sameTop = 0;
  readonly kld = new Float64List();
  readonly pDiff = new Float64List();

  add(s: PositionStats): void {
    this.count++;
    this.sumNll += s.nll;
    this.sumNll2 += s.nll * s.nll;
    this.sumNllBase += s.nllBase;
    this.sumNllBase2 += s.nllBase * s.nllBase;
    this.sumNllNllBase += s.nll * s.nllBase;
    this.sumKld += s.kld;
    this.sumKld2 += s.kld * s.kld;
    this.sumPDiff += s.pDiff;
    const d2 = s.pDiff * s.pDiff;
    this.sumPDiff2 += d2;
    this.sumPDiff4 += d2 * d2;
    if (s.sameTop) this.sameTop++;
    this.kld.push(s.kld);
    this.pDiff.push(s.pDiff);
  }

  /** The report, with the formulas of llama.cpp's kl_divergence() (uncertainties included). */
  stats(): QualityStats {
    const n = this.count;
    const lnQ = meanAndUncertainty(this.sumNll, this.sumNll2, n);
    const lnB = meanAndUncertainty(this.sumNllBase, this.sumNllBase2, n);
    const ppl = Math.exp(lnQ.mean);
    const pplBase = Math.exp(lnB.mean);
    const cov = covarianceOfMeans(this.sumNll, this.sumNllBase, this.sumNllNllBase, n);
    const lnRatio = lnQ.mean - lnB.mean;
    // max(0, .): rounding can take a zero variance (a model against itself) slightly negative.
    const lnRatioSe = Math.sqrt(Math.max(0, lnQ.se ** 2 + lnB.se ** 2 - 2 * cov));
    const ratio = Math.exp(lnRatio);
    const pplSe = ppl * lnQ.se;
    const pplBaseSe = pplBase * lnB.se;
    const kld = meanAndUncertainty(this.sumKld, this.sumKld2, n);
    const dp = meanAndUncertainty(this.sumPDiff, this.sumPDiff2, n);
    const mse = meanAndUncertainty(this.sumPDiff2, this.sumPDiff4, n);
    const rms = Math.sqrt(mse.mean);
    const same = n > 0 ? this.sameTop / n : NaN;
    const k = this.kld.sorted();
    const d = this.pDiff.sorted();
    return {
      count: n,
      nll_sum: this.sumNll,
      ln_ppl: lnQ.mean,
      ln_ppl_se: lnQ.se,
      ppl,
      ppl_se: pplSe,
      ppl_base: pplBase,
      ppl_base_se: pplBaseSe,
      ln_ppl_ratio: lnRatio,
      ln_ppl_ratio_se: lnRatioSe,
      ppl_ratio: ratio,
      ppl_ratio_se: ratio * lnRatioSe,
      ppl_diff: ppl - pplBase,
      ppl_diff_se: Math.sqrt(Math.max(0, pplSe ** 2 + pplBaseSe ** 2 - 2 * ppl * pplBase * cov)),
      ppl_cor: lnQ.se > 0 && lnB.se > 0 ? cov / (lnQ.se * lnB.se) : NaN,
      kld_mean: kld.mean,
      kld_se: kld.se,
      kld_max: k[k.length - 1] ?? NaN,
      kld_p99_9: percentile(k, 0.999),
      kld_p99: percentile(k, 0.99),
      kld_p95: percentile(k, 0.95),
      kld_p90: percentile(k, 0.9),
      kld_median: percentile(k, 0.5),
      kld_p10: percentile(k, 0.1),
      kld_p5: percentile(k, 0.05),
      kld_p1: percentile(k, 0.01),
      kld_p0_1: percentile(k, 0.001),
      kld_min: k[0] ?? NaN,
      mean_dp: dp.mean,
      mean_dp_se: dp.se,
      rms_dp: rms,
      rms_dp_se: rms > 0 ? (0.5 / rms) * mse.se : 0,
      dp_max: d[d.length - 1] ?? NaN,
      dp_p99: percentile(d, 0.99),
      dp_p95: percentile(d, 0.95),
      dp_median: percentile(d, 0.5),
      dp_p5: percentile(d, 0.05),
      dp_p1: percentile(d, 0.01),
      dp_min: d[0] ?? NaN,
      same_top_pct: 100 * same,
      same_top_pct_se: n > 1 ? 100 * Math.sqrt((same * (1 - same)) / (n - 1)) : NaN,
    };
  }
}
