// The Quantize dialog's estimate: work counted from config.json by hand, the time reproducing
// README's measured figures for the SmolLM2-135M shape, and the limits' refusals with what to shrink.
import { describe, expect, it } from 'vitest';
import {
  QUANTIZE_LIMITS,
  checkQuantizePlan,
  describeQuantize,
  modelShape,
  planQuantize,
  quantizeOver,
  quantizeWarning,
  shapeWork,
  widestInput,
} from '../../src/lib/quantize/quantize-plan';

/** public/models/aidreams260K/config.json's fields. */
const AIDREAMS = {
  num_hidden_layers: 4,
  hidden_size: 64,
  intermediate_size: 172,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  head_dim: 16,
  vocab_size: 512,
};
const SMOLLM2 = {
  num_hidden_layers: 30,
  hidden_size: 576,
  intermediate_size: 1536,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  head_dim: 64,
  vocab_size: 49152,
};
const aid = modelShape(AIDREAMS)!;
const s135 = modelShape(SMOLLM2)!;
const builtin = { tokens: 512, window: 128, textBytes: 3002 };

describe('quantize plan', () => {
  it('counts weights, elements, inputs and GPTQ work from the config', () => {
    // Per layer: q, k, v, o 64x64; gate, up 64x172; down 172x64.
    expect(shapeWork(aid)).toEqual({
      weights: 28,
      elements: 4 * (4 * 64 * 64 + 3 * 64 * 172), // 197,632
      groups: 16,
      // Σ N·K²: 4·64·64² + 2·172·64² + 64·172², plus K³ of the four inputs: 3·64³ + 172³.
      gptqUnits: 4 * (4 * 262_144 + 2 * 704_512 + 1_893_376 + 3 * 262_144 + 5_088_448), // 40,903,424
      params: 197_632 + 512 * 64,
    });
    // SmolLM2-135M: k and v are 576x192 (3 kv heads of 64).
    expect(shapeWork(s135).elements).toBe(30 * (2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536)); // 106,168,320
    expect(modelShape({ ...AIDREAMS, num_hidden_layers: undefined })).toBeUndefined();
    // Without kv heads or head_dim: multi-head attention, hidden / heads.
    expect(modelShape({ ...SMOLLM2, num_key_value_heads: undefined, head_dim: undefined })).toMatchObject({
      kvHeads: 9,
      headDim: 64,
    });
  });

  it("reproduces README's figures for the 135M shape, plus the page's costs", () => {
    // job 0.7 + rtn pass 13.8 + (gptq) ONNX start 5 + 120 pieces x 0.2 + README's 76.6 CPU s.
    const gptq = planQuantize(s135, { dtypes: ['q4'], method: 'gptq', bits: 4, calibration: builtin })!;
    expect(gptq.seconds).toBeCloseTo(0.7 + 13.8 + 5 + 24 + 76.6, 6);
    expect([gptq.low, gptq.high].map((s) => Math.round(s * 100) / 100)).toEqual([60.05, 240.2]);
    const awq = planQuantize(s135, { dtypes: ['q4'], method: 'awq', bits: 4, calibration: builtin })!;
    expect(awq.seconds).toBeCloseTo(0.7 + 13.8 + 5 + 24 + 117.4, 6);
    expect(awq.alphaGrid).toBe(20);
    const hqq2 = planQuantize(s135, { dtypes: ['q4'], method: 'hqq', bits: 2 })!;
    expect(hqq2.seconds).toBeCloseTo(0.7 + 13.8 + 19.0, 6);
    // Two rtn precisions: two jobs of 0.7 + 13.8.
    expect(planQuantize(s135, { dtypes: ['q8', 'q4'], method: 'rtn', bits: 4 })!.seconds).toBeCloseTo(29, 6);
    // gptq applies to q4 only: q8 stays rtn.
    const both = planQuantize(s135, { dtypes: ['q8', 'q4'], method: 'gptq', bits: 4, calibration: builtin })!;
    expect(both.seconds).toBeCloseTo(gptq.seconds + 14.5, 6);
    expect(both.calibratedJobs).toBe(1);
  });

  it('counts whole windows of the text, at most the tokens asked', () => {
    const p = planQuantize(aid, {
      dtypes: ['q4'],
      method: 'gptq',
      bits: 4,
      calibration: { tokens: 512, window: 128, textBytes: 300 },
    })!;
    expect(p.tokens).toBe(256); // floor(301 / 128) = 2 windows
    expect(describeQuantize(p)).toMatch(
      /^About \d+ s–\d+ s on this machine: 28 weights \(197,632 elements\) x 1 precision \(gptq for q4\); calibration 256 tokens \(2 windows of 128\)$/,
    );
    // rtn reads no text, whatever the fields say.
    expect(planQuantize(aid, { dtypes: ['q4'], method: 'rtn', bits: 4, calibration: builtin })!.tokens).toBe(0);
    expect(
      planQuantize(aid, { dtypes: ['q4'], method: 'gptq', bits: 4, calibration: { ...builtin, tokens: 100 } }),
    ).toBeUndefined();
  });

  it('refuses a capture over the limit, with the most tokens that fit', () => {
    const p = planQuantize(aid, {
      dtypes: ['q4'],
      method: 'gptq',
      bits: 4,
      calibration: { tokens: 400_000, window: 128, textBytes: 400_000 },
    })!;
    // 400,000 tokens x 4 bytes x (4 heads x 128 + 2 x 172) = 1,369,600,000 > 1 GiB.
    expect(p.captureBytes).toBe(1_369_600_000);
    expect(QUANTIZE_LIMITS.captureBytes).toBe(1_073_741_824);
    // 1,073,741,824 / 3,424 = 313,592.8 tokens: 2,449 whole windows of 128 = 313,472.
    expect(quantizeOver(p, aid)).toEqual({
      message: 'Too large: the calibration capture would hold 1,306 MiB at once, over the limit of 1,024 MiB.',
      detail: 'Use fewer calibration tokens (at most 313,472) or a shorter window.',
    });
    expect(() => checkQuantizePlan(p, aid)).toThrow(/Too large/);
    const fits = planQuantize(aid, {
      dtypes: ['q4'],
      method: 'gptq',
      bits: 4,
      calibration: { tokens: 313_472, window: 128, textBytes: 400_000 },
    })!;
    expect(quantizeOver(fits, aid)).toBeUndefined();
  });

  it('counts a budget run’s sensitivity passes and refuses one estimated past an hour', () => {
    const p = planQuantize(s135, {
      dtypes: ['q4'],
      method: 'rtn',
      bits: 4,
      calibration: { tokens: 1024, window: 128, textBytes: 5000 },
      sensitivityWidths: 3,
    })!;
    // (210 x 3 + 1) x 8 windows = 5,048 passes, 646,144 tokens.
    expect(p.sensitivity).toMatchObject({ runs: 630, passes: 5048, tokens: 646_144 });
    // Forward: 224 CPU s per 422 x 128 tokens (README) -> 224 x 646,144 / 54,016; passes 5,048 x 0.06;
    // every weight rounded once per width 3 x 13.8; the q4 job 0.7 + 13.8; ONNX start 5.
    const expected = (224 * 646_144) / 54_016 + 5048 * 0.06 + 3 * 13.8 + 0.7 + 13.8 + 5; // 3,043.4
    expect(p.seconds).toBeCloseTo(expected, 6);
    expect(quantizeOver(p, s135)).toEqual({
      message: 'Too long: up to 1.7 h estimated, over the limit of 1 h.',
      detail: 'Use fewer calibration tokens, measure at fewer widths first, or choose rtn.',
    });
    // A report in hand: no passes, and within the limit.
    const planned = planQuantize(s135, {
      dtypes: ['q4'],
      method: 'rtn',
      bits: 4,
      calibration: { tokens: 1024, window: 128, textBytes: 5000 },
      sensitivityWidths: 0,
    })!;
    expect(planned.sensitivity).toBeUndefined();
    expect(quantizeOver(planned, s135)).toBeUndefined();
  });
  it('warns when GPTQ has fewer calibration tokens than the widest layer input, not otherwise', () => {
    // SmolLM2-135M: down_proj has intermediate_size = 1,536 inputs; 512 tokens (4 windows of 128) are fewer.
    const gptq = (tokens: number, shape = s135) =>
      planQuantize(shape, {
        dtypes: ['q4'],
        method: 'gptq',
        bits: 4,
        calibration: { tokens, window: 128, textBytes: 100_000 },
      })!;
    expect(widestInput(s135)).toBe(1536);
    expect(quantizeWarning(gptq(512), s135)).toMatch(/^GPTQ sees 512 calibration tokens, fewer than the 1,536 inputs/);
    expect(quantizeWarning(gptq(512), s135)).toMatch(/Use at least 1,536 tokens/);
    // 12 windows of 128 = 1,536 tokens: enough.
    expect(quantizeWarning(gptq(1536), s135)).toBeUndefined();
    // 1,600 asked is 12 whole windows, 1,536.
    expect(quantizeWarning(gptq(1600), s135)).toBeUndefined();
    // aidreams260K: widest input 172 (intermediate); 128 tokens warn, 256 do not.
    expect(widestInput(aid)).toBe(172);
    expect(quantizeWarning(gptq(128, aid), aid)).toMatch(/128 calibration tokens, fewer than the 172 inputs/);
    expect(describeQuantize(gptq(128, aid))).toMatch(/calibration 128 tokens \(1 window of 128\)$/);
    expect(quantizeWarning(gptq(256, aid), aid)).toBeUndefined();
    // awq and rtn: no warning; gptq on no NBits precision: none.
    for (const method of ['awq', 'rtn'] as const) {
      const p = planQuantize(s135, { dtypes: ['q4'], method, bits: 4, calibration: builtin })!;
      expect(quantizeWarning(p, s135)).toBeUndefined();
    }
    const q8 = planQuantize(s135, { dtypes: ['q8'], method: 'gptq', bits: 4, calibration: builtin })!;
    expect(quantizeWarning(q8, s135)).toBeUndefined();
  });
});
