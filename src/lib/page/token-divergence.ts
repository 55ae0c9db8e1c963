// Where a column's tokens first part from the fp32 column's, and how to cut its text at that
// token so the page can highlight it (the text is streamed, so token boundaries are recorded
// as text lengths while tokens arrive).

/**
 * Index of the first position where two id sequences differ. Positions past the shorter one
 * count only when `complete` (both runs finished): a run still streaming has not diverged yet.
 * Returns -1 when no difference is known.
 */
export function firstDivergence(a: readonly number[], b: readonly number[], complete = false): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return complete && a.length !== b.length ? n : -1;
}

export interface TextSplit {
  before: string;
  token: string;
  after: string;
}

/**
 * Cuts `text` around token `index`, given `offsets[k]` = length of the decoded text after token k
 * (entries may be missing when token events arrived late). Offsets are clamped to the text and
 * made non-decreasing, so a bad record never throws or loses text. Without a usable index the
 * whole text is `before`.
 */
export function splitAtToken(text: string, offsets: readonly (number | undefined)[], index: number): TextSplit {
  if (index < 0) return { before: text, token: '', after: '' };
  const at = (k: number): number => {
    // the nearest recorded boundary at or before token k (0 before the first token)
    for (let j = Math.min(k, offsets.length - 1); j >= 0; j--) {
      const o = offsets[j];
      if (typeof o === 'number' && Number.isFinite(o)) return Math.max(0, Math.min(text.length, o));
    }
    return 0;
  };
  const start = index === 0 ? 0 : at(index - 1);
  // the first recorded boundary at or after token `index` (the text's end when none is)
  let end = text.length;
  for (let j = index; j < offsets.length; j++) {
    const o = offsets[j];
    if (typeof o === 'number' && Number.isFinite(o)) {
      end = Math.max(0, Math.min(text.length, o));
      break;
    }
  }
  if (end < start) end = start;
  return { before: text.slice(0, start), token: text.slice(start, end), after: text.slice(end) };
}

/**
 * Each token's [start, end) in `text`, from `offsets[k]` = the text's length after token k (a
 * missing or bad entry repeats the last boundary, so that token is empty and its text goes to the
 * next). The spans cover the text exactly: the last token ends at the text's end, and text before
 * the first token (none, normally) belongs to it.
 */
export function tokenSpans(text: string, offsets: readonly (number | undefined)[], tokens: number): [number, number][] {
  const spans: [number, number][] = [];
  let start = 0;
  for (let k = 0; k < tokens; k++) {
    const o = offsets[k];
    let end = typeof o === 'number' && Number.isFinite(o) ? Math.max(start, Math.min(text.length, o)) : start;
    if (k === tokens - 1) end = text.length;
    spans.push([start, end]);
    start = end;
  }
  return spans;
}
