// The divergence metrics against hand calculations in float64: log-softmax, KL of 3-token
// distributions, llama.cpp's percentile and uncertainty formulas, the accumulated report, and
// which positions the windowing scores.
import { describe, expect, it } from 'vitest';
import {
  QualityAccumulator,
  argmax64,
  compareLogProbs,
  comparePosition,
  logSoftmax64,
  type PositionStats,
} from '../../src/lib/metrics/divergence';
import { covarianceOfMeans, meanAndUncertainty, percentile, spread } from '../../src/lib/metrics/stats';
import { planWindows, scoredBytes, scoredPerWindow, utf8Bytes } from '../../src/lib/metrics/windows';

const ln = Math.log;

describe('log-softmax and one position', () => {
  it('log-softmax equals ln of the probabilities, shifted logits included, without overflow', () => {
    // logits ln(0.5), ln(0.25), ln(0.25) shifted by 1000: softmax is (0.5, 0.25, 0.25).
    const lp = logSoftmax64([ln(0.5) + 1000, ln(0.25) + 1000, ln(0.25) + 1000]);
    expect(lp[0]).toBeCloseTo(ln(0.5), 12);
    expect(lp[1]).toBeCloseTo(ln(0.25), 12);
    expect(lp[2]).toBeCloseTo(ln(0.25), 12);
    expect(logSoftmax64([0, -Infinity])).toEqual(new Float64Array([0, -Infinity]));
  });

  it('KL(P||Q) of P = (1/2, 1/4, 1/4), Q = (1/4, 1/2, 1/4) is ln(2)/4', () => {
    // 0.5 ln(0.5/0.25) + 0.25 ln(0.25/0.5) + 0.25 ln 1 = 0.25 ln 2.
    const s = comparePosition([ln(0.5), ln(0.25), ln(0.25)], [ln(0.25) + 3.7, ln(0.5) + 3.7, ln(0.25) + 3.7], 0);
    expect(s.kld).toBeCloseTo(0.17328679513998632, 14);
    expect(s.nll).toBeCloseTo(ln(4), 14); // Q(token 0) = 1/4
    expect(s.nllBase).toBeCloseTo(ln(2), 14); // P(token 0) = 1/2
    expect(s.pDiff).toBeCloseTo(-0.25, 14); // Δp = Q - P
    expect(s.sameTop).toBe(false);
  });

  it('KL of softmax(1,2,3) against softmax(1,3,2) is (e^3 - e^2) / (e + e^2 + e^3), also at logits near 1000', () => {
    // ln(P/Q) is 0, -1, +1 per token, so KL = p3 - p2 = (e^3 - e^2) / (e + e^2 + e^3) = 0.42051248472...
    for (const shift of [0, 1000]) {
      const s = comparePosition([1 + shift, 2 + shift, 3 + shift], [1 + shift, 3 + shift, 2 + shift], 2);
      expect(s.kld).toBeCloseTo(0.4205124847200242, 12);
      expect(s.sameTop).toBe(false);
    }
  });

  it('a distribution against itself: KLD exactly 0, Δp 0, same top', () => {
    const lp = logSoftmax64([0.3, -1.2, 2.5, 2.5, 0]);
    const s = compareLogProbs(lp, lp, 1);
    expect(s.kld).toBe(0);
    expect(s.pDiff).toBe(0);
    expect(s.nll).toBe(s.nllBase);
    expect(s.sameTop).toBe(true);
  });

  it('ties go to the lowest id, as llama.cpp scans with a strict >', () => {
    expect(argmax64([1, 3, 3, 2])).toBe(1);
  });
});

describe("llama.cpp's statistics", () => {
  it('percentile interpolates between closest ranks (type 7) and clamps at the ends', () => {
    const v = [1, 2, 3, 4];
    expect(percentile(v, 0.5)).toBe(2.5); // the even-count median llama.cpp prints
    expect(percentile(v, 0.9)).toBeCloseTo(3.7, 12); // p = 0.9 * 3 = 2.7 -> 3 + 0.7
    expect(percentile(v, 0.1)).toBeCloseTo(1.3, 12);
    expect(percentile(v, 0.99)).toBeCloseTo(3.97, 12);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 1)).toBe(4);
    expect(percentile([1, 3, 5], 0.5)).toBe(3);
    expect(percentile([7], 0.999)).toBe(7);
  });

  it('mean and uncertainty: se = s / sqrt(n), and 0 for 10 values or fewer', () => {
    // 1..11: mean 6, population variance (n^2 - 1) / 12 = 10, se = sqrt(10 / 10) = 1.
    expect(meanAndUncertainty(66, 506, 11)).toEqual({ mean: 6, se: 1 });
    // 1..10: llama.cpp reports no uncertainty below 11 values.
    expect(meanAndUncertainty(55, 385, 10)).toEqual({ mean: 5.5, se: 0 });
    expect(meanAndUncertainty(0, 0, 0)).toEqual({ mean: 0, se: 0 });
  });

  it('covariance of the means: cov(a, 2a) / (n - 1), 0 below 10 values', () => {
    // a = 1..11, b = 2a: population cov = 2 * 10 = 20, divided by n - 1 = 10 -> 2.
    const a = Array.from({ length: 11 }, (_, i) => i + 1);
    const sa = a.reduce((x, y) => x + y, 0);
    const sab = a.reduce((x, y) => x + 2 * y * y, 0);
    expect(covarianceOfMeans(sa, 2 * sa, sab, 11)).toBeCloseTo(2, 12);
    expect(covarianceOfMeans(45, 90, 570, 9)).toBe(0);
  });

  it('spread: mean, sample std, min, max over finite values', () => {
    // [1, 2, 4]: mean 7/3, sample variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3.
    const s = spread([1, NaN, 2, 4]);
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(7 / 3, 14);
    expect(s.std).toBeCloseTo(Math.sqrt(7 / 3), 14);
    expect([s.min, s.max]).toEqual([1, 4]);
    expect(spread([5]).std).toBe(0);
    expect(spread([NaN]).n).toBe(0);
  });
});

describe('the accumulated report', () => {
  // 12 positions with chosen values (n > 10 so llama.cpp reports uncertainties).
  const pos: PositionStats[] = Array.from({ length: 12 }, (_, i) => ({
    nll: 1 + 0.1 * i + (i % 3) * 0.05,
    nllBase: 1 + 0.1 * i,
    kld: 0.01 * (i + 1),
    pDiff: i % 2 ? 0.02 * i : -0.01 * i,
    sameTop: i % 4 !== 0,
  }));
  const acc = new QualityAccumulator();
  for (const p of pos) acc.add(p);
  const s = acc.stats();
  const n = pos.length;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const se = (xs: number[]) => {
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
  };

  it('PPL = exp(mean NLL) with se = PPL * se(NLL); ln ratio = mean NLL difference with the se of the differences', () => {
    const nll = pos.map((p) => p.nll);
    const diff = pos.map((p) => p.nll - p.nllBase);
    expect(s.count).toBe(12);
    expect(s.ppl).toBeCloseTo(Math.exp(mean(nll)), 12);
    expect(s.ppl_se).toBeCloseTo(Math.exp(mean(nll)) * se(nll), 12);
    expect(s.ppl_base).toBeCloseTo(Math.exp(mean(pos.map((p) => p.nllBase))), 12);
    expect(s.ln_ppl_ratio).toBeCloseTo(mean(diff), 12);
    expect(s.ln_ppl_ratio_se).toBeCloseTo(se(diff), 10);
    expect(s.ppl_ratio).toBeCloseTo(Math.exp(mean(diff)), 12);
  });

  it('KLD mean ± se, percentiles and extremes; Δp mean and RMS; same-top percent', () => {
    // kld = 0.01 .. 0.12: mean 0.065, sample sd sqrt(13/12) * 0.01 ... computed generically below.
    const k = pos.map((p) => p.kld);
    expect(s.kld_mean).toBeCloseTo(0.065, 14);
    expect(s.kld_se).toBeCloseTo(se(k), 12);
    expect(s.kld_max).toBe(0.12);
    expect(s.kld_min).toBe(0.01);
    expect(s.kld_median).toBeCloseTo(0.065, 14); // (0.06 + 0.07) / 2
    expect(s.kld_p99).toBeCloseTo(0.11 + 0.89 * 0.01, 12); // p = 0.99 * 11 = 10.89
    expect(s.kld_p90).toBeCloseTo(0.1 + 0.9 * 0.01, 12); // p = 9.9
    expect(s.kld_p10).toBeCloseTo(0.02 + 0.1 * 0.01, 12); // p = 1.1
    const d = pos.map((p) => p.pDiff);
    expect(s.mean_dp).toBeCloseTo(mean(d), 14);
    expect(s.rms_dp).toBeCloseTo(Math.sqrt(mean(d.map((x) => x * x))), 14);
    // i = 0, 4, 8 differ: 9 of 12 agree.
    expect(s.same_top_pct).toBe(75);
    expect(s.same_top_pct_se).toBeCloseTo(100 * Math.sqrt((0.75 * 0.25) / (n - 1)), 12);
  });

  it('a model against itself: KLD 0, Δp 0, same top 100 %, PPL ratio 1', () => {
    const a = new QualityAccumulator();
    const rows = [
      [0.1, 2, -1, 0.5],
      [3, 3, 0, -2],
      [1, 0, 0, 0],
    ];
    rows.forEach((r, i) => {
      const lp = logSoftmax64(r);
      a.add(compareLogProbs(lp, lp, i));
    });
    const t = a.stats();
    expect([t.kld_mean, t.kld_max, t.kld_min, t.mean_dp, t.rms_dp, t.ln_ppl_ratio]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(t.same_top_pct).toBe(100);
    expect(t.ppl_ratio).toBe(1);
    expect(t.ppl).toBe(t.ppl_base);
  });
});

describe('windows', () => {
  it('scores ctx - 1 - floor(ctx/2) tokens per window (255 for llama.cpp default 512)', () => {
    expect(scoredPerWindow(512)).toBe(255);
    expect(scoredPerWindow(4)).toBe(1);
    expect(scoredPerWindow(5)).toBe(2);
    expect(scoredPerWindow(3)).toBe(1);
  });

  it('cuts back-to-back windows, writes BOS first, drops the remainder, and scores the second half', () => {
    const tokens = [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    const w = planWindows(tokens, 5, 1);
    expect(w.map((x) => x.ids)).toEqual([
      [1, 10, 11, 12, 13],
      [1, 15, 16, 17, 18],
    ]);
    // Rows 2 and 3 predict ids[3] and ids[4]: text tokens 12, 13 and then 17, 18.
    const scoredTargets = w.flatMap((x) => Array.from({ length: x.scored }, (_, r) => x.ids[x.firstRow + r + 1]));
    expect(scoredTargets).toEqual([12, 13, 17, 18]);
    expect(planWindows(tokens, 5).map((x) => x.ids[0])).toEqual([1, 14]); // no BOS: the text's own token
    expect(planWindows(tokens, 5, 1, 1)).toHaveLength(1);
    expect(planWindows(tokens, 12, 1)).toEqual([]);
  });

  it('counts the bytes of the scored span from decoded prefixes', async () => {
    // Token t decodes to t copies of "é" (2 bytes each); BOS (1) decodes to nothing.
    const decode = (ids: number[]) =>
      ids
        .filter((t) => t !== 1)
        .map((t) => 'é'.repeat(t))
        .join('');
    const tokens = [1, 2, 3, 4, 5, 6, 7, 2, 3];
    const [w0, w1] = planWindows(tokens, 4, 1);
    expect(await scoredBytes(tokens, w0, decode)).toBe(2 * 4); // scores token index 3 (4)
    expect(await scoredBytes(tokens, w1, decode)).toBe(2 * 2); // scores token index 7 (2)
    expect(utf8Bytes('a😀é')).toBe(1 + 4 + 2);
  });
});
