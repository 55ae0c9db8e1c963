// The sensitivity views' data and the per-method Pareto fronts, on hand-made reports.
import { describe, expect, it } from 'vitest';
import { methodFronts, sensitivityBars, sensitivityGrid } from '../../src/lib/eval/sensitivity-charts';
import type { SensitivityEntry } from '../../src/lib/quantize/sensitivity';

const entry = (layer: number | null, module: string, bits: 2 | 4, kld: number): SensitivityEntry => ({
  weight: layer === null ? module : `model.layers.${layer}.${module}.weight`,
  layer,
  module,
  K: 8,
  N: 8,
  bits,
  method: 'rtn',
  bytes: 0,
  bits_per_weight: 0,
  kld_mean: kld,
  kld_p99: 2 * kld,
  same_top_pct: 100,
  ppl: 1,
});

const entries = [
  entry(0, 'q_proj', 4, 0.1),
  entry(0, 'down_proj', 4, 0.3),
  entry(1, 'q_proj', 4, 0.2),
  entry(0, 'q_proj', 2, 9),
  entry(null, 'lm_head', 4, 0.05),
];

describe('sensitivity charts', () => {
  it('grids one width by layer and module, null where a weight was not measured', () => {
    expect(sensitivityGrid({ entries }, 4)).toEqual({
      layers: [0, 1],
      modules: ['q_proj', 'down_proj'],
      values: [
        [0.1, 0.3],
        [0.2, null],
      ],
    });
  });

  it('sorts one width most divergent first', () => {
    expect(sensitivityBars({ entries }, 4).map((b) => [b.label, b.kld_mean, b.kld_p99])).toEqual([
      ['L0 down_proj', 0.3, 0.6],
      ['L1 q_proj', 0.2, 0.4],
      ['L0 q_proj', 0.1, 0.2],
      ['lm_head', 0.05, 0.1],
    ]);
    expect(sensitivityBars({ entries }, 4, 2)).toHaveLength(2);
  });

  it('keeps per method the points no cheaper point beats', () => {
    const fronts = methodFronts([
      { method: 'rtn', label: 'q4', bitsPerWeight: 5, kld: 0.05 },
      { method: 'rtn', label: 'q2', bitsPerWeight: 3, kld: 1.6 },
      { method: 'rtn', label: 'q3', bitsPerWeight: 5, kld: 0.2 },
      { method: 'rtn', label: 'q4 b16', bitsPerWeight: 6, kld: 0.06 },
      { method: 'mixed rtn', label: 'mix', bitsPerWeight: 6, kld: 0.04 },
    ]);
    expect(fronts.map((f) => f.method)).toEqual(['rtn', 'mixed rtn']);
    expect(fronts[0].points.map((p) => p.label)).toEqual(['q2', 'q4', 'q3', 'q4 b16']);
    expect(fronts[0].front.map((p) => p.label)).toEqual(['q2', 'q4']);
    expect(fronts[1].front.map((p) => p.label)).toEqual(['mix']);
  });
});
