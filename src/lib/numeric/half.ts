// Exact bit-level conversions between float32 and the two 16-bit float formats checkpoints use
// (IEEE binary16 "F16" and bfloat16 "BF16"), shared by the safetensors reader/writer and the quantizer.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Value of an IEEE binary16 bit pattern (subnormals, ±inf and NaN included); exact. */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * binary16 bits of Math.fround(x), rounded to nearest even; values beyond the largest half (65504,
 * after rounding) become ±inf, tiny values become subnormals or ±0, NaN stays a (quiet) NaN.
 */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++; // a carry lands in the exponent, as it should
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into inf: correct overflow
  return sign | half;
}

/** Value of a bfloat16 bit pattern (the top half of a float32); exact. */
export function bfloat16BitsToFloat32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** bfloat16 bits of Math.fround(x), rounded to nearest even; NaN stays a quiet NaN. */
export function float32ToBfloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;

/** Converts an array of binary16 bit patterns to float32 (table lookup, exact). */
export function float16ArrayToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16BitsToFloat32(h);
  }
  const t = f16Table;
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}

/** Converts an array of bfloat16 bit patterns to float32 (exact). */
export function bfloat16ArrayToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i] << 16;
  return out;
}

/** Rounds float32 values to binary16 bit patterns (nearest even, overflow to inf). */
export function float32ArrayToFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32ToFloat16Bits(src[i]);
  return out;
}

/** Rounds float32 values to bfloat16 bit patterns (nearest even). */
export function float32ArrayToBfloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32ToBfloat16Bits(src[i]);
  return out;
}
