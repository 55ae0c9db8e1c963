// Block-wise linear quantization into the layout of com.microsoft MatMulNBits: per output row,
// blocks of block_size weights along K, each with one scale (and optionally a zero point).

import { float16BitsToFloat32, float32ToFloat16Bits } from '../numeric/half';
import { ErrorStats } from './weight-error';

export interface NBitsOptions {
  /** 4 or 8 bits per weight. */
  bits: 4 | 8;
  /** Weights per block along K: a power of two, 16..256. */
  blockSize: number;
  /** true: no zero_points input, implicit zero point 2^(bits-1); false: a uint8 zero point per block. */
  symmetric: boolean;
  /** Storage type of the scales, which is also the type of the op's activations. */
  scaleType: 'float32' | 'float16';
}

export interface NBitsTensor {
  K: number;
  N: number;
  kBlocks: number;
  blobSize: number;
  /** B: uint8 [N, kBlocks, blobSize]. */
  packed: Uint8Array;
  /** Scales [N, kBlocks] as float32 values (exactly representable in scaleType). */
  scales: Float32Array;
  /** The same scales as float16 bit patterns when scaleType is 'float16'. */
  scalesF16?: Uint16Array;
  /** Packed uint8 zero points [N, ceil(kBlocks * bits / 8)] (asymmetric only). */
  zeroPoints?: Uint8Array;
  error: ErrorStats;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The stored scale: s rounded to the storage type, moved one step away from zero if rounding
 * shrank it, so the grid still covers the block and round-to-nearest error stays <= |scale|/2.
 */
function storeScale(s: number, type: 'float32' | 'float16'): { value: number; bits: number } {
  if (type === 'float16') {
    let h = float32ToFloat16Bits(s);
    if (Math.abs(float16BitsToFloat32(h)) < Math.abs(s)) h++; // sign-magnitude: +1 grows |value|
    return { value: float16BitsToFloat32(h), bits: h };
  }
  f32[0] = s;
  if (Math.abs(f32[0]) < Math.abs(s)) u32[0]++;
  return { value: f32[0], bits: 0 };
}

/**
 * Quantizes a weight given as rows [N, K] (row n = the K inputs of output n). Symmetric blocks
 * use the signed grid [-2^(b-1), 2^(b-1)-1]·scale with the smallest |scale| that covers the
 * block without clipping (the scale may be negative so that the larger side gets the extra
 * level); asymmetric blocks span [min(0,min), max(0,max)] with a rounded zero point. Weights
 * past K in the last block (K not a multiple of block_size) are stored as the zero point, as
 * ONNX Runtime's quantizer pads with zeros.
 */
export function quantizeNBits(rows: Float32Array, N: number, K: number, o: NBitsOptions): NBitsTensor {
  const { bits, blockSize } = o;
  const kBlocks = Math.ceil(K / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const levels = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const packed = new Uint8Array(N * kBlocks * blobSize);
  const scales = new Float32Array(N * kBlocks);
  const scalesF16 = o.scaleType === 'float16' ? new Uint16Array(N * kBlocks) : undefined;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = o.symmetric ? undefined : new Uint8Array(N * zpRow);
  const q = new Uint8Array(blockSize);
  const error = new ErrorStats();
  let sumSq = 0;
  let maxErr = 0;

  for (let n = 0; n < N; n++) {
    const rowBase = n * K;
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize;
      const len = Math.min(blockSize, K - k0);
      let mn = 0;
      let mx = 0;
      for (let j = 0; j < len; j++) {
        const v = rows[rowBase + k0 + j];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      let s: number;
      let zp = mid;
      if (o.symmetric) {
        const pos = Math.max(mx / (mid - 1), -mn / mid); // positive scale: max side gets mid-1 levels
        const neg = Math.max(mx / mid, -mn / (mid - 1)); // negative scale: max side gets mid levels
        s = pos <= neg ? pos : -neg;
      } else {
        s = (mx - mn) / levels;
      }
      const stored = s === 0 ? { value: 0, bits: 0 } : storeScale(s, o.scaleType);
      s = stored.value;
      if (!o.symmetric) zp = s === 0 ? 0 : Math.min(levels, Math.max(0, Math.round(-mn / s)));
      const inv = s === 0 ? 0 : 1 / s;
      for (let j = 0; j < len; j++) {
        const v = rows[rowBase + k0 + j];
        let qi = Math.round(v * inv) + zp;
        if (qi < 0) qi = 0;
        else if (qi > levels) qi = levels;
        q[j] = qi;
        const d = (qi - zp) * s - v;
        sumSq += d * d;
        if (d > maxErr) maxErr = d;
        else if (-d > maxErr) maxErr = -d;
      }
      q.fill(zp, len);
      const blob = (n * kBlocks + b) * blobSize;
      if (bits === 8) packed.set(q, blob);
      else for (let j = 0; j < blobSize; j++) packed[blob + j] = q[2 * j] | (q[2 * j + 1] << 4);
      scales[n * kBlocks + b] = s;
      if (scalesF16) scalesF16[n * kBlocks + b] = stored.bits;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpRow + b] = zp;
        else zeroPoints[n * zpRow + (b >> 1)] |= zp << ((b & 1) * 4);
      }
    }
  }
  error.addBatch(N * K, sumSq, maxErr);
  return { K, N, kBlocks, blobSize, packed, scales, scalesF16, zeroPoints, error };
}
