// The first screen's two computed layout facts: the one-line summary of the folded setup (model,
// precisions, sampling) and the height a column's output box reserves for a run, from the planned
// token count, so the box is the text's size and does not grow while tokens stream.

import type { SamplingSettings } from './settings';

/**
 * The width from which the setup is a side bar to the right of the prompt and the columns (open,
 * after them in keyboard order); below it, folded to one line above them (App.svelte, SetupPanel).
 */
export const WIDE = '(min-width: 1000px)';

/** Characters per token assumed before a column has finished a run of its own (English BPE text). */
export const DEFAULT_CHARS_PER_TOKEN = 4;
/** The fewest lines a column's output box shows (a short run still reads as a box of text). */
export const MIN_OUTPUT_LINES = 3;
/** The most lines reserved: a longer run scrolls inside its box rather than pushing the page down. */
export const MAX_OUTPUT_LINES = 20;

/**
 * The setup in one line, e.g. "aidreams260K · fp32, q8, q4 · temperature 0.8, top-k 40, top-p 0.95,
 * 64 new tokens, seed 42". Precisions none: says so (no columns will show).
 */
export function setupSummary(model: string | undefined, precisions: string[], s: SamplingSettings): string {
  const sampling = [
    `temperature ${s.temperature}`,
    `top-k ${s.topK === 0 ? 'off' : s.topK}`,
    `top-p ${s.topP === 1 ? 'off' : s.topP}`,
    `${s.maxNewTokens} new token${s.maxNewTokens === 1 ? '' : 's'}`,
    ...(s.repetitionPenalty === 1 ? [] : [`repetition penalty ${s.repetitionPenalty}`]),
    `seed ${s.seed}`,
  ].join(', ');
  return [model ?? 'no model', precisions.length ? precisions.join(', ') : 'no precision ticked', sampling].join(' · ');
}

/**
 * Lines of text a run of `plannedTokens` fills in a box `charsPerLine` characters wide, with
 * room for word wrapping (a line breaks before a word that does not fit: about one word lost per
 * line) and one spare line; between MIN_OUTPUT_LINES and MAX_OUTPUT_LINES.
 */
export function outputLines(plannedTokens: number, charsPerToken: number, charsPerLine: number): number {
  const perLine = Math.max(1, Math.floor(charsPerLine));
  const chars = Math.max(0, plannedTokens) * Math.max(0, charsPerToken);
  // Word wrap leaves on average half a word (~3 characters) unused at each line's end.
  const usable = Math.max(1, perLine - 3);
  const lines = Math.ceil(chars / usable) + 1;
  return Math.min(MAX_OUTPUT_LINES, Math.max(MIN_OUTPUT_LINES, lines));
}
