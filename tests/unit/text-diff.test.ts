// The token diff (src/lib/page/text-diff.ts): runs that rebuild both sequences, as many kept
// tokens as a longest common subsequence has (computed here by brute force on short sequences),
// and the per-token view a column draws.
import { describe, expect, it } from 'vitest';
import { diffTokens, diffView, type DiffRun } from '../../src/lib/page/text-diff';

/** LCS length by trying every subsequence of `a` (short inputs only): independent of the DP. */
function bruteLcs(a: number[], b: number[]): number {
  let best = 0;
  for (let mask = 0; mask < 1 << a.length; mask++) {
    const sub = a.filter((_, i) => mask & (1 << i));
    if (sub.length <= best) continue;
    let j = 0;
    for (const x of b) if (j < sub.length && sub[j] === x) j++;
    if (j === sub.length) best = sub.length;
  }
  return best;
}

function rebuild(runs: DiffRun[], a: number[], b: number[]): { a: number[]; b: number[] } {
  const ra: number[] = [];
  const rb: number[] = [];
  let ai = 0;
  let bi = 0;
  for (const r of runs) {
    expect([r.a0, r.b0]).toEqual([ai, bi]);
    if (r.kind === 'same') expect(a.slice(r.a0, r.a1)).toEqual(b.slice(r.b0, r.b1));
    if (r.kind !== 'insert') ra.push(...a.slice(r.a0, r.a1));
    if (r.kind !== 'delete') rb.push(...b.slice(r.b0, r.b1));
    if (r.kind === 'insert') expect(r.a1).toBe(r.a0);
    if (r.kind === 'delete') expect(r.b1).toBe(r.b0);
    ai = r.a1;
    bi = r.b1;
  }
  return { a: ra, b: rb };
}

describe('diffTokens', () => {
  it('marks a replacement as a deletion then an insertion, between kept runs', () => {
    expect(diffTokens([1, 2, 3, 4], [1, 5, 3, 4])).toEqual([
      { kind: 'same', a0: 0, a1: 1, b0: 0, b1: 1 },
      { kind: 'delete', a0: 1, a1: 2, b0: 1, b1: 1 },
      { kind: 'insert', a0: 2, a1: 2, b0: 1, b1: 2 },
      { kind: 'same', a0: 2, a1: 4, b0: 2, b1: 4 },
    ]);
    expect(diffTokens([], [7, 8])).toEqual([{ kind: 'insert', a0: 0, a1: 0, b0: 0, b1: 2 }]);
    expect(diffTokens([7, 8], [])).toEqual([{ kind: 'delete', a0: 0, a1: 2, b0: 0, b1: 0 }]);
    expect(diffTokens([1, 2], [1, 2])).toEqual([{ kind: 'same', a0: 0, a1: 2, b0: 0, b1: 2 }]);
    // A token inserted in the middle keeps everything else.
    expect(diffTokens([1, 2, 3], [1, 9, 2, 3]).map((r) => r.kind)).toEqual(['same', 'insert', 'same']);
  });

  it('keeps as many tokens as a longest common subsequence, and rebuilds both sides', () => {
    let s = 12345;
    const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 4) + 1;
    for (let t = 0; t < 200; t++) {
      const a = Array.from({ length: t % 11 }, rand);
      const b = Array.from({ length: (t * 7) % 12 }, rand);
      const runs = diffTokens(a, b);
      expect(rebuild(runs, a, b)).toEqual({ a, b });
      const kept = runs.filter((r) => r.kind === 'same').reduce((n, r) => n + r.a1 - r.a0, 0);
      expect(kept).toBe(bruteLcs(a, b));
    }
  });

  it('diffs two 1024-token texts that differ throughout', () => {
    const a = Array.from({ length: 1024 }, (_, i) => i % 17);
    const b = Array.from({ length: 1024 }, (_, i) => (i * 5) % 13);
    const runs = diffTokens(a, b);
    expect(rebuild(runs, a, b)).toEqual({ a, b });
  });
});

describe('diffView', () => {
  it("marks the column's inserted tokens and places the baseline's deleted runs before a token", () => {
    const v = diffView([1, 2, 3, 4, 6], [1, 5, 3, 4]);
    expect(v.changed).toEqual([false, true, false, false]);
    expect(v.deletions).toEqual([
      { before: 1, a0: 1, a1: 2 },
      { before: 4, a0: 4, a1: 5 },
    ]);
  });
});
