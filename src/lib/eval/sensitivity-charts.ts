// What the sensitivity views and the method comparison draw, derived from reports and nothing
// else: a layer x module grid of one width's mean KLD, the weights sorted by it, and per method
// the Pareto front of bits per weight against mean KLD (size-against-quality, one series each).

import type { GridBits } from '../quantize/grid';
import type { SensitivityEntry, SensitivityReport } from '../quantize/sensitivity';

/** Mean KLD per decoder layer (rows) and module (columns) at one width; null where not measured. */
export function sensitivityGrid(
  r: Pick<SensitivityReport, 'entries'>,
  bits: GridBits,
): { layers: number[]; modules: string[]; values: (number | null)[][] } {
  const at = r.entries.filter((e) => e.bits === bits && e.layer !== null);
  const layers = [...new Set(at.map((e) => e.layer!))].sort((a, b) => a - b);
  const modules = [...new Set(at.map((e) => e.module))];
  const values = layers.map((l) =>
    modules.map((m) => at.find((e) => e.layer === l && e.module === m)?.kld_mean ?? null),
  );
  return { layers, modules, values };
}

/** One bar: a weight's short name ("L3 down_proj") and its KLD at one width. */
export interface SensitivityBar {
  label: string;
  weight: string;
  kld_mean: number;
  kld_p99: number;
}

/** The weights at one width, most divergent first (ties in graph order), at most `limit`. */
export function sensitivityBars(
  r: Pick<SensitivityReport, 'entries'>,
  bits: GridBits,
  limit = Infinity,
): SensitivityBar[] {
  const label = (e: SensitivityEntry) => (e.layer === null ? e.module : `L${e.layer} ${e.module}`);
  return r.entries
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.bits === bits)
    .sort((a, b) => b.e.kld_mean - a.e.kld_mean || a.i - b.i)
    .slice(0, limit)
    .map(({ e }) => ({ label: label(e), weight: e.weight, kld_mean: e.kld_mean, kld_p99: e.kld_p99 }));
}

/** One variant measured: its method ("rtn", "gptq", "mixed rtn", ...), size and quality. */
export interface MethodPoint {
  method: string;
  /** Variant label or file stem. */
  label: string;
  bitsPerWeight: number;
  kld: number;
}

/**
 * Per method, its points by bits per weight and the Pareto front among them: the points no other
 * point of the same method beats on both size and KLD (ties in size keep the lower KLD).
 */
export function methodFronts(
  points: readonly MethodPoint[],
): { method: string; points: MethodPoint[]; front: MethodPoint[] }[] {
  const methods = [...new Set(points.map((p) => p.method))];
  return methods.map((method) => {
    const mine = points
      .filter((p) => p.method === method && Number.isFinite(p.bitsPerWeight) && Number.isFinite(p.kld))
      .sort((a, b) => a.bitsPerWeight - b.bitsPerWeight || a.kld - b.kld);
    const front: MethodPoint[] = [];
    for (const p of mine) if (front.length === 0 || p.kld < front[front.length - 1].kld) front.push(p);
    return { method, points: mine, front };
  });
}
