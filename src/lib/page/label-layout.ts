// Where to write a label beside each point of a scatter chart so that labels neither overlap one
// another nor leave the plot area (precisions of one model often sit close together in size).

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LabelInput {
  /** The point, in canvas pixels. */
  x: number;
  y: number;
  /** The label's measured width and height. */
  w: number;
  h: number;
}

const overlap = (a: Box, b: Box) =>
  Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) *
  Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));

/** Area of `b` outside `area`. */
const outside = (b: Box, area: Box) => b.w * b.h - overlap(b, area);

/**
 * A box (top-left corner) per label, in input order: each takes the first of its candidate places
 * (right, left, above, below the point, then further out) that stays inside `area` and overlaps no
 * label placed before it; when none does, the place with the least overlap.
 */
export function placeLabels(labels: readonly LabelInput[], area: Box, gap = 6): Box[] {
  const placed: Box[] = [];
  for (const l of labels) {
    const candidates: Box[] = [];
    for (const step of [0, 1, 2, 3]) {
      const dy = step * (l.h + 2);
      candidates.push(
        { x: l.x + gap, y: l.y - l.h / 2 + dy, w: l.w, h: l.h },
        { x: l.x - gap - l.w, y: l.y - l.h / 2 + dy, w: l.w, h: l.h },
        { x: l.x - l.w / 2, y: l.y - gap - l.h - dy, w: l.w, h: l.h },
        { x: l.x - l.w / 2, y: l.y + gap + dy, w: l.w, h: l.h },
        { x: l.x + gap, y: l.y - l.h / 2 - dy, w: l.w, h: l.h },
        { x: l.x - gap - l.w, y: l.y - l.h / 2 - dy, w: l.w, h: l.h },
      );
    }
    const cost = (b: Box) => 1000 * outside(b, area) + placed.reduce((s, p) => s + overlap(b, p), 0);
    const free = candidates.find((b) => cost(b) === 0);
    const best = free ?? candidates.reduce((a, b) => (cost(b) < cost(a) ? b : a));
    placed.push(best);
  }
  return placed;
}
