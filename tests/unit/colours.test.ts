// One colour per variant: stable per stem, distinct among the columns shown together, and fp32's
// never given to another variant (the ninth column used to reuse it).
import { describe, expect, it } from 'vitest';
import {
  FP32_COLOUR,
  OTHER_COLOURS,
  precisionColours,
  variantColour,
  variantColours,
} from '../../src/lib/page/colours';

// Spelled out, not read from the variant table, so the inputs do not come from the code under test.
const NAMED = [
  'model',
  'model_fp16',
  'model_bf16',
  'model_q4',
  'model_q4f16',
  'model_quantized',
  'model_int8',
  'model_uint8',
  'model_bnb4',
  'model_q8nbits',
  'model_q8f16nbits',
];

describe('variantColours', () => {
  it('gives the nine variants of the built-in model nine colours, fp32 its own', () => {
    const stems = NAMED.slice(0, 9);
    const c = variantColours(stems);
    expect(new Set(c.values()).size).toBe(9);
    expect(c.get('model')).toBe(FP32_COLOUR);
    expect(stems.filter((s) => c.get(s) === FP32_COLOUR)).toEqual(['model']);
  });

  it('keeps a variant its colour whatever is shown beside it, and in any order', () => {
    const all = variantColours(NAMED);
    for (const s of NAMED) {
      expect(variantColours([s]).get(s)).toBe(all.get(s));
      expect(variantColours(['model_q4', s, 'model']).get(s)).toBe(all.get(s));
      expect(variantColours([...NAMED].reverse()).get(s)).toBe(all.get(s));
      expect(variantColour(s)).toBe(all.get(s));
    }
  });

  it('stays distinct and never fp32 blue for many custom stems', () => {
    const stems = ['model', ...Array.from({ length: 40 }, (_, i) => `model_q4_b${16 << (i % 4)}_${i}`)];
    const c = variantColours(stems);
    expect(c.size).toBe(41);
    expect(new Set(c.values()).size).toBe(41);
    expect([...c].filter(([, v]) => v === FP32_COLOUR).map(([k]) => k)).toEqual(['model']);
    expect(OTHER_COLOURS).not.toContain(FP32_COLOUR);
  });

  it('gives a stem the same colour on every call', () => {
    expect(variantColour('model_q4_b64')).toBe(variantColour('model_q4_b64'));
    expect(variantColours(['model_q4_b64', 'model_q4_b128']).get('model_q4_b64')).toBe(variantColour('model_q4_b64'));
  });
});

describe('precisionColours', () => {
  it('colours a precision name as its stem', () => {
    const c = precisionColours(['fp32', 'q4', 'q8']);
    expect(c.get('fp32')).toBe(FP32_COLOUR);
    expect(c.get('q4')).toBe(variantColour('model_q4'));
    expect(c.get('q8')).toBe(variantColour('model_quantized'));
  });
});
