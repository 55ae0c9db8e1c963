// Aligns a column's tokens with the baseline's, as a text diff tool would: a longest common
// subsequence of token ids, then runs of kept, inserted and deleted tokens. A column shows its
// inserted tokens marked and the baseline's deleted ones struck out where they were.

/** A run of the alignment: `base[a0, a1)` against `other[b0, b1)`. */
export interface DiffRun {
  kind: 'same' | 'insert' | 'delete';
  a0: number;
  a1: number;
  b0: number;
  b1: number;
}

/**
 * Longest-common-subsequence diff of `other` against `base`, as runs in order: O(n·m) time and
 * 4·n·m bytes over the part between their common head and tail. Where a run both deletes and inserts (a replacement), the deletion comes first.
 * Among the alignments of equal length, it keeps the earliest matches of `base`.
 */
export function diffTokens(base: readonly number[], other: readonly number[]): DiffRun[] {
  // Common head and tail cost nothing: the table covers only the middle, where they differ.
  let head = 0;
  while (head < base.length && head < other.length && base[head] === other[head]) head++;
  let tail = 0;
  while (
    tail < base.length - head &&
    tail < other.length - head &&
    base[base.length - 1 - tail] === other[other.length - 1 - tail]
  )
    tail++;
  const n = base.length - head - tail;
  const m = other.length - head - tail;
  // lcs[i][j]: LCS length of base[head+i ..] and other[head+j ..] within the middle.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i * w + j] =
        base[head + i] === other[head + j]
          ? lcs[(i + 1) * w + j + 1] + 1
          : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
  const runs: DiffRun[] = [];
  const push = (kind: DiffRun['kind'], a: number, b: number) => {
    const last = runs[runs.length - 1];
    const a1 = a + (kind === 'insert' ? 0 : 1);
    const b1 = b + (kind === 'delete' ? 0 : 1);
    if (last && last.kind === kind && last.a1 === a && last.b1 === b) {
      last.a1 = a1;
      last.b1 = b1;
    } else runs.push({ kind, a0: a, a1, b0: b, b1 });
  };
  for (let k = 0; k < head; k++) push('same', k, k);
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && base[head + i] === other[head + j]) {
      push('same', head + i, head + j);
      i++;
      j++;
    } else if (j === m || (i < n && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
      push('delete', head + i, head + j);
      i++;
    } else {
      push('insert', head + i, head + j);
      j++;
    }
  }
  for (let k = 0; k < tail; k++) push('same', head + n + k, head + m + k);
  return runs;
}

/** How a column draws its tokens in diff mode. */
export interface DiffView {
  /** For each of `other`'s tokens: kept from the baseline, or not (inserted or replacing). */
  changed: boolean[];
  /** Baseline token ranges [a0, a1) deleted just before `other`'s token `before` (its length: at the end). */
  deletions: { before: number; a0: number; a1: number }[];
}

/** The diff as per-token marks for `other`'s tokens and the deletions between them. */
export function diffView(base: readonly number[], other: readonly number[]): DiffView {
  const changed = new Array<boolean>(other.length).fill(false);
  const deletions: DiffView['deletions'] = [];
  for (const r of diffTokens(base, other)) {
    if (r.kind === 'insert') for (let b = r.b0; b < r.b1; b++) changed[b] = true;
    else if (r.kind === 'delete') deletions.push({ before: r.b0, a0: r.a0, a1: r.a1 });
  }
  return { changed, deletions };
}
