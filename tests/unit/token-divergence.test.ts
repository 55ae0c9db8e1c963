import { describe, expect, it } from 'vitest';
import { firstDivergence, splitAtToken, tokenSpans } from '../../src/lib/page/token-divergence';

describe('firstDivergence', () => {
  it('finds the first differing position', () => {
    expect(firstDivergence([1, 2, 3, 4], [1, 2, 9, 4])).toBe(2);
    expect(firstDivergence([5], [6])).toBe(0);
    expect(firstDivergence([1, 2, 3], [1, 2, 3])).toBe(-1);
    expect(firstDivergence([], [])).toBe(-1);
  });

  it('counts a length difference only when both runs are complete', () => {
    expect(firstDivergence([1, 2, 3, 4], [1, 2])).toBe(-1);
    expect(firstDivergence([1, 2, 3, 4], [1, 2], true)).toBe(2);
    expect(firstDivergence([1, 2], [1, 2], true)).toBe(-1);
  });
});

describe('splitAtToken', () => {
  // " a"," dream"," of"," sheep": text lengths after each token are 2, 8, 11, 17
  const text = ' a dream of sheep';
  const offsets = [2, 8, 11, 17];

  it('cuts around the token, by hand-counted offsets', () => {
    expect(splitAtToken(text, offsets, 0)).toEqual({ before: '', token: ' a', after: ' dream of sheep' });
    expect(splitAtToken(text, offsets, 2)).toEqual({ before: ' a dream', token: ' of', after: ' sheep' });
    expect(splitAtToken(text, offsets, 3)).toEqual({ before: ' a dream of', token: ' sheep', after: '' });
  });

  it('gives the whole text as before when there is no divergence', () => {
    expect(splitAtToken(text, offsets, -1)).toEqual({ before: text, token: '', after: '' });
  });

  it('survives missing, late or out-of-range offsets without losing text', () => {
    const holes = [2, undefined, 11, 17];
    expect(splitAtToken(text, holes, 1)).toEqual({ before: ' a', token: ' dream of', after: ' sheep' });
    expect(splitAtToken(text, [2, 8], 3)).toEqual({ before: ' a dream', token: ' of sheep', after: '' });
    const parts = splitAtToken(text, [2, 99, 1], 2);
    expect(parts.before + parts.token + parts.after).toBe(text);
    expect(parts.token).toBe('');
  });
});

describe('tokenSpans', () => {
  const text = ' a dream of sheep';
  const cut = (spans: [number, number][]) => spans.map(([a, b]) => text.slice(a, b));

  it('cuts the text at each token boundary and covers it exactly', () => {
    expect(cut(tokenSpans(text, [2, 8, 11, 17], 4))).toEqual([' a', ' dream', ' of', ' sheep']);
  });

  it('gives a token with no recorded boundary no text (its text goes to the next), and the rest to the last', () => {
    expect(cut(tokenSpans(text, [2, undefined, 11, 12], 4))).toEqual([' a', '', ' dream of', ' sheep']);
    expect(cut(tokenSpans(text, [], 3))).toEqual(['', '', text]);
    // Bad offsets (past the text, going back) are clamped: the spans still join into the text.
    const spans = tokenSpans(text, [5, 3, 99, 4], 4);
    expect(cut(spans).join('')).toBe(text);
    expect(tokenSpans('', [], 0)).toEqual([]);
  });
});
