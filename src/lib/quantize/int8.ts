// 8-bit weights for dynamic quantization (DynamicQuantizeLinear + MatMulInteger, the graph ONNX
// Runtime's quantize_dynamic writes): uint8 asymmetric or int8 symmetric, per tensor or per column.

import { ErrorStats } from './weight-error';

export type Int8Kind = 'uint8' | 'int8';

export interface Int8Tensor {
  K: number;
  N: number;
  kind: Int8Kind;
  /** B: [K, N] uint8 or int8 (as bytes), the same layout as the float MatMul weight. */
  data: Uint8Array | Int8Array;
  /** One scale (per tensor) or N scales (per output column). */
  scales: Float32Array;
  /** Zero points matching scales, same element type as data. */
  zeroPoints: Uint8Array | Int8Array;
  error: ErrorStats;
}

/**
 * Signed weights use the 7-bit range [-64, 64] (ONNX Runtime's reduce_range), not +-127. On x86
 * without VNNI, MLAS's u8s8 kernel (uint8 activations from DynamicQuantizeLinear times int8
 * weights) adds two u8*s8 products with vpmaddubsw into a saturating int16: 2*255*127 = 64770
 * overflows 32767 and onnxruntime-node returns wrong results, while 2*255*64 = 32640 fits, so
 * +-64 is exact on every backend. Unsigned weights go through the u8u8 kernel, which widens to
 * 16 bits before multiplying, so they keep the full [0, 255] range with a zero point.
 */
export const INT8_WEIGHT_RANGE = 64;

/**
 * Quantizes a MatMul weight [K, N] (row-major). perChannel gives each output column its own
 * scale and zero point (MatMulInteger accepts a 1-D b_zero_point of length N).
 */
export function quantizeInt8(w: Float32Array, K: number, N: number, kind: Int8Kind, perChannel: boolean): Int8Tensor {
  const groups = perChannel ? N : 1;
  const mn = new Float64Array(groups);
  const mx = new Float64Array(groups);
  for (let k = 0; k < K; k++) {
    const base = k * N;
    for (let n = 0; n < N; n++) {
      const g = perChannel ? n : 0;
      const v = w[base + n];
      if (v < mn[g]) mn[g] = v;
      if (v > mx[g]) mx[g] = v;
    }
  }
  const scales = new Float32Array(groups);
  const zeroPoints = kind === 'uint8' ? new Uint8Array(groups) : new Int8Array(groups);
  const inv = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    let s: number;
    if (kind === 'uint8') {
      s = Math.fround((mx[g] - mn[g]) / 255);
      if (s * 255 < mx[g] - mn[g]) s = Math.fround(s * (1 + 2 ** -23)); // keep the range covered
      zeroPoints[g] = s === 0 ? 0 : Math.min(255, Math.max(0, Math.round(-mn[g] / s)));
    } else {
      const a = Math.max(mx[g], -mn[g]);
      s = Math.fround(a / INT8_WEIGHT_RANGE);
      if (s * INT8_WEIGHT_RANGE < a) s = Math.fround(s * (1 + 2 ** -23));
    }
    scales[g] = s;
    inv[g] = s === 0 ? 0 : 1 / s;
  }
  const lo = kind === 'uint8' ? 0 : -INT8_WEIGHT_RANGE;
  const hi = kind === 'uint8' ? 255 : INT8_WEIGHT_RANGE;
  const data = kind === 'uint8' ? new Uint8Array(K * N) : new Int8Array(K * N);
  const error = new ErrorStats();
  // Error sums in locals, handed to ErrorStats.addBatch once (as nbits.ts does): no call per weight in the hot loop.
  let sumSq = 0;
  let maxErr = 0;
  for (let k = 0; k < K; k++) {
    const base = k * N;
    for (let n = 0; n < N; n++) {
      const g = perChannel ? n : 0;
      const v = w[base + n];
      let q = Math.round(v * inv[g]) + zeroPoints[g];
      if (q < lo) q = lo;
      else if (q > hi) q = hi;
      data[base + n] = q;
      const d = (q - zeroPoints[g]) * scales[g] - v;
      sumSq += d * d;
      if (d > maxErr) maxErr = d;
      else if (-d > maxErr) maxErr = -d;
    }
  }
  error.addBatch(K * N, sumSq, maxErr);
  return { K, N, kind, data, scales, zeroPoints, error };
}
