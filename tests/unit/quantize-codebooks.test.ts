// The 4-bit code tables must be exactly bitsandbytes' published values (which ONNX Runtime's
// MatMulBnb4 kernel also hard-codes), and the 8-bit dynamic map must follow its construction.
import { describe, expect, it } from 'vitest';
import { FP4_CODE, NF4_CODE, createDynamicMap, nearestCode } from '../../src/lib/quantize/codebooks';

// bitsandbytes/functional.py, get_4bit_type('nf4') (bitsandbytes-foundation/bitsandbytes), identical
// to nf4_qaunt_map in onnxruntime/contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h.
const PUBLISHED_NF4 = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];
// get_4bit_type('fp4'), then divided by its absmax 12:
const PUBLISHED_FP4_BNB = [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0];
// ONNX Runtime's fp4_qaunt_map writes the quotients out:
const PUBLISHED_FP4_ORT = [
  0.0, 5.208333333e-3, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25, -0.0, -5.208333333e-3, -0.66666667, -1.0,
  -0.33333333, -0.5, -0.16666667, -0.25,
];

describe('4-bit code tables', () => {
  it('NF4 equals bitsandbytes / ONNX Runtime, as float32', () => {
    expect(Array.from(NF4_CODE)).toEqual(PUBLISHED_NF4.map(Math.fround));
  });

  it('FP4 equals bitsandbytes / ONNX Runtime (float32 of x/12, sign in bit 3)', () => {
    expect(FP4_CODE.length).toBe(16);
    FP4_CODE.forEach((v, i) => {
      expect(v).toBe(Math.fround(PUBLISHED_FP4_ORT[i])); // the same float32 as ONNX Runtime's literals
      expect(v).toBe(Math.fround(PUBLISHED_FP4_BNB[i] / 12));
      expect(Object.is(v, -0)).toBe(i === 8);
    });
  });

  it('nearest-code lookup picks the closest entry, ties to the lower value', () => {
    const near = nearestCode(NF4_CODE);
    for (let x = -1.2; x <= 1.2; x += 0.001) {
      const best = Math.min(...PUBLISHED_NF4.map((c) => Math.abs(c - x)));
      expect(Math.abs(PUBLISHED_NF4[near(x)] - x)).toBeCloseTo(best, 12);
    }
    // Midpoint between codes 14 and 15 (ONNX Runtime's pivot 0.8614784181118011) goes down.
    expect(near((0.7229568362236023 + 1) / 2)).toBe(14);
  });
});

describe('dynamic 8-bit map (double quantization)', () => {
  it('has 256 sorted distinct values from the create_dynamic_map construction', () => {
    const m = createDynamicMap();
    expect(m.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(m[i]).toBeGreaterThan(m[i - 1]);
    expect(m[255]).toBe(1);
    expect(Array.from(m).filter((v) => v === 0)).toHaveLength(1);
    // Largest magnitude below 1: 10^0 * mean of the last two of linspace(0.1, 1, 65) = 1 - 0.9/128.
    expect(m[0]).toBeCloseTo(-(1 - 0.9 / 128), 6);
    expect(m[254]).toBeCloseTo(1 - 0.9 / 128, 6);
    // Smallest magnitude: 10^-6 * mean(0.1, 1) = 5.5e-7, on both sides of zero.
    const i0 = Array.from(m).indexOf(0);
    expect(m[i0 + 1]).toBeCloseTo(5.5e-7, 12);
    expect(m[i0 - 1]).toBeCloseTo(-5.5e-7, 12);
    // Exponent 10^-1 contributes 2^5 = 32 values per sign, in [0.01, 0.1).
    expect(Array.from(m).filter((v) => v >= 0.01 && v < 0.1)).toHaveLength(32);
  });
});
