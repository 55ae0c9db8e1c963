// bitsandbytes-style 4-bit quantization (NF4 / FP4 with per-block absmax) in the layout of
// com.microsoft MatMulBnb4, and the optional double quantization of the absmax values.

import { FP4_CODE, NF4_CODE, createDynamicMap, nearestCode } from './codebooks';
import { ErrorStats } from './weight-error';

export type Bnb4Type = 'nf4' | 'fp4';

/** MatMulBnb4's quant_type attribute. */
export const BNB4_QUANT_TYPE: Record<Bnb4Type, number> = { fp4: 0, nf4: 1 };

export interface Bnb4Tensor {
  N: number;
  K: number;
  blockSize: number;
  /** B: uint8 [ceil(N*K/2)], the [N, K] weight flattened, first value of each pair in the high nibble. */
  packed: Uint8Array;
  /** absmax [ceil(N*K/blockSize)] as the op reads it (after double quantization, the dequantized values). */
  absmax: Float32Array;
  /** Present when the absmax values were double-quantized. */
  dq?: DoubleQuantized;
  error: ErrorStats;
}

export interface DoubleQuantized {
  blockSize: number;
  /** uint8 codes into `code`, [nBlocks2 * blockSize]; the tail past absmax.length is padding. */
  codes: Uint8Array;
  /** One float scale per block of absmax values. */
  scales: Float32Array;
  /** Mean of the absmax values, subtracted before quantizing. */
  offset: number;
  /** The 256-entry dynamic map. */
  code: Float32Array;
}

const nf4Nearest = nearestCode(NF4_CODE);
const fp4Nearest = nearestCode(FP4_CODE.subarray(0, 8)); // magnitudes 0..1 at codes 0..7

/** The 4-bit code of a value already divided by its block's absmax (so in [-1, 1]). */
function encode(type: Bnb4Type, x: number): number {
  if (type === 'nf4') return nf4Nearest(x);
  // FP4 is sign-magnitude: bit 3 is the sign, as ONNX Runtime's QuantizeOneFP4 does.
  return x < 0 ? 8 | fp4Nearest(-x) : fp4Nearest(x);
}

/**
 * Quantizes rows [N, K] (row n = the K inputs of output n) to NF4 or FP4, block-wise over the
 * flattened [N, K] array as MatMulBnb4 specifies. With doubleQuant the absmax values are
 * themselves quantized to the 8-bit dynamic map in blocks of 256 after subtracting their mean,
 * as bitsandbytes' compress_statistics does; the 4-bit codes are computed with the exact absmax
 * first (also as bitsandbytes does), then the weights dequantize with the compressed absmax.
 */
export function quantizeBnb4(
  rows: Float32Array,
  N: number,
  K: number,
  type: Bnb4Type,
  blockSize: number,
  doubleQuant = false,
): Bnb4Tensor {
  const n = N * K;
  const nBlocks = Math.ceil(n / blockSize);
  const absmax = new Float32Array(nBlocks);
  const packed = new Uint8Array(Math.ceil(n / 2));
  const codes = new Uint8Array(n);
  for (let b = 0; b < nBlocks; b++) {
    const i0 = b * blockSize;
    const i1 = Math.min(n, i0 + blockSize);
    let m = 0;
    for (let i = i0; i < i1; i++) {
      const a = Math.abs(rows[i]);
      if (a > m) m = a;
    }
    absmax[b] = m;
    const inv = m === 0 ? 0 : 1 / m;
    for (let i = i0; i < i1; i++) codes[i] = encode(type, rows[i] * inv);
  }
  for (let i = 0; i < n; i += 2) packed[i >> 1] = (codes[i] << 4) | (i + 1 < n ? codes[i + 1] : 0);

  let dq: DoubleQuantized | undefined;
  let used: Float32Array = absmax;
  if (doubleQuant) {
    dq = doubleQuantize(absmax, 256);
    used = dequantizeDoubleQuant(dq, nBlocks);
  }
  const table = type === 'nf4' ? NF4_CODE : FP4_CODE;
  const error = new ErrorStats();
  let sumSq = 0;
  let maxErr = 0;
  for (let b = 0; b < nBlocks; b++) {
    const a = used[b];
    for (let i = b * blockSize, end = Math.min(n, i + blockSize); i < end; i++) {
      const d = Math.fround(table[codes[i]] * a) - rows[i];
      sumSq += d * d;
      if (d > maxErr) maxErr = d;
      else if (-d > maxErr) maxErr = -d;
    }
  }
  error.addBatch(n, sumSq, maxErr);
  return { N, K, blockSize, packed, absmax: used, dq, error };
}

let dynamicMap: Float32Array | undefined;
let dynamicNearest: ((x: number) => number) | undefined;

/** Quantizes absmax values to the 8-bit dynamic map, blockwise, after subtracting their mean. */
export function doubleQuantize(absmax: Float32Array, blockSize: number): DoubleQuantized {
  dynamicMap ??= createDynamicMap();
  dynamicNearest ??= nearestCode(dynamicMap);
  let sum = 0;
  for (const v of absmax) sum += v;
  const offset = Math.fround(sum / absmax.length);
  const nb = Math.ceil(absmax.length / blockSize);
  const codes = new Uint8Array(nb * blockSize).fill(dynamicNearest(0));
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const i0 = b * blockSize;
    const i1 = Math.min(absmax.length, i0 + blockSize);
    let m = 0;
    for (let i = i0; i < i1; i++) m = Math.max(m, Math.abs(Math.fround(absmax[i] - offset)));
    scales[b] = m;
    const inv = m === 0 ? 0 : 1 / m;
    for (let i = i0; i < i1; i++) codes[i] = dynamicNearest(Math.fround(absmax[i] - offset) * inv);
  }
  return { blockSize, codes, scales, offset, code: dynamicMap };
}

/** absmax[i] = code[codes[i]] * scale[block] + offset, in float32 as the ONNX subgraph computes it. */
export function dequantizeDoubleQuant(dq: DoubleQuantized, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = Math.fround(Math.fround(dq.code[dq.codes[i]] * dq.scales[Math.floor(i / dq.blockSize)]) + dq.offset);
  }
  return out;
}
