// The mixed-precision allocation on a hand-worked example (three weights, widths 2/4/8), its
// budget limits, and quantizeModel's per-weight plan: a plan of one width everywhere writes the
// same tensors as the uniform variant, and each planned weight gets its own MatMulNBits width.
import { describe, expect, it } from 'vitest';
import { importLlama2cCheckpoint } from '../../src/lib/import/llama2c';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { getIntAttr } from '../../src/lib/onnx/proto';
import { budgetRange, planMixed } from '../../src/lib/quantize/mixed';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import type { SensitivityEntry, SensitivityReport } from '../../src/lib/quantize/sensitivity';
import { findWeightTargets } from '../../src/lib/quantize/targets';
import { variantFileName, variantFromStem } from '../../src/lib/variants/table';
import { readCheckpoint } from '../helpers/aidreams';

// K = 32, N = 8, block 32, symmetric, float32 scales: 8 rows x (levels + a 4-byte scale).
const BYTES = { 2: 8 * (8 + 4), 4: 8 * (16 + 4), 8: 8 * (32 + 4) } as const;
const KLD: Record<string, Record<2 | 4 | 8, number>> = {
  a: { 2: 1.0, 4: 0.1, 8: 0.0001 },
  b: { 2: 0.2, 4: 0.05, 8: 0.0001 },
  c: { 2: 0.5, 4: 0.4, 8: 0.01 },
};

function report(): SensitivityReport {
  const entries: SensitivityEntry[] = Object.entries(KLD).flatMap(([weight, byBits]) =>
    ([2, 4, 8] as const).map((bits) => ({
      weight,
      layer: 0,
      module: weight,
      K: 32,
      N: 8,
      bits,
      method: 'rtn' as const,
      bytes: BYTES[bits],
      bits_per_weight: (8 * BYTES[bits]) / 256,
      kld_mean: byBits[bits],
      kld_p99: 0,
      same_top_pct: 100,
      ppl: 1,
    })),
  );
  return {
    method: 'rtn',
    bits: [2, 4, 8],
    blockSize: 32,
    symmetric: true,
    scaleType: 'float32',
    keepLmHead: true,
    ctx: 8,
    tokens: 8,
    windows: 1,
    positions: 3,
    ppl_base: 1,
    entries,
    seconds: 0,
  };
}

const widths = (budget: number) => Object.fromEntries(planMixed(report(), budget).plan.map((c) => [c.weight, c.bits]));

describe('planMixed', () => {
  it('upgrades the most divergence removed per extra byte first, within the budget', () => {
    // From all at 2 bits (288 bytes = 3 bits/weight): a 2->4 removes 0.9 for 64 bytes, the best ratio.
    expect(widths(3)).toEqual({ a: 2, b: 2, c: 2 });
    expect(widths(4)).toEqual({ a: 4, b: 2, c: 2 });
    // 576 bytes: after a->4, c 2->8 (0.49 for 192) beats b 2->4 (0.15 for 64), and then nothing else fits.
    expect(widths(6)).toEqual({ a: 4, b: 2, c: 8 });
    expect(widths(5)).toEqual({ a: 4, b: 4, c: 4 });
    expect(widths(9)).toEqual({ a: 8, b: 8, c: 8 });
    const p = planMixed(report(), 6);
    expect(p.bytes).toBe(BYTES[4] + BYTES[2] + BYTES[8]);
    expect(p.bitsPerWeight).toBeCloseTo((8 * 544) / 768, 12);
    expect(p.predictedKld).toBeCloseTo(0.1 + 0.2 + 0.01, 12);
    expect(p.plan.map((c) => c.weight)).toEqual(['a', 'b', 'c']);
  });

  it('never exceeds the budget', () => {
    for (let b = 3; b <= 9; b += 0.125) expect(planMixed(report(), b).bitsPerWeight).toBeLessThanOrEqual(b + 1e-12);
  });

  it('refuses a budget below the smallest width or above the largest, naming the range', () => {
    expect(budgetRange([{ K: 32, N: 8 }], [2, 4, 8], report())).toEqual({ min: 3, max: 9 });
    expect(() => planMixed(report(), 2.9)).toThrow(/below the smallest width: every weight at 2 bits takes 3.000/);
    expect(() => planMixed(report(), 9.1)).toThrow(/above the largest width: every weight at 8 bits takes 9.000/);
  });
});

describe('quantizeModel with a per-weight plan', () => {
  const { config, weights } = importLlama2cCheckpoint(readCheckpoint());
  const fp32 = buildDecoderGraph(config, weights);
  const linears = findWeightTargets(fp32.graph!).filter((t) => t.role === 'linear');

  it('a plan of 4-bit rtn everywhere writes the tensors of the uniform q4 file', async () => {
    const plan = linears.map((t) => ({ weight: t.weight.name, bits: 4 as const, method: 'rtn' as const }));
    const mixed = await quantizeModel(fp32, { dtype: 'q4', plan });
    const uniform = await quantizeModel(fp32, { dtype: 'q4' });
    const inits = (m: typeof mixed) => m.model.graph!.initializer.map((t) => [t.name, [...t.rawData]]);
    expect(inits(mixed)).toEqual(inits(uniform));
    expect(mixed.report.bitsPerWeightQuantized).toBe(uniform.report.bitsPerWeightQuantized);
  }, 60_000);

  it('gives each planned weight its width (3-bit levels in 4-bit storage) and names the file', async () => {
    const plan = linears.map((t, i) => ({
      weight: t.weight.name,
      bits: ([2, 3, 4, 8] as const)[i % 4],
      method: 'rtn' as const,
    }));
    const { model, report: r } = await quantizeModel(fp32, { dtype: 'q4', plan });
    for (const c of plan) {
      const node = model.graph!.node.find((n) => n.opType === 'MatMulNBits' && n.input[1].startsWith(`${c.weight}_Q`))!;
      expect(getIntAttr(node, 'bits', 0)).toBe(c.bits === 3 ? 4 : c.bits);
    }
    expect(r.file).toMatch(/^model_q4_mix[0-9a-z]+\.onnx$/);
    expect(r.file).toBe(variantFileName({ dtype: 'q4', plan }));
    expect(r.format).toBe(
      'MatMulNBits mixed precision (7 at 2-bit, 7 at 3-bit (4-bit storage), 7 at 4-bit, 7 at 8-bit), block 32, symmetric, float32 scales',
    );
    expect(r.options.plan).toEqual(plan);
    expect(variantFromStem(r.file.replace('.onnx', '')).label).toBe('q4 mixed');
  }, 60_000);

  it('refuses a plan naming a weight the model does not quantize, or a width it cannot store', async () => {
    await expect(
      quantizeModel(fp32, { dtype: 'q4', plan: [{ weight: 'model.embed_tokens.weight', bits: 4, method: 'rtn' }] }),
    ).rejects.toThrow(/The plan names model.embed_tokens.weight, which is not a quantized linear weight/);
    await expect(
      quantizeModel(fp32, { dtype: 'q4', plan: [{ weight: linears[0].weight.name, bits: 5 as 4, method: 'rtn' }] }),
    ).rejects.toThrow(/Unsupported bits 5/);
    await expect(
      quantizeModel(fp32, { dtype: 'q8', plan: [{ weight: linears[0].weight.name, bits: 4, method: 'rtn' }] }),
    ).rejects.toThrow(/per-weight plan applies to MatMulNBits variants/);
  }, 60_000);
});
