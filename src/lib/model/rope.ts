// Rotary embedding frequencies, shared by the unfused and the fused decoder graphs.

/** inv_freq[i] = theta^(-2i/d), computed as Hugging Face does (float32 exponent, float32 result). */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / Math.pow(theta, Math.fround((2 * i) / headDim));
  return out;
}
