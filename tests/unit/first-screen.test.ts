// The first screen's layout facts: the folded setup's one-line summary and the output box's
// reserved lines (hand-counted figures, not the code's own arithmetic).
import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT_LINES, MIN_OUTPUT_LINES, outputLines, setupSummary } from '../../src/lib/page/first-screen';
import { DEFAULT_SETTINGS } from '../../src/lib/page/settings';
import { BUILTIN_MODEL, charsPerTokenHint, HUB_MODELS } from '../../src/lib/catalog';

describe('setupSummary', () => {
  it('says the model, the ticked precisions and the sampling in one line', () => {
    expect(setupSummary('aidreams260K', ['fp32', 'q8', 'q4'], DEFAULT_SETTINGS)).toBe(
      'aidreams260K · fp32, q8, q4 · temperature 0.8, top-k 40, top-p 0.95, 64 new tokens, seed 42',
    );
  });
  it('names settings that are off and a repetition penalty only when it is on', () => {
    const s = { ...DEFAULT_SETTINGS, topK: 0, topP: 1, maxNewTokens: 1, repetitionPenalty: 1.3 };
    expect(setupSummary(undefined, [], s)).toBe(
      'no model · no precision ticked · temperature 0.8, top-k off, top-p off, 1 new token, repetition penalty 1.3, seed 42',
    );
  });
});

describe('outputLines', () => {
  it('reserves the lines the planned tokens fill, with word-wrap room and one spare line', () => {
    // 64 tokens x 3 characters = 192 characters; 40 per line, 37 usable: 192 / 37 = 5.19 -> 6 lines, + 1.
    expect(outputLines(64, 3, 40)).toBe(7);
    // 100 x 4 = 400 characters at 83 usable per line: 4.8 -> 5, + 1.
    expect(outputLines(100, 4, 86.9)).toBe(6);
  });
  it('keeps a short run a box of text and a long one within the cap (it scrolls)', () => {
    expect(outputLines(1, 4, 40)).toBe(MIN_OUTPUT_LINES);
    expect(outputLines(0, 4, 40)).toBe(MIN_OUTPUT_LINES);
    expect(outputLines(1024, 4, 40)).toBe(MAX_OUTPUT_LINES);
  });
  it('survives a box not measured yet (width 0)', () => {
    expect(outputLines(64, 4, 0)).toBe(MAX_OUTPUT_LINES);
  });
});

describe('charsPerTokenHint', () => {
  it('gives the built-in model about 2 characters a token, so its first box is not sized for 4', () => {
    expect(charsPerTokenHint(BUILTIN_MODEL.ref)).toBe(2);
    expect(charsPerTokenHint({ kind: 'served', id: 'aidreams260K' })).toBe(2);
    // 64 tokens x 2 = 128 characters at 37 usable per line: 3.46 -> 4 lines, + 1 (at 4 it was 8).
    expect(outputLines(64, charsPerTokenHint(BUILTIN_MODEL.ref)!, 40)).toBe(5);
  });
  it('has no hint for a model it knows nothing of (the default applies)', () => {
    expect(charsPerTokenHint(HUB_MODELS[0].ref)).toBeUndefined();
    expect(charsPerTokenHint({ kind: 'local', id: 'mine' })).toBeUndefined();
  });
});
