// The latency panel's note when a 4-bit column decodes slower than an 8-bit one on WASM: the
// page's own figures, and the reason `quantlab bench --forms` measured (the forms table, issue 15):
// on WASM, ONNX Runtime's MatMulNBits is slow whatever its bits, while MatMulInteger has SIMD kernels.

/** What the forms table measured on browser-wasm (SmolLM2-135M-shaped random model, raw ONNX Runtime loops). */
export const WASM_FORMS_MEASUREMENT = {
  date: '2026-12-02',
  /** MatMulNBits with 8-bit weights, accuracy level 0, and MatMulInteger q8 on the same model and run. */
  nbits8TokensPerS: 0.16,
  q8TokensPerS: 1.86,
  /** The machine was shared: medians and ratios of one run, under this 1-minute load average on 2 cores. */
  loadAverage: 38,
} as const;

export interface NoteColumn {
  label: string;
  /** onnx/<stem>.onnx of the column. */
  stem: string;
  device: 'wasm' | 'webgpu' | null;
  decodeTokensPerS: number | null;
}

/** MatMulNBits 4-bit files (q4, q4f16 and their block/asym forms), not 8-bit ones (model_q8nbits). */
const isNBits4 = (stem: string) => /^model_q4(f16)?(_|$)/.test(stem);
/** DynamicQuantizeLinear + MatMulInteger files. */
const isInteger8 = (stem: string) => /^model_(quantized|int8|uint8)(_|$)/.test(stem);

/**
 * One line for each 4-bit column on WASM that decoded slower than the fastest 8-bit MatMulInteger
 * column on WASM, with both figures and the measured reason; none when 4-bit is not slower.
 */
export function fourBitNotes(columns: readonly NoteColumn[]): string[] {
  const measured = columns.filter((c) => c.device === 'wasm' && c.decodeTokensPerS !== null && c.decodeTokensPerS > 0);
  const q8 = measured
    .filter((c) => isInteger8(c.stem))
    .reduce<NoteColumn | null>((a, c) => (a && a.decodeTokensPerS! >= c.decodeTokensPerS! ? a : c), null);
  if (!q8) return [];
  const m = WASM_FORMS_MEASUREMENT;
  return measured
    .filter((c) => isNBits4(c.stem) && c.decodeTokensPerS! < q8.decodeTokensPerS!)
    .map(
      (c) =>
        `${c.label} decodes at ${c.decodeTokensPerS!.toFixed(1)} tok/s here, slower than ${q8.label} at ${q8.decodeTokensPerS!.toFixed(1)} tok/s. ` +
        `Measured reason (quantlab bench --forms, ${m.date}): on WASM, ONNX Runtime's MatMulNBits is slow whatever its bits ` +
        `(8-bit weights in it: ${m.nbits8TokensPerS} tok/s against MatMulInteger q8's ${m.q8TokensPerS} tok/s on the same 135M-shaped model), ` +
        `so the cost is the op's WASM kernel, not the 4 bits; MatMulInteger has WASM SIMD kernels.`,
    );
}
