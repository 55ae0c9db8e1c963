// The latency panel's 4-bit note: shown for a 4-bit MatMulNBits column on WASM that decodes
// slower than an 8-bit MatMulInteger column on WASM, with both figures and the measured reason.
import { describe, expect, it } from 'vitest';
import { fourBitNotes, WASM_FORMS_MEASUREMENT } from '../../src/lib/page/four-bit-note';

const col = (label: string, stem: string, decode: number | null, device: 'wasm' | 'webgpu' | null = 'wasm') => ({
  label,
  stem,
  device,
  decodeTokensPerS: decode,
});

describe('fourBitNotes', () => {
  it('names the slower 4-bit column, the fastest 8-bit one, and the measured reason', () => {
    const notes = fourBitNotes([
      col('fp32', 'model', 37.3),
      col('q8', 'model_quantized', 30.3),
      col('uint8', 'model_uint8', 20),
      col('q4', 'model_q4', 7.5),
      col('q4 b128', 'model_q4_b128', 31), // faster than q8: no note
      col('q8 nbits', 'model_q8nbits', 1), // 8-bit MatMulNBits is not a 4-bit column
    ]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^q4 decodes at 7\.5 tok\/s here, slower than q8 at 30\.3 tok\/s\. /);
    expect(notes[0]).toContain(`${WASM_FORMS_MEASUREMENT.nbits8TokensPerS} tok/s against MatMulInteger q8's`);
  });

  it('says nothing without an 8-bit column, off WASM, or before the columns have decoded', () => {
    expect(fourBitNotes([col('q4', 'model_q4', 7.5)])).toEqual([]);
    expect(fourBitNotes([col('q8', 'model_quantized', 30, 'webgpu'), col('q4', 'model_q4', 7.5, 'webgpu')])).toEqual(
      [],
    );
    expect(fourBitNotes([col('q8', 'model_quantized', null), col('q4', 'model_q4', 7.5)])).toEqual([]);
    expect(fourBitNotes([col('q8', 'model_quantized', 30), col('q4f16', 'model_q4f16', null)])).toEqual([]);
  });
});
