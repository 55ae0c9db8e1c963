// Token-level comparison (src/lib/page/token-compare.ts) and its colour scale (kld-scale.ts)
// against float64 computed here from the definitions: softmax, KL(P || Q) = sum P ln(P/Q), and
// the top candidates by sorting the whole vocabulary.
import { describe, expect, it } from 'vitest';
import { compareTokens, compareTooLarge, topCandidates, MAX_COMPARE_FLOATS } from '../../src/lib/page/token-compare';
import { KLD_BINS, kldBin } from '../../src/lib/page/kld-scale';

/** A small deterministic generator (not the project's), for logits spread over a few units. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Softmax in float64 by its definition (logits are small, so exp does not overflow). */
function softmax(row: ArrayLike<number>): number[] {
  const e = Array.from(row, (x) => Math.exp(x));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

const kl = (p: number[], q: number[]) => p.reduce((s, pi, i) => s + (pi > 0 ? pi * Math.log(pi / q[i]) : 0), 0);

function top(p: number[], k: number): { id: number; p: number }[] {
  return p
    .map((x, id) => ({ id, p: x }))
    .sort((a, b) => b.p - a.p || a.id - b.id)
    .slice(0, k);
}

describe('compareTokens', () => {
  const V = 37;
  const ids = [3, 9, 1, 30, 30, 7, 12];
  const rand = lcg(7);
  const base = Float32Array.from({ length: ids.length * V }, () => (rand() - 0.5) * 8);
  // The "quantized" model: the baseline's logits plus noise, so the distributions are close but not equal.
  const model = Float32Array.from(base, (x) => x + (rand() - 0.5) * 0.6);

  it('gives each generated token the KLD, probabilities and top-5 of both rows on its prefix', () => {
    const from = 2; // prompt of 3 ids: tokens 3.. are generated, predicted by rows 2..
    const stats = compareTokens(ids, from, V, base, model);
    expect(stats).toHaveLength(ids.length - 1 - from);
    for (const [k, s] of stats.entries()) {
      const r = from + k;
      const P = softmax(base.subarray(r * V, (r + 1) * V));
      const Q = softmax(model.subarray(r * V, (r + 1) * V));
      const token = ids[r + 1];
      expect(s.kld).toBeGreaterThan(1e-4);
      expect(s.kld).toBeCloseTo(kl(P, Q), 12);
      expect(s.p).toBeCloseTo(Q[token], 12);
      expect(s.pBase).toBeCloseTo(P[token], 12);
      const want = top(Q, 5);
      expect(s.top.map((c) => c.id)).toEqual(want.map((c) => c.id));
      for (const [i, c] of s.top.entries()) expect(c.p).toBeCloseTo(want[i].p, 12);
      expect(s.topBase.map((c) => c.id)).toEqual(top(P, 5).map((c) => c.id));
      expect(s.topBase.reduce((a, c) => a + c.p, 0)).toBeLessThanOrEqual(1);
    }
  });

  it('compares the baseline with itself as zero divergence', () => {
    const stats = compareTokens(ids, 0, V, base, null);
    expect(stats).toHaveLength(ids.length - 1);
    for (const s of stats) {
      expect(s.kld).toBe(0);
      expect(s.p).toBe(s.pBase);
      expect(s.top).toEqual(s.topBase);
    }
  });
});

describe('topCandidates', () => {
  it('matches a full sort, ties to the lower id, and handles k above the vocabulary', () => {
    const lp = [-1, -0.5, -3, -0.5, -2].map((x) => x);
    expect(topCandidates(lp, 3).map((c) => c.id)).toEqual([1, 3, 0]);
    expect(topCandidates(lp, 10).map((c) => c.id)).toEqual([1, 3, 0, 4, 2]);
    expect(topCandidates(lp, 0)).toEqual([]);
    expect(topCandidates(lp, 1)[0].p).toBeCloseTo(Math.exp(-0.5), 15);
  });
});

describe('compareTooLarge', () => {
  it('refuses more than MAX_COMPARE_FLOATS values, naming the sizes and what to do', () => {
    expect(compareTooLarge(100, 512)).toBeNull();
    expect(compareTooLarge(MAX_COMPARE_FLOATS / 512, 512)).toBeNull();
    const msg = compareTooLarge(1100, 49152);
    expect(msg).toContain('1100 positions × 49152');
    expect(msg).toContain('Lower Max new tokens');
  });
});

describe('kldBin', () => {
  it('puts each value in the decade bin that holds it, in increasing colour order', () => {
    expect(kldBin(0)).toBe(0);
    expect(kldBin(NaN)).toBe(0);
    expect(kldBin(-1)).toBe(0);
    expect(kldBin(0.000999)).toBe(0);
    expect(kldBin(0.001)).toBe(1);
    expect(kldBin(0.05)).toBe(2);
    expect(kldBin(0.1)).toBe(3);
    expect(kldBin(0.7)).toBe(4);
    expect(kldBin(1)).toBe(5);
    expect(kldBin(50)).toBe(5);
    for (let i = 1; i < KLD_BINS.length; i++) expect(KLD_BINS[i].from).toBe(KLD_BINS[i - 1].to);
  });
});
