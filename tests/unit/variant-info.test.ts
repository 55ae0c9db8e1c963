import { describe, expect, it } from 'vitest';
import { describeBits, formatBytes, parseManifest, variantFromStem, variantsFromFiles } from '../../src/lib/variant-info';

describe('variantFromStem', () => {
  it('labels transformers.js file names', () => {
    const cases: [string, string, number, boolean][] = [
      ['model', 'fp32', 32, false],
      ['model_fp16', 'fp16', 16, true],
      ['model_quantized', 'q8', 8, false],
      ['model_int8', 'int8', 8, false],
      ['model_uint8', 'uint8', 8, false],
      ['model_q4', 'q4', 4, false],
      ['model_q4f16', 'q4f16', 4, true],
      ['model_bnb4', 'bnb4', 4, false],
    ];
    for (const [stem, label, bits, f16] of cases) {
      const v = variantFromStem(stem);
      expect([v.label, v.bitsPerWeight, v.needsShaderF16, v.bitsMeasured]).toEqual([label, bits, f16, false]);
    }
    expect(variantFromStem('model_quantized').integerMatMul).toBe(true);
    expect(variantFromStem('model_q4').integerMatMul).toBe(false);
  });

  it('reads the quantizer name parts', () => {
    expect(variantFromStem('model_q4_b128').label).toBe('q4 b128');
    expect(variantFromStem('model_q4_b128').format).toContain('block 128');
    expect(variantFromStem('model_q4f16_b64_asym').label).toBe('q4f16 b64 asym');
    expect(variantFromStem('model_bnb4_fp4_dq').format).toBe('MatMulBnb4 FP4, double-quantized scales');
    expect(variantFromStem('model_q8nbits').bitsPerWeight).toBe(8);
    expect(variantFromStem('model_q8f16nbits').needsShaderF16).toBe(true);
    expect(variantFromStem('decoder_model_merged').label).toBe('decoder_model_merged');
  });
});

describe('manifest', () => {
  const quantizerShape = {
    version: 1,
    source: 'model.onnx',
    variants: [{ file: 'model_q4.onnx', format: 'MatMulNBits 4-bit, block 32', options: { dtype: 'q4' }, bytes: 1000, bitsPerWeight: 5.03 }],
  };
  const briefShape = { files: { 'onnx/model_q4f16.onnx': { format: 'MatMulNBits f16', options: { dtype: 'q4f16' }, bitsPerWeight: 4.52, bytes: 900 } } };

  it('reads both shapes and skips malformed entries', () => {
    expect(parseManifest(quantizerShape).get('model_q4.onnx')).toEqual({ format: 'MatMulNBits 4-bit, block 32', bitsPerWeight: 5.03, bitsQuantized: undefined, bytes: 1000, dtype: 'q4' });
    expect(parseManifest(briefShape).get('model_q4f16.onnx')?.bitsPerWeight).toBe(4.52);
    expect(parseManifest({ variants: [null, 3, { nofile: 1 }] }).size).toBe(0);
    expect(parseManifest('garbage').size).toBe(0);
  });

  it('lists every onnx/*.onnx, labelled from the manifest when it has the file, fp32 first', () => {
    const files = [
      { path: 'config.json', bytes: 500 },
      { path: 'onnx/model_q4.onnx', bytes: 1000 },
      { path: 'onnx/model_bnb4.onnx', bytes: 950 },
      { path: 'onnx/model.onnx', bytes: 4000 },
      { path: 'onnx/model_quantized.onnx', bytes: 1100 },
      { path: 'onnx/quantlab-manifest.json', bytes: 300 },
    ];
    const v = variantsFromFiles(files, quantizerShape);
    expect(v.map((x) => x.stem)).toEqual(['model', 'model_quantized', 'model_bnb4', 'model_q4']);
    const q4 = v.find((x) => x.stem === 'model_q4')!;
    expect([q4.bitsPerWeight, q4.bitsMeasured, q4.format, q4.bytes]).toEqual([5.03, true, 'MatMulNBits 4-bit, block 32', 1000]);
    expect(describeBits(q4)).toBe('5.03 bit/weight');
    expect(describeBits(v[0])).toBe('≈32 bit');
    const withQuantized = variantsFromFiles([{ path: 'onnx/model_q4.onnx', bytes: 1000 }], { variants: [{ file: 'model_q4.onnx', bitsPerWeight: 10.55, bitsPerWeightQuantized: 4.5 }] });
    expect(describeBits(withQuantized[0])).toBe('4.50 bit/weight, 10.55 overall');
  });

  it('flags variants whose weights live in .onnx_data', () => {
    const v = variantsFromFiles([{ path: 'onnx/model.onnx', bytes: 524e3 }, { path: 'onnx/model.onnx_data', bytes: 4.94e9 }]);
    expect(v).toHaveLength(1);
    expect(v[0].externalData).toBe(true);
  });
});

describe('formatBytes', () => {
  it('rounds like the Hub does', () => {
    expect(formatBytes(654e6)).toBe('654 MB');
    expect(formatBytes(3453658)).toBe('3.5 MB');
    expect(formatBytes(1.99e9)).toBe('1.99 GB');
    expect(formatBytes(21215)).toBe('21 kB');
    expect(formatBytes(undefined)).toBe('');
  });
});
