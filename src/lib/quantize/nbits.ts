// Block-wise linear quantization into the layout of com.microsoft MatMulNBits: per output row,
// blocks of block_size weights along K, each with one scale (and optionally a zero point).

import { rtnGrid, storeScale, type Grid } from './grid';
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

/**
 * Packs a grid into MatMulNBits storage of `storageBits` per weight (>= the grid's bits: 3-bit
 * levels go into 4-bit storage). A symmetric grid keeps the op's implicit zero point
 * 2^(storageBits-1) by shifting its levels; an asymmetric one stores its zero points. Weights past
 * K in the last block are stored as the zero point, as ONNX Runtime's quantizer pads with zeros.
 * `rows` (the original weights) gives the error report.
 */
export function packNBits(g: Grid, storageBits: 2 | 4 | 8, rows: Float32Array): NBitsTensor {
  const { N, K, kBlocks, spec } = g;
  if (storageBits < spec.bits) throw new Error(`${spec.bits}-bit levels do not fit ${storageBits}-bit storage`);
  const { blockSize } = spec;
  const perByte = 8 / storageBits;
  const blobSize = blockSize / perByte;
  const shift = spec.symmetric ? (1 << (storageBits - 1)) - (1 << (spec.bits - 1)) : 0;
  const packed = new Uint8Array(N * kBlocks * blobSize);
  const scalesF16 = spec.scaleType === 'float16' ? new Uint16Array(N * kBlocks) : undefined;
  const zpRow = Math.ceil(kBlocks / perByte);
  const zeroPoints = spec.symmetric ? undefined : new Uint8Array(N * zpRow);
  const error = new ErrorStats();
  let sumSq = 0;
  let maxErr = 0;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const i = n * kBlocks + b;
      const s = g.scales[i];
      const zp = g.zeros[i];
      if (scalesF16) scalesF16[i] = storeScale(s, 'float16').bits;
      if (zeroPoints) zeroPoints[n * zpRow + Math.floor(b / perByte)] |= zp << ((b % perByte) * storageBits);
      const blob = i * blobSize;
      for (let j = 0; j < blockSize; j++) {
        const k = b * blockSize + j;
        let qi = zp + shift;
        if (k < K) {
          const level = g.q[n * K + k];
          qi = level + shift;
          const d = (level - zp) * s - rows[n * K + k];
          sumSq += d * d;
          if (d > maxErr) maxErr = d;
          else if (-d > maxErr) maxErr = -d;
        }
        packed[blob + Math.floor(j / perByte)] |= qi << ((j % perByte) * storageBits);
      }
    }
  }
  error.addBatch(N * K, sumSq, maxErr);
  return { K, N, kBlocks, blobSize, packed, scales: g.scales, scalesF16, zeroPoints, error };
}

/** Round-to-nearest quantization of weight rows [N, K] into MatMulNBits storage of the same width. */
export function quantizeNBits(rows: Float32Array, N: number, K: number, o: NBitsOptions): NBitsTensor {
  return packNBits(rtnGrid(rows, N, K, o), o.bits, rows);
}
