import { describe, expect, it } from 'vitest';
// The one variant module: the table both ways (precision -> file stem -> variant), the manifest
// the quantizer writes and the page reads, and the labels the page shows.
import { describeBits, formatBytes, variantsFromFiles } from '../../src/lib/variants/info';
import {
  MANIFEST_PATH,
  encodeManifest,
  parseManifest,
  upsertManifest,
  type ManifestEntry,
} from '../../src/lib/variants/manifest';
import { DTYPES, resolveOptions } from '../../src/lib/variants/options';
import {
  FP32_STEM,
  stemOf,
  stemOfArg,
  variantFileName,
  variantFromStem,
  variantLoadOptions,
  variantNeedsFloat16,
} from '../../src/lib/variants/table';

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

  it('names the bit width, the method and the storage of low-bit MatMulNBits files', () => {
    const q3 = variantFromStem('model_q3nbits_hqq');
    expect(q3.label).toBe('q3 hqq (3-bit levels, 4-bit storage)');
    expect(q3.format).toBe('MatMulNBits 3-bit levels in 4-bit storage, float32 scales, HQQ');
    expect(q3.bitsPerWeight).toBe(3);
    const q2 = variantFromStem('model_q2f16nbits_b64_asym');
    expect([q2.label, q2.bitsPerWeight, q2.needsShaderF16]).toEqual(['q2f16 b64 asym', 2, true]);
    expect(q2.format).toBe('MatMulNBits 2-bit, float16 scales and activations, block 64');
    expect(variantFromStem('model_q4_hqq_b128').label).toBe('q4 hqq b128');
    // Fewer bits sort after more (the playground lists the highest precision first).
    expect(variantFromStem('model_q2nbits').rank).toBeGreaterThan(variantFromStem('model_q3nbits').rank);
    expect(variantFromStem('model_q3nbits').rank).toBeGreaterThan(variantFromStem('model_q4').rank);
  });
});

describe('manifest', () => {
  const quantizerShape = {
    version: 1,
    source: 'model.onnx',
    variants: [
      {
        file: 'model_q4.onnx',
        format: 'MatMulNBits 4-bit, block 32',
        options: { dtype: 'q4' },
        bytes: 1000,
        bitsPerWeight: 5.03,
      },
    ],
  };

  it('reads what the quantizer writes, from bytes or parsed JSON, and skips malformed entries', () => {
    const entry = {
      file: 'model_q4.onnx',
      format: 'f',
      options: resolveOptions({ dtype: 'q4' }),
      bytes: 1,
      bitsPerWeight: 5,
      bitsPerWeightQuantized: 4.5,
    } satisfies ManifestEntry;
    const written = upsertManifest(undefined, entry);
    expect(written.source).toBe(`${FP32_STEM}.onnx`);
    expect(parseManifest(encodeManifest(written))).toEqual(written);
    expect(parseManifest(quantizerShape)?.variants.map((e) => e.file)).toEqual(['model_q4.onnx']);
    expect(parseManifest({ version: 1, source: 'model.onnx', variants: [null, 3, { nofile: 1 }] })?.variants).toEqual(
      [],
    );
    // Only the quantizer's shape is a manifest: no version, or a map of files, is not.
    expect(parseManifest({ variants: quantizerShape.variants })).toBeUndefined();
    expect(parseManifest({ files: { 'onnx/model_q4.onnx': { bitsPerWeight: 4.5 } } })).toBeUndefined();
    expect(parseManifest('garbage')).toBeUndefined();
    expect(parseManifest(new TextEncoder().encode('{not json'))).toBeUndefined();
    expect(MANIFEST_PATH).toBe('onnx/quantlab-manifest.json');
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
    expect([q4.bitsPerWeight, q4.bitsMeasured, q4.format, q4.bytes]).toEqual([
      5.03,
      true,
      'MatMulNBits 4-bit, block 32',
      1000,
    ]);
    expect(describeBits(q4)).toBe('5.03 bit/weight');
    expect(describeBits(v[0])).toBe('≈32 bit');
    const withQuantized = variantsFromFiles([{ path: 'onnx/model_q4.onnx', bytes: 1000 }], {
      version: 1,
      variants: [{ file: 'model_q4.onnx', bitsPerWeight: 10.55, bitsPerWeightQuantized: 4.5 }],
    });
    expect(describeBits(withQuantized[0])).toBe('4.50 bit/weight, 10.55 overall');
  });

  it('describes bf16 as bf16 values in fp32 storage, not as 32 bit/weight', () => {
    const [bf16] = variantsFromFiles([{ path: 'onnx/model_bf16.onnx', bytes: 962992 }], {
      version: 1,
      variants: [{ file: 'model_bf16.onnx', bitsPerWeight: 33.352682436878744, bitsPerWeightQuantized: 32 }],
    });
    expect(describeBits(bf16)).toBe('bf16 values in fp32 storage (33.35 bit/weight overall)');
    const [nominal] = variantsFromFiles([{ path: 'onnx/model_bf16.onnx', bytes: 962992 }]);
    expect(describeBits(nominal)).toBe('bf16 values in fp32 storage');
  });

  it('flags variants whose weights live in .onnx_data, counting the chunks and their bytes', () => {
    const v = variantsFromFiles([
      { path: 'onnx/model.onnx', bytes: 524e3 },
      { path: 'onnx/model.onnx_data', bytes: 4.94e9 },
      { path: 'onnx/model_q4.onnx', bytes: 1000 },
      { path: 'onnx/model_q4.onnx_data', bytes: 2000 },
      { path: 'onnx/model_q4.onnx_data_1', bytes: 300 },
      { path: 'onnx/model_q4.onnx_data_2', bytes: 40 },
      // Not a chunk transformers.js would fetch: _3 is missing, so _4 is not counted.
      { path: 'onnx/model_q4.onnx_data_4', bytes: 5 },
      { path: 'onnx/model_bnb4.onnx', bytes: 700 },
    ]);
    expect(v.map((x) => [x.stem, x.externalData, x.bytes])).toEqual([
      ['model', 1, 524e3 + 4.94e9],
      ['model_bnb4', undefined, 700],
      ['model_q4', 3, 3340],
    ]);
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

describe('the table both ways', () => {
  it("names every precision's default file and reads it back as that precision", () => {
    expect(stemOf('fp32')).toBe(FP32_STEM);
    for (const dtype of DTYPES) {
      const stem = stemOf(dtype)!;
      expect(variantFileName({ dtype })).toBe(`${stem}.onnx`);
      expect(variantFromStem(stem).label).toBe(dtype);
    }
    expect(stemOf('q3')).toBeUndefined();
  });

  it('takes a precision name or a file stem as a command-line argument', () => {
    expect(stemOfArg('q8')).toBe('model_quantized');
    expect(stemOfArg('model_q4_b128')).toBe('model_q4_b128');
    expect(stemOfArg('q3')).toBeUndefined();
  });

  it('loads transformers.js names by dtype and every other file by name', () => {
    expect(variantLoadOptions(FP32_STEM)).toEqual({ dtype: 'fp32' });
    expect(variantLoadOptions('model_quantized')).toEqual({ dtype: 'q8' });
    expect(variantLoadOptions('model_bf16')).toEqual({ dtype: 'fp32', model_file_name: 'model_bf16' });
    expect(variantLoadOptions('model_q4_b128')).toEqual({ dtype: 'fp32', model_file_name: 'model_q4_b128' });
  });

  it('hands transformers.js the .onnx_data chunks of a variant that has them, by the names its tensors give', () => {
    expect(variantLoadOptions(FP32_STEM, 1)).toEqual({
      dtype: 'fp32',
      use_external_data_format: false,
      session_options: { externalData: [{ path: 'model.onnx_data', data: 'onnx/model.onnx_data' }] },
    });
    expect(variantLoadOptions('model_ext', 3)).toEqual({
      dtype: 'fp32',
      model_file_name: 'model_ext',
      use_external_data_format: false,
      session_options: {
        externalData: [
          { path: 'model_ext.onnx_data', data: 'onnx/model_ext.onnx_data' },
          { path: 'model_ext.onnx_data_1', data: 'onnx/model_ext.onnx_data_1' },
          { path: 'model_ext.onnx_data_2', data: 'onnx/model_ext.onnx_data_2' },
        ],
      },
    });
    expect(variantLoadOptions('model_q4', 0)).toEqual({ dtype: 'q4' });
  });

  it('marks float16-computing files and their descendants, whatever their name parts', () => {
    for (const stem of ['model_fp16', 'model_q4f16', 'model_q4f16_b64_asym', 'model_q8f16nbits'])
      expect(variantNeedsFloat16(stem), stem).toBe(true);
    for (const stem of ['model', 'model_q4', 'model_q8nbits', 'model_bf16', 'decoder_model_merged'])
      expect(variantNeedsFloat16(stem), stem).toBe(false);
    expect(variantNeedsFloat16(variantFileName({ dtype: 'q4f16', bits: 8, blockSize: 64 }).replace('.onnx', ''))).toBe(
      true,
    );
  });
});
