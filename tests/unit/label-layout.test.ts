// Scatter labels: no two overlap and none leaves the plot area, even for points on one spot or at an edge.
import { describe, expect, it } from 'vitest';
import { placeLabels, type Box } from '../../src/lib/page/label-layout';

const AREA: Box = { x: 0, y: 0, w: 400, h: 200 };
const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const inside = (b: Box) => b.x >= AREA.x && b.y >= AREA.y && b.x + b.w <= AREA.w && b.y + b.h <= AREA.h;

describe('placeLabels', () => {
  it('puts a lone label to the right of its point', () => {
    expect(placeLabels([{ x: 100, y: 100, w: 30, h: 12 }], AREA)).toEqual([{ x: 106, y: 94, w: 30, h: 12 }]);
  });

  it('keeps labels of points at the same spot apart', () => {
    const boxes = placeLabels(
      Array.from({ length: 6 }, () => ({ x: 200, y: 100, w: 40, h: 12 })),
      AREA,
    );
    for (let i = 0; i < boxes.length; i++) {
      expect(inside(boxes[i])).toBe(true);
      for (let j = 0; j < i; j++) expect(overlaps(boxes[i], boxes[j]), `${i} and ${j}`).toBe(false);
    }
  });

  it('writes the label of a point at the right edge to its left, inside the area (no cut "fp3")', () => {
    const [b] = placeLabels([{ x: 398, y: 100, w: 30, h: 12 }], AREA);
    expect(inside(b)).toBe(true);
    expect(b.x + b.w).toBeLessThanOrEqual(398);
  });
});
