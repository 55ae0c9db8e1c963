// The lab's bits-against-KLD view: the Pareto front (lowest KLD for at most that many bits) of a
// hand-made set of points, worked out by hand, and a report's points (bits from its variants, the
// baseline, failed, incomparable and bit-less precisions left out) grouped by method.
import { describe, expect, it } from 'vitest';
import { bitsKldPoints, bitsKldSeries, paretoFront, type BitsKldPoint } from '../../src/lib/eval/lab-charts';
import type { QualityReport } from '../../src/lib/eval/quality';

const P = (precision: string, bits: number, kld: number, method = 'rtn'): BitsKldPoint => ({
  precision,
  method,
  bits,
  kld,
});

describe('Pareto front of bits against KLD', () => {
  // By hand, in bits order: a (2, 0.5) front; b (3, 0.6) beaten by a; c (3, 0.2) front;
  // d (3, 0.3) beaten by c at equal bits; e (4, 0.2) ties c with more bits: beaten; f (4.5, 0.05)
  // front; g (5, 0.08) beaten by f; h (8, 0.001) front; i (8, 0.001) same as h, given later: off.
  const pts = [
    P('g', 5, 0.08),
    P('d', 3, 0.3),
    P('h', 8, 0.001),
    P('b', 3, 0.6),
    P('e', 4, 0.2),
    P('a', 2, 0.5),
    P('i', 8, 0.001),
    P('c', 3, 0.2, 'mixed'),
    P('f', 4.5, 0.05, 'gptq'),
  ];
  it('keeps the points no other beats, in ascending bits', () => {
    const front = paretoFront(
      pts,
      (p) => p.bits,
      (p) => p.kld,
    );
    expect(front.map((p) => p.precision)).toEqual(['a', 'c', 'f', 'h']);
  });
  it('is empty for no points and the point itself for one', () => {
    expect(paretoFront([], Number, Number)).toEqual([]);
    expect(
      paretoFront(
        [P('x', 4, 1)],
        (p) => p.bits,
        (p) => p.kld,
      ).map((p) => p.precision),
    ).toEqual(['x']);
  });
  it('groups by method in the methods order, each in bits order', () => {
    expect(bitsKldSeries(pts).map((s) => [s.method, s.points.map((p) => p.precision).join('')])).toEqual([
      ['rtn', 'adbeghi'], // bits 2, 3, 3, 4, 5, 8, 8 (equal bits in the order given)
      ['gptq', 'f'],
      ['mixed', 'c'],
    ]);
  });
});

describe("a report's bits-against-KLD points", () => {
  const entry = (kld: number, comparable = true) => ({ kld_mean: kld, kld_se: 0, kld_p99: kld, comparable });
  it('takes bits from the variants and leaves out the baseline, failures and unknown bits', () => {
    const report = {
      baseline: 'fp32',
      results: {
        fp32: entry(0),
        q8: entry(0.001),
        q4: entry(0.02),
        q4_mix: entry(0.015),
        old: entry(0.1),
        other: entry(NaN, false),
        bad: { error: { code: 'internal', message: 'x' } },
      },
    } as unknown as QualityReport;
    const variants = {
      fp32: { method: 'float', bits: 32 },
      q8: { method: 'rtn', bits: 9 },
      q4: { method: 'rtn', bits: 5 },
      q4_mix: { method: 'mixed', bits: 4.25 },
      old: { method: 'rtn' },
      other: { method: 'rtn', bits: 5 },
    };
    expect(bitsKldPoints({ ...report, variants })).toEqual([
      P('q8', 9, 0.001),
      P('q4', 5, 0.02),
      P('q4_mix', 4.25, 0.015, 'mixed'),
    ]);
  });
});
