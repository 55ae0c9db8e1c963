// The page's layer sensitivity: the plan bound (weights x widths runs over the windows), the
// budget field's range and messages, the mixed file's request and name (as the CLI names it),
// and the JSON export (the CLI's --json), each against figures worked out by hand here.
import { describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import {
  budgetBounds,
  checkBudgetField,
  mixedRequest,
  reportPlans,
  sensitivitySpec,
} from '../../src/lib/page/sensitivity-form';
import {
  SENSITIVITY_LIMITS,
  checkSensitivityPlan,
  describeSensitivity,
  estimateSensitivity,
  planSensitivity,
} from '../../src/lib/quantize/sensitivity-plan';
import { sensitivityJson, type SensitivityEntry, type SensitivityReport } from '../../src/lib/quantize/sensitivity';
import { variantFileName } from '../../src/lib/variants/table';

const entry = (weight: string, bits: 2 | 4 | 8, kld: number, K = 64, N = 32): SensitivityEntry => ({
  weight,
  layer: 0,
  module: weight,
  K,
  N,
  bits,
  method: 'rtn',
  bytes: 0,
  bits_per_weight: 0,
  kld_mean: kld,
  kld_p99: kld,
  same_top_pct: 100,
  ppl: 1,
});

const report = (bits: (2 | 4 | 8)[], over: Partial<SensitivityReport> = {}): SensitivityReport => ({
  method: 'rtn',
  bits,
  blockSize: 32,
  symmetric: true,
  scaleType: 'float32',
  keepLmHead: true,
  ctx: 64,
  tokens: 256,
  windows: 4,
  positions: 124,
  ppl_base: 3.5,
  entries: bits.flatMap((b) => [entry('a', b, 1 / b), entry('b', b, 2 / b, 32, 16)]),
  seconds: 1,
  ...over,
});

const form = { method: 'rtn' as const, blockSize: '', asym: false };

describe('sensitivity plan bound', () => {
  it('counts runs, passes (the fp32 pass once) and tokens', () => {
    const p = planSensitivity(35, 2, 4, 128);
    expect(p).toEqual({ weights: 35, widths: 2, windows: 4, ctx: 128, runs: 70, passes: 71 * 4, tokens: 71 * 4 * 128 });
    expect(describeSensitivity(p)).toBe(
      '35 weights x 2 widths = 70 runs over 4 windows of 128 tokens: 284 passes, 36,352 tokens',
    );
    expect(() => checkSensitivityPlan(p)).not.toThrow();
  });

  it('refuses a plan over the limit by name, with the windows that would fit', () => {
    // 210 weights x 4 widths = 840 runs; 841 passes per window; 30 windows = 25,230 passes > 20,000.
    const p = planSensitivity(210, 4, 30, 128);
    expect(p.passes).toBeGreaterThan(SENSITIVITY_LIMITS.passes);
    let err: unknown;
    try {
      checkSensitivityPlan(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QuantlabError);
    expect((err as QuantlabError).message).toMatch(
      /too large: 210 weights x 4 widths = 840 runs.*over the limit of 20,000 passes/,
    );
    // floor(20000 / 841) = 23 windows; tokens: 23 * 841 * 128 = 2,475,904 > 2,000,000, so floor(2e6 / (841*128)) = 18.
    expect((err as QuantlabError).detail).toMatch(/at most 18 windows of 128, 2,304 tokens/);
  });

  it('estimates from the config before the text is read: 7 linears a layer, windows bounded by bytes', () => {
    expect(estimateSensitivity({ num_hidden_layers: 5 }, 1, 10_000, 512, 128)).toMatchObject({
      weights: 35,
      windows: 4,
      passes: 36 * 4,
    });
    // A 200-byte text has at most 201 tokens: one window of 128.
    expect(estimateSensitivity({ num_hidden_layers: 5 }, 1, 200, 512, 128)?.windows).toBe(1);
    expect(estimateSensitivity({}, 1, 200, 512, 128)).toBeUndefined();
  });
});

describe('budget field', () => {
  it('bounds from the default widths (2, 4, 8) before a report: levels plus a float32 scale per 32 weights', () => {
    const b = budgetBounds(null, form);
    expect(b.widths).toEqual([2, 4, 8]);
    expect(b.min).toBeCloseTo(2 + 32 / 32, 12);
    expect(b.max).toBeCloseTo(8 + 32 / 32, 12);
    // Zero points add one storage-width value per block: 2 + 1 + 2/32 at the bottom.
    expect(budgetBounds(null, { ...form, asym: true }).min).toBeCloseTo(2 + 1 + 2 / 32, 12);
  });

  it('bounds from the report when it measured these settings at two or more widths', () => {
    const r = report([2, 4]);
    expect(reportPlans(r, form)).toBe(true);
    expect(reportPlans(r, { ...form, blockSize: '64' })).toBe(false);
    expect(reportPlans(report([4]), form)).toBe(false);
    expect(budgetBounds(r, form)).toEqual({ min: 3, max: 5, widths: [2, 4] });
  });

  it('rejects at the field below the smallest width and above the largest, naming the range', () => {
    const b = { min: 3, max: 9, widths: [2, 4, 8] as (2 | 4 | 8)[] };
    expect(checkBudgetField('', b)).toEqual({ message: '' });
    expect(checkBudgetField('4.5', b)).toEqual({ value: 4.5, message: '' });
    expect(checkBudgetField('2.5', b).message).toMatch(
      /below the smallest width: every weight at 2 bits takes 3.000.*from 3.000 to 9.000/,
    );
    expect(checkBudgetField('12', b).message).toMatch(/above the largest width: every weight at 8 bits takes 9.000/);
    expect(checkBudgetField('abc', b).message).toMatch(/not a number/);
    expect(checkBudgetField('abc', b).value).toBeUndefined();
  });

  it('asks for one q4 file named as quantlab quantize --budget names it', () => {
    const plan = [
      { weight: 'a', bits: 2 as const, method: 'rtn' as const },
      { weight: 'b', bits: 8 as const, method: 'rtn' as const },
    ];
    const opts = mixedRequest({ ...form, name: '' }, plan);
    expect(opts).toEqual({ plan });
    // The CLI's request for --dtype q4 --budget B: { dtype: 'q4', plan }.
    expect(variantFileName({ dtype: 'q4', ...opts })).toBe(variantFileName({ dtype: 'q4', plan }));
    expect(variantFileName({ dtype: 'q4', ...opts })).toMatch(/^model_q4_mix[0-9a-z]+\.onnx$/);
    expect(mixedRequest({ method: 'gptq', blockSize: '64', asym: true, name: ' mine ' }, plan)).toEqual({
      blockSize: 64,
      method: 'gptq',
      symmetric: false,
      name: 'mine',
      plan,
    });
    expect(sensitivitySpec({ ...form, blockSize: '64' }, [8, 2, 2])).toMatchObject({ bits: [2, 8], blockSize: 64 });
  });
});

describe('sensitivity JSON export', () => {
  it('is the CLI --json object: model and calibration text first, then the report, infinities as null', () => {
    const r = report([4], { ppl_base: Infinity });
    const j = JSON.parse(sensitivityJson(r, { model: 'aidreams260K', calib_file: 'built-in calibration sample' }));
    expect(Object.keys(j).slice(0, 3)).toEqual(['model', 'calib_file', 'method']);
    expect(j.model).toBe('aidreams260K');
    expect(j.calib_file).toBe('built-in calibration sample');
    expect(j.ppl_base).toBeNull();
    expect(j.entries).toEqual(r.entries);
  });
});
