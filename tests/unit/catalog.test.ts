import { describe, expect, it } from 'vitest';
import { BUILTIN_MODEL, DEFAULT_MODEL_KEY, HUB_MODELS, SERVED_MODELS, userModelEntry } from '../../src/lib/catalog';
import { refKey } from '../../src/lib/model/ref';
import { variantLoadOptions } from '../../src/lib/variants/table';
import { summaryRows, medianMs } from '../../src/lib/page/summary';

describe('catalog', () => {
  it("has unique keys that match the refs, and defaults among each model's variants", () => {
    const all = [...HUB_MODELS, ...SERVED_MODELS];
    expect(new Set(all.map((m) => m.key)).size).toBe(all.length);
    for (const m of all) expect(m.key).toBe(refKey(m.ref));
    for (const m of HUB_MODELS) {
      const stems = m.variants!.map((v) => v.stem);
      for (const d of m.defaultVariants) expect(stems).toContain(d);
      expect(m.variants![0].stem).toBe('model');
    }
    // The first visit opens the trained built-in model: served by the site, so it works offline.
    expect(DEFAULT_MODEL_KEY).toBe(BUILTIN_MODEL.key);
    expect(BUILTIN_MODEL.ref).toEqual({ kind: 'served', id: 'aidreams260K' });
  });

  it('lists only files transformers.js loads by dtype name', () => {
    for (const m of HUB_MODELS)
      for (const v of m.variants!) expect(variantLoadOptions(v.stem).model_file_name).toBeUndefined();
  });

  it('marks the external-data files of Llama 3.2 1B and sizes SmolLM2-135M as the Hub lists them', () => {
    const llama = HUB_MODELS.find((m) => m.ref.id === 'onnx-community/Llama-3.2-1B-Instruct')!;
    expect(
      llama
        .variants!.filter((v) => v.externalData)
        .map((v) => v.stem)
        .sort(),
    ).toEqual(['model', 'model_fp16']);
    const smol = HUB_MODELS.find((m) => m.ref.id === 'HuggingFaceTB/SmolLM2-135M-Instruct')!;
    expect(Object.fromEntries(smol.variants!.map((v) => [v.stem, v.bytes]))).toEqual({
      model: 654e6,
      model_fp16: 327e6,
      model_q4: 200e6,
      model_q4f16: 134e6,
    });
  });

  it('turns a stored model into an entry with its variants', () => {
    const e = userModelEntry({
      id: 'aidreams260K',
      name: 'aidreams260K',
      source: 'llama2.c',
      files: [
        { path: 'onnx/model.onnx', bytes: 1e6 },
        { path: 'onnx/model_q4.onnx', bytes: 2e5 },
      ],
    });
    expect(e.key).toBe('local:aidreams260K');
    expect(e.variants!.map((v) => v.label)).toEqual(['fp32', 'q4']);
    expect(e.defaultVariants).toEqual(['model']);
  });
});

describe('summary figures', () => {
  it('keeps finished columns only and converts bytes to MB', () => {
    const timings = { loadMs: 10, ttftMs: 5, prefillTokensPerS: 800.04, decodeTokensPerS: 123.456, tokenMs: [1, 2] };
    expect(
      summaryRows([
        { label: 'fp32', timings, bytes: 3453658 },
        { label: 'q4', timings: null },
      ]),
    ).toEqual([{ label: 'fp32', decode: 123.5, prefill: 800, megabytes: 3.45 }]);
  });

  it('takes the median of per-token latencies', () => {
    expect(medianMs([])).toBeNull();
    expect(medianMs([5, 1, 3])).toBe(3);
    expect(medianMs([4, 1, 3, 2])).toBe(2.5);
  });
});
