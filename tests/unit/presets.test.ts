// The guided experiments' pure logic (src/lib/presets): intervals against textbook values, which
// model and precisions each preset picks (or why it cannot run) from hand-made model lists, and
// the measured sentence and verdict from hand-made sweep rows and reports whose answers are
// worked out here by hand.
import { describe, expect, it } from 'vitest';
import type { QualityReport } from '../../src/lib/eval/quality';
import type { SweepRow } from '../../src/lib/eval/sweep';
import { difference, meanInterval, slope, tQuantile975 } from '../../src/lib/presets/interval';
import { clampSize, methodGroups, planPreset, type PresetModel, type PresetPlan } from '../../src/lib/presets/plan';
import {
  summariseMethods,
  summariseNf4Fp4,
  summariseSizeMatched,
  summariseTemperature,
} from '../../src/lib/presets/summary';
import { variantFromStem, type VariantInfo } from '../../src/lib/variants/table';

const TEXT = 'A short text to score.';
const size = { runs: 8, tokens: 32 };

function v(stem: string, bytes: number, options?: Record<string, unknown>): VariantInfo {
  return { ...variantFromStem(stem, bytes), ...(options ? { options } : {}) };
}

const builtin = (extra: VariantInfo[] = []): PresetModel => ({
  key: 'served:aidreams260K',
  name: 'aidreams260K',
  randomWeights: false,
  variants: [
    v('model', 960_000),
    v('model_quantized', 300_000),
    v('model_bnb4', 289_000),
    v('model_q4', 300_000),
    ...extra,
  ],
});
const tiny: PresetModel = {
  key: 'served:quantlab-tiny',
  name: 'QuantLab tiny',
  randomWeights: true,
  variants: [v('model', 3_600_000), v('model_q4', 900_000), v('model_bnb4', 880_000)],
};

describe('intervals', () => {
  it("gives Student's t quantiles of the standard table", () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(10)).toBe(2.228);
    // Table values past the stored range: t(0.975, 40) = 2.021, 60 = 2.000, 120 = 1.980.
    expect(tQuantile975(40)).toBeCloseTo(2.021, 3);
    expect(tQuantile975(60)).toBeCloseTo(2.0, 3);
    expect(tQuantile975(120)).toBeCloseTo(1.98, 3);
    expect(tQuantile975(0)).toBeNaN();
  });

  it('fits a slope and a t interval of a mean', () => {
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2, 12);
    expect(slope([0, 1, 2], [1, NaN, 5])).toBeCloseTo(2, 12);
    expect(slope([1], [1])).toBeNaN();
    // 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), se sd/2, t(3) = 3.182.
    const e = meanInterval([1, 2, 3, 4]);
    const se = Math.sqrt(5 / 3) / 2;
    expect(e.mean).toBe(2.5);
    expect(e.se).toBeCloseTo(se, 12);
    expect(e.lo).toBeCloseTo(2.5 - 3.182 * se, 12);
    expect(meanInterval([5]).lo).toBeNaN();
    const d = difference({ n: 9, mean: 3, se: 0.3, lo: 0, hi: 0 }, { n: 9, mean: 1, se: 0.4, lo: 0, hi: 0 });
    expect(d.mean).toBe(2);
    expect(d.se).toBeCloseTo(0.5, 12);
    expect(d.lo).toBeCloseTo(2 - 1.959964 * 0.5, 6);
  });
});

describe('planPreset', () => {
  it('runs the temperature preset on the current trained model: fp32, bnb4 and q4 over 0.5-0.8', () => {
    const a = planPreset('temperature', [builtin(), tiny], 'served:aidreams260K', size, TEXT);
    if (!a.ok) throw new Error(a.reason);
    const s = a.plan.steps[0];
    expect(s.variants).toEqual(['model', 'model_bnb4', 'model_q4']);
    expect(s.baseline).toBe('model');
    expect(a.plan.grid!.temperatures).toEqual([0.5, 0.6, 0.7, 0.8]);
    expect(a.plan.grid!.seeds).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // 4 temperatures x 8 seeds x 3 precisions generations of 32 tokens.
    expect(a.plan.runs).toBe(96);
    expect(a.plan.tokens).toBe(96 * 32);
    expect(a.plan.estimate).toContain('32 runs (4 cells x 8 seeds) x 3 precisions');
    expect(a.plan.note).toBeUndefined();
  });

  it('prefers a trained model over a random-weight current one, and says why', () => {
    const a = planPreset('temperature', [builtin(), tiny], tiny.key, size, TEXT);
    if (!a.ok) throw new Error(a.reason);
    expect(a.plan.steps[0].modelKey).toBe('served:aidreams260K');
    expect(a.plan.note).toBe('Runs on aidreams260K: QuantLab tiny has random weights.');
    const only = planPreset('temperature', [tiny], tiny.key, size, TEXT);
    expect(only.ok && only.plan.steps[0].randomWeights).toBe(true);
  });

  it('bounds the size it is given', () => {
    expect(clampSize({ runs: 1000, tokens: 0 })).toEqual({ runs: 32, tokens: 4 });
    expect(clampSize({ runs: NaN, tokens: 10.4 })).toEqual({ runs: 8, tokens: 10 });
    const a = planPreset('temperature', [builtin()], 'served:aidreams260K', { runs: 999, tokens: 999 }, TEXT);
    expect(a.ok && a.plan.tokens).toBe(4 * 32 * 3 * 96);
  });

  it('offers nf4 vs fp4 only with both codes, naming what is missing and how to add it', () => {
    const no = planPreset('nf4-fp4', [builtin()], 'served:aidreams260K', size, TEXT);
    expect(no.ok).toBe(false);
    if (!no.ok) {
      expect(no.reason).toContain('aidreams260K has no fp4 variant');
      expect(no.reason).toContain('--quant-type fp4');
    }
    const m = builtin([v('model_bnb4_fp4', 289_000), v('model_bnb4_fp4_dq', 287_000)]);
    const yes = planPreset('nf4-fp4', [m], m.key, size, TEXT);
    if (!yes.ok) throw new Error(yes.reason);
    const s = yes.plan.steps[0];
    expect(s.variants).toEqual(['model', 'model_bnb4', 'model_bnb4_fp4', 'model_bnb4_fp4_dq']);
    expect(s.roles).toEqual({ model: 'fp32', model_bnb4: 'nf4', model_bnb4_fp4: 'fp4', model_bnb4_fp4_dq: 'fp4 dq' });
    // 4 passes over the text's UTF-8 bytes plus a BOS each.
    expect(yes.plan.tokens).toBe(4 * (TEXT.length + 1));
  });

  it('offers methods when the same bits come from two methods (from the manifest options)', () => {
    const q = (stem: string, method: string, bits = 4) =>
      v(stem, 300_000, { dtype: 'q4', bits, blockSize: 32, method });
    const rtnOnly: PresetModel = { ...builtin(), variants: [v('model', 960_000), q('model_q4', 'rtn')] };
    const no = planPreset('methods', [rtnOnly], rtnOnly.key, size, TEXT);
    expect(!no.ok && no.reason).toContain('were all made with one method (RTN: q4)');
    const mixedBits: PresetModel = { ...rtnOnly, variants: [...rtnOnly.variants, q('model_q3nbits_gptq', 'gptq', 3)] };
    expect(planPreset('methods', [mixedBits], mixedBits.key, size, TEXT).ok).toBe(false);
    const two: PresetModel = {
      ...rtnOnly,
      variants: [...rtnOnly.variants, q('model_q4_gptq', 'gptq'), q('model_q4_hqq', 'hqq')],
    };
    const yes = planPreset('methods', [two], two.key, size, TEXT);
    if (!yes.ok) throw new Error(yes.reason);
    expect(yes.plan.steps[0].roles).toEqual({
      model: 'fp32',
      model_q4: 'RTN',
      model_q4_gptq: 'GPTQ',
      model_q4_hqq: 'HQQ',
    });
    // Without a manifest, names alone say q4 and its 3-bit sibling, both round-to-nearest.
    expect(methodGroups([v('model_q4', 1), v('model_q3nbits', 1)]).map((g) => g.key)).toEqual(['q4 3-bit', 'q4 4-bit']);
  });

  it('needs two trained models of different sizes for the size-matched comparison', () => {
    const no = planPreset('size-matched', [builtin(), tiny], 'served:aidreams260K', size, TEXT);
    expect(no.ok).toBe(false);
    if (!no.ok) {
      expect(no.reason).toContain('only aidreams260K is trained');
      expect(no.reason).toContain('QuantLab tiny has random weights');
    }
    const big: PresetModel = {
      key: 'local:big',
      name: 'big',
      randomWeights: false,
      variants: [v('model', 4_000_000), v('model_fp16', 2_000_000), v('model_q4', 700_000), v('model_bnb4', 650_000)],
    };
    const yes = planPreset('size-matched', [builtin(), big, tiny], 'served:aidreams260K', size, TEXT);
    if (!yes.ok) throw new Error(yes.reason);
    const [l, s] = yes.plan.steps;
    // The larger model at its smallest 4-bit file; the smaller at the >= 16-bit file nearest that size.
    expect([l.modelKey, l.variants]).toEqual(['local:big', ['model_bnb4']]);
    expect([s.modelKey, s.variants]).toEqual(['served:aidreams260K', ['model']]);
    const same = planPreset('size-matched', [builtin(), { ...builtin(), key: 'local:copy' }], 'x', size, TEXT);
    expect(!same.ok && same.reason).toContain('same size');
  });
});

const step = (over: Partial<PresetPlan['steps'][0]> = {}): PresetPlan['steps'][0] => ({
  modelKey: 'served:aidreams260K',
  modelName: 'aidreams260K',
  randomWeights: false,
  variants: ['model', 'model_q4'],
  baseline: 'model',
  labels: { model: 'fp32', model_q4: 'q4' },
  roles: { model: 'unquantized', model_q4: '4-bit' },
  bytes: { model: 960_000, model_q4: 300_000 },
  ...over,
});

function row(dtype: string, temperature: number, seed: number, lnPpl: number): SweepRow {
  return {
    dtype,
    temperature,
    seed,
    top_k: 0,
    top_p: 1,
    max_new_tokens: 8,
    length: 8,
    prefix_match: 0,
    identical_pct: 0,
    distinct_1: 1,
    distinct_2: 1,
    repetition_rate: 0,
    ref_ppl: Math.exp(lnPpl),
    text: '',
  };
}

describe('summariseTemperature', () => {
  const temps = [0.5, 0.6, 0.7, 0.8];
  const plan = (randomWeights = false): PresetPlan => ({
    id: 'temperature',
    kind: 'sweep',
    steps: [step({ randomWeights })],
    grid: { prompt: 'I dreamed', temperatures: temps, topKs: [0], topPs: [1], maxNewTokens: [8], seeds: [0, 1, 2] },
    runs: 24,
    tokens: 192,
    estimate: '',
  });
  // fp32: ln PPL = 1 + T + 0.1 s; q4: 1 + (2 + 0.05 s) T: q4 minus fp32 has slope 1 + 0.05 s.
  const rows = (k: number) =>
    [0, 1, 2].flatMap((s) =>
      temps.flatMap((t) => [row('fp32', t, s, 1 + t + 0.1 * s), row('q4', t, s, 1 + (1 + k * (1 + 0.05 * s)) * t)]),
    );

  it('measures the extra rise of the 4-bit text over 0.5-0.8, seed by seed, with a t interval', () => {
    const o = summariseTemperature(plan(), rows(1));
    // Per seed: 0.3 x (1 + 0.05 s) = 0.3, 0.315, 0.33; mean 0.315, sd 0.015, t(2) = 4.303.
    const half = (4.303 * 0.015) / Math.sqrt(3);
    const e = o.stats.extra_rise_q4 as { mean: number; lo: number; hi: number };
    expect(e.mean).toBeCloseTo(0.315, 12);
    expect(e.lo).toBeCloseTo(0.315 - half, 9);
    expect(o.verdict).toBe('agrees');
    expect(o.measured).toContain("q4's rise minus fp32's, seed by seed: +0.315 (95 % interval +0.278 to +0.352)");
    expect(o.measured).toContain('more sensitive to temperature, as the paper found');
    expect(o.conditions).toContain(
      'aidreams260K; prompt “I dreamed”; temperatures 0.5, 0.6, 0.7, 0.8 × 3 seeds = 12 runs',
    );
    expect(o.chart.kind === 'line' && o.chart.series.map((s) => s.label)).toEqual(['fp32', 'q4']);
    expect(o.finding).toContain('0.5 and 0.8');
  });

  it('says so when the 4-bit text is less sensitive, and names random weights', () => {
    const o = summariseTemperature(plan(true), rows(-1));
    expect(o.verdict).toBe('disagrees');
    expect(o.measured).toContain('less sensitive than the unquantized model, unlike the paper');
    expect(o.conditions).toContain('RANDOM WEIGHTS');
    expect(o.randomWeights).toBe(true);
  });
});

function report(results: Record<string, Record<string, number>>): QualityReport {
  return {
    baseline: 'fp32',
    ctx: 128,
    tokens: 500,
    windows: 3,
    windows_total: 3,
    bos: 1,
    cancelled: false,
    results: results as unknown as QualityReport['results'],
  };
}

describe('report summaries', () => {
  const nf4Plan: PresetPlan = {
    id: 'nf4-fp4',
    kind: 'report',
    steps: [
      step({
        variants: ['model', 'model_bnb4', 'model_bnb4_fp4'],
        labels: { model: 'fp32', model_bnb4: 'bnb4', model_bnb4_fp4: 'bnb4 fp4' },
        roles: { model: 'fp32', model_bnb4: 'nf4', model_bnb4_fp4: 'fp4' },
        bytes: { model: 1, model_bnb4: 289_000, model_bnb4_fp4: 289_000 },
      }),
    ],
    text: TEXT,
    runs: 3,
    tokens: 3,
    estimate: '',
  };

  it('nf4 vs fp4: a difference whose interval excludes 0 differs from "about equal"', () => {
    const o = summariseNf4Fp4(
      nf4Plan,
      report({
        bnb4: { kld_mean: 0.06, kld_se: 0.004, count: 200 },
        'bnb4 fp4': { kld_mean: 0.12, kld_se: 0.006, count: 200 },
      }),
    );
    // 0.06 with se sqrt(0.004^2 + 0.006^2) = 0.00721: 0.0459 to 0.0741.
    expect(o.verdict).toBe('disagrees');
    expect(o.measured).toContain('fp4 minus nf4: +0.06 (95 % interval +0.0459 to +0.0741), so nf4 stayed closer');
    expect(o.measured).toContain("fp4's is 2× nf4's");
    expect(o.measured).toContain('Files: nf4 289 kB, fp4 289 kB.');
    const same = summariseNf4Fp4(
      nf4Plan,
      report({
        bnb4: { kld_mean: 0.06, kld_se: 0.004, count: 200 },
        'bnb4 fp4': { kld_mean: 0.065, kld_se: 0.004, count: 200 },
      }),
    );
    expect(same.verdict).toBe('agrees');
    expect(same.measured).toContain('no difference detected');
    const tooFew = summariseNf4Fp4(
      nf4Plan,
      report({ bnb4: { kld_mean: 0.06, kld_se: 0, count: 8 }, 'bnb4 fp4': { kld_mean: 0.07, kld_se: 0, count: 8 } }),
    );
    expect(tooFew.verdict).toBe('inconclusive');
    // With fp4 dq too: fp4 differs from nf4 while fp4 dq equals fp4; one difference contradicts "about equal".
    const dqPlan: PresetPlan = {
      ...nf4Plan,
      steps: [
        step({
          variants: [...nf4Plan.steps[0].variants, 'model_bnb4_fp4_dq'],
          labels: { ...nf4Plan.steps[0].labels, model_bnb4_fp4_dq: 'bnb4 fp4 dq' },
          roles: { ...nf4Plan.steps[0].roles, model_bnb4_fp4_dq: 'fp4 dq' },
        }),
      ],
    };
    const mixed = summariseNf4Fp4(
      dqPlan,
      report({
        bnb4: { kld_mean: 0.06, kld_se: 0.004, count: 200 },
        'bnb4 fp4': { kld_mean: 0.12, kld_se: 0.006, count: 200 },
        'bnb4 fp4 dq': { kld_mean: 0.121, kld_se: 0.006, count: 200 },
      }),
    );
    expect(mixed.verdict).toBe('disagrees');
    expect(mixed.measured).toContain('fp4 dq minus fp4: +0.001');
    expect(mixed.measured).toContain('no difference detected');
  });

  it('methods: each against round-to-nearest, and a failed variant is named', () => {
    const plan: PresetPlan = {
      ...nf4Plan,
      id: 'methods',
      steps: [
        step({
          variants: ['model', 'model_q4', 'model_q4_gptq', 'model_q4_awq'],
          labels: { model: 'fp32', model_q4: 'q4', model_q4_gptq: 'q4 gptq', model_q4_awq: 'q4 awq' },
          roles: { model: 'fp32', model_q4: 'RTN', model_q4_gptq: 'GPTQ', model_q4_awq: 'AWQ' },
        }),
      ],
    };
    const r = report({
      q4: { kld_mean: 0.02, kld_se: 0.001, count: 300 },
      'q4 gptq': { kld_mean: 0.01, kld_se: 0.001, count: 300 },
    });
    r.results['q4 awq'] = { error: { code: 'load-failed', message: 'it broke' } };
    const o = summariseMethods(plan, r);
    expect(o.verdict).toBe('agrees');
    expect(o.measured).toContain('GPTQ minus RTN: −0.01 (95 % interval −0.0128 to −0.00723)');
    expect(o.measured).toContain('q4 awq gave no result (it broke).');
    expect(o.chart.kind === 'bars' && o.chart.bars.map((b) => b.label)).toEqual(['RTN', 'GPTQ']);
  });

  it('size-matched: bits per byte of each model with the interval from ln PPL', () => {
    const plan: PresetPlan = {
      ...nf4Plan,
      id: 'size-matched',
      steps: [
        step({
          modelName: 'big',
          variants: ['model_q4'],
          baseline: 'model_q4',
          labels: { model_q4: 'q4' },
          bytes: { model_q4: 700_000 },
        }),
        step({
          modelName: 'small',
          variants: ['model'],
          baseline: 'model',
          labels: { model: 'fp32' },
          bytes: { model: 960_000 },
        }),
      ],
    };
    const entry = (bpb: number) => ({ bits_per_byte: bpb, ln_ppl_se: 0.01, count: 400, bytes: 1000 });
    const o = summariseSizeMatched(plan, [report({ q4: entry(1.5) }), report({ fp32: entry(1.8) })]);
    // se = 0.01 x 400 / ln 2 / 1000 = 0.00577 each; difference 0.3 with se 0.00816.
    const se = (0.01 * 400) / Math.LN2 / 1000;
    const d = o.stats.smaller_minus_larger as { mean: number; se: number };
    expect(d.mean).toBeCloseTo(0.3, 12);
    expect(d.se).toBeCloseTo(Math.SQRT2 * se, 12);
    expect(o.verdict).toBe('agrees');
    expect(o.measured).toContain('the larger model at low bits was better, with 0.729× the memory');
  });
});
