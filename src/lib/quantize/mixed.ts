// Mixed precision under a size budget: from a sensitivity report (each weight's KL divergence at
// each width, alone), start every weight at its cheapest width and upgrade, one step at a time,
// the weight whose upgrade removes the most divergence per extra byte while the total still fits
// (the greedy allocation of ExLlamaV2's measurement and llama.cpp's importance-matrix mixes).

import { QuantlabError } from '../errors';
import type { WeightChoice } from '../variants/options';
import type { GridBits, GridSpec } from './grid';
import { nbitsBytes, type SensitivityEntry, type SensitivityReport } from './sensitivity';

export interface MixedPlan {
  /** Each measured weight's width and method, in the report's (graph) order. */
  plan: WeightChoice[];
  /** Bytes of the quantized weights' MatMulNBits tensors (scales and zero points included). */
  bytes: number;
  params: number;
  /** 8 * bytes / params: what the budget bounds (the manifest's bitsPerWeightQuantized). */
  bitsPerWeight: number;
  /** Sum of the chosen widths' single-weight KLDs: the estimate the allocation minimises. */
  predictedKld: number;
}

/** Bits per weight of all the weights at their cheapest width (min) and at their costliest (max). */
export function budgetRange(
  shapes: readonly { K: number; N: number }[],
  widths: readonly GridBits[],
  spec: Pick<GridSpec, 'blockSize' | 'symmetric' | 'scaleType'>,
): { min: number; max: number } {
  let params = 0;
  let lo = 0;
  let hi = 0;
  for (const { K, N } of shapes) {
    const sizes = widths.map((b) => nbitsBytes(K, N, b, spec));
    params += K * N;
    lo += Math.min(...sizes);
    hi += Math.max(...sizes);
  }
  return { min: (8 * lo) / params, max: (8 * hi) / params };
}

/**
 * Refuses a budget below every weight at its cheapest width or above every weight at its
 * costliest, naming the range: run before measuring, so a bad budget costs nothing.
 */
export function checkBudget(
  budget: number,
  shapes: readonly { K: number; N: number }[],
  widths: readonly GridBits[],
  spec: Pick<GridSpec, 'blockSize' | 'symmetric' | 'scaleType'>,
): void {
  const { min, max } = budgetRange(shapes, widths, spec);
  const sorted = [...widths].sort((a, b) => a - b);
  const range = `Use a budget from ${min.toFixed(3)} to ${max.toFixed(3)} with widths ${sorted.join(', ')} (block ${spec.blockSize}, ${spec.scaleType} scales${spec.symmetric ? '' : ', zero points'}).`;
  if (!Number.isFinite(budget) || budget < min - 1e-9) {
    throw new QuantlabError(
      'bad-argument',
      `A budget of ${budget} bits per weight is below the smallest width: every weight at ${sorted[0]} bits takes ${min.toFixed(3)}`,
      range,
    );
  }
  if (budget > max + 1e-9) {
    throw new QuantlabError(
      'bad-argument',
      `A budget of ${budget} bits per weight is above the largest width: every weight at ${sorted[sorted.length - 1]} bits takes ${max.toFixed(3)}`,
      range,
    );
  }
}

function groupByWeight(entries: readonly SensitivityEntry[]): Map<string, SensitivityEntry[]> {
  const m = new Map<string, SensitivityEntry[]>();
  for (const e of entries) {
    const list = m.get(e.weight);
    if (list) list.push(e);
    else m.set(e.weight, [e]);
  }
  return m;
}

/**
 * Per-weight widths whose bytes stay within `budget` bits per quantized weight. A budget below
 * every weight at its cheapest width, or above every weight at its costliest, is refused by name.
 */
export function planMixed(r: SensitivityReport, budget: number): MixedPlan {
  const byWeight = groupByWeight(r.entries);
  if (byWeight.size === 0) throw new QuantlabError('no-weights', 'The sensitivity report lists no weights');
  checkBudget(
    budget,
    [...byWeight.values()].map((o) => o[0]),
    r.bits,
    r,
  );
  const weights = [...byWeight.entries()].map(([weight, options]) => {
    // Cheapest first; among equal sizes the least divergent (3-bit levels cost what 4-bit ones do).
    const sorted = [...options].sort((a, b) => a.bytes - b.bytes || a.kld_mean - b.kld_mean);
    return { weight, options: sorted, at: 0 };
  });
  const params = weights.reduce((a, w) => a + w.options[0].K * w.options[0].N, 0);
  const limit = (budget * params) / 8;
  let bytes = weights.reduce((a, w) => a + w.options[0].bytes, 0);
  for (;;) {
    let best: { w: (typeof weights)[number]; to: number; ratio: number; extra: number } | undefined;
    for (const w of weights) {
      const cur = w.options[w.at];
      for (let to = w.at + 1; to < w.options.length; to++) {
        const next = w.options[to];
        const gain = cur.kld_mean - next.kld_mean;
        const extra = next.bytes - cur.bytes;
        if (gain <= 0 || bytes + extra > limit + 1e-9) continue;
        const ratio = extra <= 0 ? Infinity : gain / extra;
        if (!best || ratio > best.ratio) best = { w, to, ratio, extra };
      }
    }
    if (!best) break;
    best.w.at = best.to;
    bytes += best.extra;
  }
  const chosen = weights.map((w) => w.options[w.at]);
  return {
    plan: chosen.map((e) => ({ weight: e.weight, bits: e.bits as GridBits, method: e.method })),
    bytes,
    params,
    bitsPerWeight: (8 * bytes) / params,
    predictedKld: chosen.reduce((a, e) => a + e.kld_mean, 0),
  };
}
