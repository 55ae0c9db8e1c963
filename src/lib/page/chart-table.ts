// A chart's data as a table: the text alternative every chart offers on demand ("Data"), built from
// the same data object chart.js draws, so the table can never disagree with the picture.

/** The part of chart.js's ChartData this reads (kept structural: src/lib does not import chart.js). */
export interface ChartDataLike {
  labels?: readonly unknown[];
  datasets: readonly { label?: string; data: readonly unknown[] }[];
}

export interface DataTable {
  head: string[];
  rows: string[][];
}

/** A number as a table shows it: up to 4 significant digits past the decimal point, '–' when missing. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '–';
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(Math.abs(v) >= 1 ? 5 : 4)));
  }
  return String(v);
}

const isPoint = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && 'y' in v;

/**
 * Category charts (labels, one value per label per series): a row per label, a column per series.
 * Point charts ({x, y, ...} values): a row per point, with its series and every field it carries.
 */
export function chartTable(data: ChartDataLike, xName = 'x', yName = 'y'): DataTable {
  const sets = data.datasets;
  const points = sets.some((s) => s.data.some(isPoint));
  if (!points) {
    const n = Math.max(data.labels?.length ?? 0, ...sets.map((s) => s.data.length));
    const head = ['', ...sets.map((s, i) => s.label ?? `series ${i + 1}`)];
    const rows = Array.from({ length: n }, (_, i) => [
      cell(data.labels?.[i] ?? i + 1),
      ...sets.map((s) => cell(s.data[i])),
    ]);
    return { head, rows };
  }
  const extra = [...new Set(sets.flatMap((s) => s.data.filter(isPoint).flatMap((p) => Object.keys(p))))].filter(
    (k) => k !== 'x' && k !== 'y',
  );
  const head = ['series', ...extra, xName, yName];
  const rows = sets.flatMap((s, i) =>
    s.data
      .filter(isPoint)
      .map((p) => [s.label ?? `series ${i + 1}`, ...extra.map((k) => cell(p[k])), cell(p.x), cell(p.y)]),
  );
  return { head, rows };
}
