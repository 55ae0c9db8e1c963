// The one transpose (graph builder and quantizer): every element lands at [c, r], also for shapes
// that are not multiples of its 32x32 tiles.
import { describe, expect, it } from 'vitest';
import { transpose } from '../../src/lib/numeric/transpose';

describe('transpose', () => {
  it('moves [r, c] to [c, r] for ragged shapes, and twice gives the input back', () => {
    for (const [rows, cols] of [
      [1, 1],
      [3, 5],
      [37, 70],
      [64, 33],
    ]) {
      const a = Float32Array.from({ length: rows * cols }, (_, i) => i * 0.5 - 7);
      const t = transpose(a, rows, cols);
      expect(t.length).toBe(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t[c * rows + r]).toBe(a[r * cols + c]);
      expect(transpose(t, cols, rows)).toEqual(a);
    }
  });
});
