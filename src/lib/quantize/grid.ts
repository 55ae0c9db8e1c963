// The integer grid every weight-only method produces before packing: per output row n and block
// b of blockSize weights along K, one scale and one integer zero point, and per weight an integer
// level q in [0, 2^bits - 1], so that w ≈ (q - zero) * scale. Round-to-nearest (rtnGrid), HQQ,
// GPTQ and AWQ differ only in how they choose levels and scales; packing into MatMulNBits
// (nbits.ts) and the error report are shared.

import { float16BitsToFloat32, float32ToFloat16Bits } from '../numeric/half';
import type { JobPool } from './jobs';

/** Bits per weight a method quantizes to (levels 0..2^bits-1). */
export type GridBits = 2 | 3 | 4 | 8;

export interface GridSpec {
  bits: GridBits;
  /** Weights per block along K: a power of two, 16..256. */
  blockSize: number;
  /** true: the zero point is fixed at 2^(bits-1) (signed grid); false: one zero point per block. */
  symmetric: boolean;
  /** Storage type of the scales (also the type of the op's activations). */
  scaleType: 'float32' | 'float16';
}

export interface Grid {
  N: number;
  K: number;
  kBlocks: number;
  spec: GridSpec;
  /** Levels [N, K] (row n = the K inputs of output n), each in [0, 2^bits - 1]. */
  q: Uint8Array;
  /** Scales [N, kBlocks], exactly representable in spec.scaleType (may be negative). */
  scales: Float32Array;
  /** Zero points [N, kBlocks], integers in [0, 2^bits - 1]; all 2^(bits-1) when symmetric. */
  zeros: Uint8Array;
}

/** Context a method may use besides the weight itself (calibration statistics). */
export interface WeightContext {
  /** H = 2 X Xᵀ of the weight's inputs, [K, K] row-major (GPTQ). */
  hessian?: Float64Array;
  /**
   * Only the blockSize x blockSize blocks on H's diagonal, [kBlocks, blockSize, blockSize] (AWQ's
   * clip search reads no other entry; a fraction of H's memory). Used when `hessian` is absent.
   */
  hessianBlocks?: Float64Array;
  /** Mean |x| per input channel, [K] (AWQ). */
  inputMeanAbs?: Float64Array;
}

/** A method: weight rows [N, K] in, a grid out. */
export type WeightQuantizer = (rows: Float32Array, N: number, K: number, spec: GridSpec, ctx?: WeightContext) => Grid;

/** A method with its loops spread over a pool's threads: the same grid as its WeightQuantizer. */
export type PooledQuantizer = (
  pool: JobPool,
  rows: Float32Array,
  N: number,
  K: number,
  spec: GridSpec,
  ctx?: WeightContext,
) => Promise<Grid>;

/**
 * The MatMulNBits `bits` a grid of `bits` levels is stored in. ONNX Runtime's MatMulNBits takes
 * bits 2, 4 and 8 (checked on onnxruntime-node CPU by the unit test quantize-ops, and on WASM and
 * WebGPU in Chromium by the browser test quantize-variants); 3 bits has no kernel: 4-bit storage.
 */
export function storageBitsFor(bits: GridBits): 2 | 4 | 8 {
  return bits === 3 ? 4 : bits;
}

export const gridLevels = (bits: GridBits) => (1 << bits) - 1;
export const gridMid = (bits: GridBits) => 1 << (bits - 1);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The stored scale: s rounded to the storage type, moved one step away from zero if rounding
 * shrank it, so the grid still covers the block and round-to-nearest error stays <= |scale|/2.
 * `bits` is the float16 bit pattern (0 for float32).
 */
export function storeScale(s: number, type: 'float32' | 'float16'): { value: number; bits: number } {
  if (s === 0) return { value: 0, bits: 0 };
  if (type === 'float16') {
    let h = float32ToFloat16Bits(s);
    if (Math.abs(float16BitsToFloat32(h)) < Math.abs(s)) h++; // sign-magnitude: +1 grows |value|
    return { value: float16BitsToFloat32(h), bits: h };
  }
  f32[0] = s;
  if (Math.abs(f32[0]) < Math.abs(s)) u32[0]++;
  return { value: f32[0], bits: 0 };
}

/** An empty grid of the given shape (levels and zero points at the midpoint, scales 0), its arrays in `memory`. */
export function emptyGrid(
  N: number,
  K: number,
  spec: GridSpec,
  memory: (bytes: number) => ArrayBuffer | SharedArrayBuffer = (bytes) => new ArrayBuffer(bytes),
): Grid {
  const kBlocks = Math.ceil(K / spec.blockSize);
  const mid = gridMid(spec.bits);
  return {
    N,
    K,
    kBlocks,
    spec,
    q: new Uint8Array(memory(N * K)).fill(mid),
    scales: new Float32Array(memory(4 * N * kBlocks)),
    zeros: new Uint8Array(memory(N * kBlocks)).fill(mid),
  };
}

/**
 * The round-to-nearest scale and zero point of one block of values: symmetric blocks use the
 * signed grid [-2^(b-1), 2^(b-1)-1]·scale with the smallest |scale| that covers the block without
 * clipping (negative when the larger side needs the extra level); asymmetric blocks span
 * [min(0,min), max(0,max)] with a rounded zero point. The scale is already storage-rounded.
 */
export function rtnBlockParams(mn: number, mx: number, spec: GridSpec): { scale: number; zero: number } {
  const levels = gridLevels(spec.bits);
  const mid = gridMid(spec.bits);
  mn = Math.min(0, mn);
  mx = Math.max(0, mx);
  let s: number;
  if (spec.symmetric) {
    const pos = Math.max(mx / (mid - 1), -mn / mid); // positive scale: max side gets mid-1 levels
    const neg = Math.max(mx / mid, -mn / (mid - 1)); // negative scale: max side gets mid levels
    s = pos <= neg ? pos : -neg;
  } else {
    s = (mx - mn) / levels;
  }
  const scale = storeScale(s, spec.scaleType).value;
  const zero = spec.symmetric || scale === 0 ? mid : Math.min(levels, Math.max(0, Math.round(-mn / scale)));
  return { scale, zero: scale === 0 && !spec.symmetric ? 0 : zero };
}

/**
 * Math.round(x) (halves up) for every number, but as floor(x + 0.5) corrected where that sum
 * rounds up (x = 0.49999999999999994, |x| >= 2^52): V8 compiles Math.round to branches that
 * mispredict on random data, this to a floor and a compare that almost never fails (about 5x
 * faster in AWQ's loops). Only the sign of a zero result may differ (+0 for Math.round's -0).
 */
export function roundHalfUp(x: number): number {
  const q = Math.floor(x + 0.5);
  return q - 0.5 > x ? q - 1 : q;
}

/** The level of value v on a block's grid: round(v / scale) + zero, clamped. */
export function quantizeValue(v: number, scale: number, zero: number, levels: number): number {
  if (scale === 0) return zero;
  const q = Math.round(v / scale) + zero;
  return q < 0 ? 0 : q > levels ? levels : q;
}

/** Round-to-nearest: each block's min/max sets its scale (and zero point), each weight is rounded. */
export const rtnGrid: WeightQuantizer = (rows, N, K, spec) => {
  const g = emptyGrid(N, K, spec);
  const levels = gridLevels(spec.bits);
  const { blockSize } = spec;
  for (let n = 0; n < N; n++) {
    const rowBase = n * K;
    for (let b = 0; b < g.kBlocks; b++) {
      const k0 = b * blockSize;
      const end = Math.min(K, k0 + blockSize);
      let mn = 0;
      let mx = 0;
      for (let k = k0; k < end; k++) {
        const v = rows[rowBase + k];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const { scale, zero } = rtnBlockParams(mn, mx, spec);
      g.scales[n * g.kBlocks + b] = scale;
      g.zeros[n * g.kBlocks + b] = zero;
      const inv = scale === 0 ? 0 : 1 / scale;
      for (let k = k0; k < end; k++) {
        let qi = Math.round(rows[rowBase + k] * inv) + zero;
        if (qi < 0) qi = 0;
        else if (qi > levels) qi = levels;
        g.q[rowBase + k] = qi;
      }
    }
  }
  return g;
};

/** The grid's weights as rows [N, K]: (q - zero) * scale. */
export function dequantizeGrid(g: Grid): Float32Array {
  const out = new Float32Array(g.N * g.K);
  const bs = g.spec.blockSize;
  for (let n = 0; n < g.N; n++) {
    for (let k = 0; k < g.K; k++) {
      const b = n * g.kBlocks + Math.floor(k / bs);
      out[n * g.K + k] = (g.q[n * g.K + k] - g.zeros[b]) * g.scales[b];
    }
  }
  return out;
}
