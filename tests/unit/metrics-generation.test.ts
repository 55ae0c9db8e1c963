// Generation metrics on small token sequences counted by hand: agreement, distinct-n,
// repetition rate and the teacher-forced perplexity of a continuation.
import { describe, expect, it } from 'vitest';
import { agreement, distinctN, repetitionRate, scoreContinuation } from '../../src/lib/metrics/generation';

describe('agreement with the baseline continuation', () => {
  it('counts the common prefix and position-wise matches over the longer sequence', () => {
    // Same at 0, 1, then differ at 2, same at 3; the reference is 1 longer: 3 of 5 positions.
    expect(agreement([5, 6, 7, 8, 9], [5, 6, 0, 8])).toEqual({ prefix: 2, identicalPct: 60 });
    expect(agreement([1, 2, 3], [1, 2, 3])).toEqual({ prefix: 3, identicalPct: 100 });
    expect(agreement([1, 2], [9, 2])).toEqual({ prefix: 0, identicalPct: 50 });
    expect(agreement([], [])).toEqual({ prefix: 0, identicalPct: 100 });
    expect(agreement([1], [])).toEqual({ prefix: 0, identicalPct: 0 });
  });
});

describe('diversity', () => {
  it('distinct-1 and distinct-2 are unique n-grams over all n-grams', () => {
    const ids = [1, 2, 1, 2, 3];
    expect(distinctN(ids, 1)).toBeCloseTo(3 / 5, 15); // {1, 2, 3} of 5 tokens
    expect(distinctN(ids, 2)).toBeCloseTo(3 / 4, 15); // (1,2) (2,1) (1,2) (2,3): 3 distinct of 4
    expect(distinctN([7], 2)).toBe(0);
    expect(distinctN([], 1)).toBe(0);
  });

  it('repetition rate is the share of 4-grams that repeat an earlier one', () => {
    // 1 2 3 4 1 2 3 4 1: 4-grams 1234 2341 3412 4123 1234 2341 -> 2 of 6 repeat.
    expect(repetitionRate([1, 2, 3, 4, 1, 2, 3, 4, 1])).toBeCloseTo(2 / 6, 15);
    expect(repetitionRate([1, 2, 3, 4, 5, 6])).toBe(0);
    expect(repetitionRate([9, 9, 9, 9, 9, 9])).toBeCloseTo(2 / 3, 15); // 3 identical 4-grams, 2 repeat
    expect(repetitionRate([1, 2, 3])).toBe(0);
    // Token ids 12,3 and 1,23 must not collide as n-gram keys.
    expect(distinctN([12, 3, 1, 23], 1)).toBe(1);
  });
});

describe('teacher-forced perplexity of a continuation', () => {
  it('scores rows promptLen-1 .. against the new ids only', () => {
    // Vocab 2. Rows: 0 (after the prompt's first token, not scored), 1 -> P(new[0]), 2 -> P(new[1]),
    // 3 (after the last token, not scored). Row 1 = logits (0, 0): P = 1/2. Row 2 = (ln 3, 0): P(0) = 3/4.
    const L = Float32Array.from([9, -9, 0, 0, Math.log(3), 0, 5, 5]);
    const s = scoreContinuation(L, 2, 2, [1, 0]);
    const nll = Math.log(2) + Math.log(4 / 3);
    expect(s.count).toBe(2);
    expect(s.nllSum).toBeCloseTo(nll, 6);
    expect(s.ppl).toBeCloseTo(Math.exp(nll / 2), 6);
    expect(scoreContinuation(L, 2, 2, []).ppl).toBeNaN();
  });
});
