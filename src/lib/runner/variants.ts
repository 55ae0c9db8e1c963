// Maps a model file stem (onnx/<stem>.onnx) to the options transformers.js loads it with:
// its own dtype names where one exists, else fp32 with an explicit file name.

const SUFFIX_TO_DTYPE: Record<string, string> = {
  '': 'fp32',
  _fp16: 'fp16',
  _quantized: 'q8',
  _int8: 'int8',
  _uint8: 'uint8',
  _q4: 'q4',
  _q4f16: 'q4f16',
  _bnb4: 'bnb4',
};

/** transformers.js from_pretrained options selecting onnx/<stem>.onnx. */
export function variantLoadOptions(stem: string): { dtype: string; model_file_name?: string } {
  if (stem.startsWith('model')) {
    const dtype = SUFFIX_TO_DTYPE[stem.slice('model'.length)];
    if (dtype) return { dtype };
  }
  return { dtype: 'fp32', model_file_name: stem };
}

/** The file stem transformers.js reads for one of its dtype names. */
export function dtypeToStem(dtype: string): string | undefined {
  for (const [suffix, d] of Object.entries(SUFFIX_TO_DTYPE)) if (d === dtype) return `model${suffix}`;
  return undefined;
}

/** Whether a variant computes in float16 (needs WebGPU's shader-f16): fp16 and q4f16 files and their descendants. */
export function variantNeedsFloat16(stem: string): boolean {
  return /^model_(fp16|q4f16|q8f16nbits)(_|$)/.test(stem);
}
