// The non-uniform code tables of the bitsandbytes formats (NF4, FP4, and the 8-bit "dynamic"
// map used to double-quantize absmax), and nearest-code lookup for quantizing into them.

/**
 * NF4 code, index = 4-bit code. The values bitsandbytes publishes in `get_4bit_type('nf4')`
 * (bitsandbytes/functional.py) and ONNX Runtime's MatMulBnb4 kernel uses (`nf4_qaunt_map` in
 * onnxruntime/contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h), as float32.
 */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/**
 * FP4 (e2m1, bias 3, with subnormals) code, index = 4-bit code with the sign in bit 3:
 * bitsandbytes' `[0, 0.0625, 8, 12, 4, 6, 2, 3, -0, ...]` divided by 12, the same table as
 * ONNX Runtime's `fp4_qaunt_map`.
 */
export const FP4_CODE: Float32Array = Float32Array.from(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => v / 12),
);

/**
 * bitsandbytes' signed dynamic 8-bit map (`create_dynamic_map(signed=True)`): for exponents
 * 10^-6 .. 10^0, 2^i linearly spaced means in [0.1, 1], both signs, plus 0 and 1; sorted. This is
 * the code of `quantize_blockwise`, which double quantization applies to the absmax values.
 */
export function createDynamicMap(): Float32Array {
  const data: number[] = [];
  const maxExponentBits = 7;
  for (let i = 0; i < maxExponentBits; i++) {
    const items = 2 ** i + 1;
    const scale = 10 ** (-(maxExponentBits - 1) + i);
    for (let j = 0; j + 1 < items; j++) {
      // torch.linspace(0.1, 1, items) boundaries, midpoints between neighbours, in float32.
      const b0 = Math.fround(0.1 + (0.9 * j) / (items - 1));
      const b1 = Math.fround(0.1 + (0.9 * (j + 1)) / (items - 1));
      const mean = Math.fround((b0 + b1) / 2);
      data.push(Math.fround(scale * mean), Math.fround(-scale * mean));
    }
  }
  data.push(0, 1);
  data.sort((a, b) => a - b);
  return Float32Array.from(data);
}

/**
 * Nearest-code quantizer for a sorted or unsorted code: returns a function mapping a normalized
 * value to the index of the nearest code value (ties to the lower index of the sorted order).
 */
export function nearestCode(code: Float32Array): (x: number) => number {
  const order = Array.from(code.keys()).sort((a, b) => code[a] - code[b]);
  const sorted = order.map((i) => code[i]);
  const mids = new Float64Array(sorted.length - 1);
  for (let i = 0; i < mids.length; i++) mids[i] = (sorted[i] + sorted[i + 1]) / 2;
  const idx = Int32Array.from(order);
  return (x: number): number => {
    let lo = 0;
    let hi = mids.length; // answer in [0, mids.length]
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (x > mids[m]) lo = m + 1;
      else hi = m;
    }
    return idx[lo];
  };
}
